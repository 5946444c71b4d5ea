"""Huge inputs: a scan of more than 2^24 probes (hosts x ports) asks first, or is refused with a
line naming --allow-large; a capture of any size is read in flat memory, gzip'd or not.

Nothing here sends: the scan commands run in process under tests/support/no_send.py's guards (or in a
child process that installs the same guards), against loopback targets.
"""

from __future__ import annotations

import gzip
import os
import pty
import select
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawscan.bench.pcapgen import ACK, PSH, RST, SYN, PcapWriter, tcp
from rawscan.capture import read_ip_packets
from rawscan.errors import RawscanError
from rawscan.limits import LARGE_PROBE_LIMIT, confirm_large_scan, is_large

from tests.support.no_send import run_cli
from tests.support.paths import REPO
from tests.support.rawscan_cli import rawscan_command

# --- the rule ------------------------------------------------------------------------------


def test_the_limit_counts_probes_not_addresses() -> None:
    assert not is_large(2**24, 1) and is_large(2**24, 2)
    assert not is_large(256, 65535)  # -p- against a /24: 16,776,960 probes
    assert is_large(512, 65535) and is_large(65536, 65535)  # a /23, a /16
    assert LARGE_PROBE_LIMIT == 2**24


def test_without_a_terminal_a_large_scan_is_refused_naming_the_flag() -> None:
    with pytest.raises(RawscanError, match=r"4,294,901,760 probes \(65,536 host\(s\) x 65,535 "
                                           r"port\(s\)\).*--allow-large"):
        confirm_large_scan(65536, 65535, 5000.0, allow_large=False, ask=None)
    confirm_large_scan(65536, 65535, 5000.0, allow_large=True, ask=None)  # no error


def test_a_terminal_is_asked_and_only_yes_starts_it() -> None:
    questions: list[str] = []

    def answer(reply: bool):  # type: ignore[no-untyped-def]
        def ask(question: str) -> bool:
            questions.append(question)
            return reply
        return ask

    with pytest.raises(RawscanError, match="not started"):
        confirm_large_scan(65536, 65535, 5000.0, allow_large=False, ask=answer(False))
    confirm_large_scan(65536, 65535, 5000.0, allow_large=False, ask=answer(True))
    assert len(questions) == 2 and "10 days at --rate 5000" in questions[0]
    confirm_large_scan(256, 1000, 5000.0, allow_large=False, ask=answer(False))  # small: no question
    confirm_large_scan(65536, 65535, 5000.0, allow_large=True, ask=answer(False))  # the flag: none
    assert len(questions) == 2
    # no --rate: the adaptive rate's ceiling is the fastest it can go, and is named as that
    confirm_large_scan(65536, 65535, 300_000.0, allow_large=False, ask=answer(True), adaptive=True)
    assert "4.0 h at its ceiling of 300000/s" in questions[2]


# --- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("argv, allowed", [
    (["syn", "127.0.0.0/16", "-p-"], False),  # the example: 2^32 probes
    (["syn", "127.0.0.0/16", "-p-", "--allow-large"], True),
    (["syn", "127.0.0.0/8", "-p", "80"], True),  # 2^24 exactly: not more than the limit
    (["syn", "127.0.0.0/8", "-p", "80,443"], False),
    (["udp", "127.0.0.0/24", "-p-"], True),  # 16,776,960
    (["udp", "127.0.0.0/23", "-p-"], False),
    (["syn", "-iL", "-", "-p-"], False),  # targets on stdin: stdin cannot answer a question
])
def test_large_scans_from_the_command_line(argv: list[str], allowed: bool) -> None:
    kind, value, stderr = run_cli(argv, stdin="127.0.0.0/16\n")
    if allowed:
        assert kind == "plan", (kind, value, stderr)
        return
    assert (kind, value) == ("exit", 2), (kind, value, stderr)
    assert "probes" in stderr and "--allow-large" in stderr


# A child process with the same guards, run on a pseudo-terminal so the question is asked.
_GUARDED_MAIN = """
import sys
from tests.support.no_send import WouldSend, never_sending
from rawscan.cli import app
sys.argv[0] = "rawscan"
try:
    with never_sending():
        app()
except WouldSend:
    print("WOULD-SEND", file=sys.stderr, flush=True)
    sys.exit(99)
"""


