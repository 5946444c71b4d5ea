"""Building small captures for rawscan analyze tests, and reading its results back."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rawscan.analyze.flows import FlowAnalyzer, Observations
from rawscan.analyze.report import ObservedPort, all_results
from rawscan.bench.pcapgen import PcapWriter
from rawscan.capture import BATCH_BYTES, CaptureDamaged, CaptureError, open_capture, read_ip_packets

A, B, C, ROUTER = 0xC6120001, 0xC6120002, 0xC6120003, 0xC612FE01  # 198.18.0.1, .2, .3, .254.1
T0 = 1_800_000_000.0


def write_pcap(path: Path, packets: Iterable[bytes | tuple[float, bytes]]) -> Path:
    """Packets 1 ms apart unless given as (time, packet)."""
    with open(path, "wb") as out:
        w = PcapWriter(out)
        for i, item in enumerate(packets):
            t, packet = item if isinstance(item, tuple) else (T0 + i * 0.001, item)
            w.write(t, packet)
    return path


def analyze(path: Path) -> Observations:
    analyzer = FlowAnalyzer()
    analyzer.feed(read_ip_packets(str(path)))
    return analyzer.observations


def results(obs: Observations) -> dict[tuple[str, str, str, int], ObservedPort]:
    """(scanner, target, proto, port) -> result."""
    return {(r.scanner, r.ip, r.proto, r.port): r for r in all_results(obs)}


def run_analyze(*args: str) -> tuple[int, str, str]:
    """`rawscan analyze ARGS` in this process (the corpus and fuzz tests run it thousands of
    times): (exit code, stdout, stderr). Anything but a clean exit propagates."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _command().main(args=["analyze", *args], prog_name="rawscan", standalone_mode=False)
    return int(code or 0), out.getvalue(), err.getvalue()


def _command():  # type: ignore[no-untyped-def]
    global _CLICK_COMMAND
    if _CLICK_COMMAND is None:
        import typer.main

        from rawscan.cli import app

        _CLICK_COMMAND = typer.main.get_command(app)  # built once: typer rebuilds it per call
    return _CLICK_COMMAND


_CLICK_COMMAND = None


def read_bulk(path: Path, ahead: int = BATCH_BYTES) -> tuple[list[tuple[int, float, bytes]], str | None]:
    """Packets as rawscan analyze reads them (batches of `ahead` bytes, link headers stripped
    in bulk): (frame number, time, IP bytes) each, and the CaptureError message it ends with."""
    from rawscan.analyze.batches import columns

    got: list[tuple[int, float, bytes]] = []
    try:
        capture = open_capture(str(path), ahead)
    except CaptureError as exc:
        return got, str(exc)
    try:
        for batch in capture.batches:
            cols = columns(batch, capture.pcap)
            got += [(n, t, cols.packet(i)) for i, (n, t) in
                    enumerate(zip(cols.numbers.tolist(), cols.times.tolist()))]
    except CaptureDamaged as exc:
        return got, str(exc.truncated(str(path), len(got)))
    finally:
        capture.close()
    return got, None