def _on_a_terminal(argv: list[str], reply: bytes) -> tuple[int, str, bytes]:
    """(exit code, what the terminal showed, stdout) of a guarded rawscan answering `reply`."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", _GUARDED_MAIN, *argv], stdin=slave,
                            stderr=slave, stdout=subprocess.PIPE, env=env)
    os.close(slave)
    shown = b""
    try:
        deadline = time.monotonic() + 60
        answered = False
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(master, reply)
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert answered, shown
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, shown.decode(errors="replace"), stdout


@pytest.mark.parametrize("reply, started", [(b"n\n", False), (b"\n", False), (b"y\n", True)])
def test_on_a_terminal_the_user_is_asked(reply: bytes, started: bool) -> None:
    code, shown, stdout = _on_a_terminal(["syn", "127.0.0.0/16", "-p-", "-q", "-oJ", "-"], reply)
    assert "4,294,901,760 probes" in shown and "[y/N]" in shown
    assert stdout == b""  # the question never goes to stdout, which carries -oJ -
    if started:
        assert code == 99 and "WOULD-SEND" in shown  # past the question, at the transport
    else:
        assert code == 2 and "rawscan: error: not started" in shown and "WOULD-SEND" not in shown


# --- captures much bigger than memory needs ------------------------------------------------

SCANNER, TARGET, CLIENT = 0xC6120001, 0xC6120002, 0xC6120003  # 198.18.0.1, .2, .3
SCAN_PORTS = 1000
T0 = 1_800_000_000.0
# RAWSCAN_HUGE_CAPTURE_MB=2048 measures a 2 GB capture against the 20 MB one (~2 minutes).
SMALL_MB, BIG_MB = 20, int(os.environ.get("RAWSCAN_HUGE_CAPTURE_MB", "80"))
RSS_MARGIN_KB = 8 * 1024  # reading the whole file would add (BIG_MB - SMALL_MB) MB


def write_capture(path: Path, megabytes: int) -> None:
    """A SYN scan of SCAN_PORTS ports (half open, half closed), then ordinary HTTPS-sized
    traffic on one connection until the file has `megabytes`: the results are the same for
    every size, only the bulk grows."""
    payload = os.urandom(1400)
    with open(path, "wb") as out:
        w = PcapWriter(out)
        t = T0
        for port in range(1, SCAN_PORTS + 1):
            w.write(t, tcp(SCANNER, TARGET, 40000, port, SYN, seq=port))
            flags = SYN | ACK if port % 2 else RST | ACK
            w.write(t + 0.0005, tcp(TARGET, SCANNER, port, 40000, flags, seq=7, ack=port + 1))
            t += 0.001
        w.write(t, tcp(CLIENT, TARGET, 50000, 443, SYN, seq=1))
        w.write(t, tcp(TARGET, CLIENT, 443, 50000, SYN | ACK, seq=9, ack=2))
        seq = 2
        while out.tell() < megabytes << 20:
            t += 0.0001
            w.write(t, tcp(CLIENT, TARGET, 50000, 443, ACK | PSH, seq=seq, ack=10, payload=payload))
            seq += len(payload)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    base = tmp_path_factory.mktemp("huge")
    files: dict[str, Path] = {}
    try:
        for name, megabytes in (("small", SMALL_MB), ("big", BIG_MB)):
            files[name] = base / f"{name}.pcap"
            write_capture(files[name], megabytes)
            files[f"{name}.gz"] = base / f"{name}.pcap.gz"
            with open(files[name], "rb") as raw, gzip.open(files[f"{name}.gz"], "wb", 1) as packed:
                while chunk := raw.read(1 << 20):
                    packed.write(chunk)
        yield files
    finally:
        for path in files.values():
            path.unlink(missing_ok=True)


_MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def analyze_peak_rss(capture: Path, out: Path) -> int:
    """Peak RSS (KiB) of `rawscan analyze` in a child of a fresh process (RUSAGE_CHILDREN is
    the largest child's, so each measurement needs its own parent)."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, rawscan_command(), "analyze", str(capture), "-q",
         "--scanners-only", "-oJ", str(out)],
        capture_output=True, text=True, timeout=600)
    code, peak = proc.stdout.split()
    assert code == "0", proc.stderr
    return int(peak)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_analyze_memory_does_not_grow_with_the_capture(captures: dict[str, Path], tmp_path: Path,
                                                       suffix: str) -> None:
    small, big = captures["small" + suffix], captures["big" + suffix]
    rss = {name: analyze_peak_rss(path, tmp_path / f"{name}.jsonl")
           for name, path in (("small", small), ("big", big))}
    grown_mb = (captures["big"].stat().st_size - captures["small"].stat().st_size) >> 20
    assert rss["big"] - rss["small"] < RSS_MARGIN_KB, (rss, f"{grown_mb} MB more capture")
    small_results = (tmp_path / "small.jsonl").read_text().splitlines()
    assert len(small_results) == SCAN_PORTS  # every port, from either size: nothing lost
    assert (tmp_path / "big.jsonl").read_text().splitlines() == small_results


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_the_reader_holds_one_record_at_a_time(captures: dict[str, Path], suffix: str) -> None:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_ip_packets(str(captures["big" + suffix])))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count > BIG_MB * 700  # ~1,470-byte records: the whole file was read
    assert peak < 2 << 20, peak  # a 64 KiB chunk, a record, gzip's window: not the file
