"""Issue 13, Low items: advice, closed standard streams, absurd numbers, broadcast targets,
a refused --pcap's files, capture bombs and absurd pcapng offsets, huge target files.
Scans here go to loopback only, or to a namespace this test makes (a broadcast address is
refused before any probe)."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import uuid
import zlib
from pathlib import Path

import pytest

from rawscan import capture
from rawscan.capture import CaptureTruncated, read_ip_packets

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import one_error_line, rawscan_command

SYN = PCAPS / "syn-every-reply-kind.pcap"

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets and namespaces need root")


def rawscan(*args: str, cwd: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env={**os.environ, "SUDO_UID": "", "SUDO_GID": ""}, **kw)


# --- the exit-77 advice ---------------------------------------------------------------------


def test_privilege_advice_never_suggests_setcap_on_a_shared_interpreter(tmp_path: Path) -> None:
    from rawscan.privileges import privilege_advice

    shared = tmp_path / "usr" / "bin" / "python3.11"
    shared.parent.mkdir(parents=True)
    shared.touch()
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").symlink_to(shared)  # what `python3 -m venv` makes by default
    for executable, prefix, base in ((str(shared), str(shared.parents[1]), str(shared.parents[1])),
                                     (str(venv / "bin" / "python3"), str(venv), str(shared.parents[1]))):
        advice = privilege_advice("rawscan syn x", executable, prefix, base)
        assert "sudo rawscan syn x" in advice and "\n" not in advice
        assert f"setcap cap_net_raw+ep {shared}" not in advice, advice
        assert "--copies" in advice and "every script" in advice
    copy = venv / "bin" / "python3"
    copy.unlink()
    copy.touch()  # `python3 -m venv --copies`: the environment's own interpreter
    advice = privilege_advice("rawscan syn x", str(copy), str(venv), str(shared.parents[1]))
    assert f"setcap cap_net_raw+ep {copy}" in advice


# --- stdout or stderr closed ----------------------------------------------------------------


@pytest.mark.parametrize("closed", [1, 2])
@pytest.mark.parametrize("args", [["--help"], ["analyze", str(SYN)], ["replay", str(SYN), "-q"],
                                  ["syn", "127.0.0.1", "-p", "1", "--timeout", "inf"]])
def test_a_closed_stdout_or_stderr_is_one_clean_exit(closed: int, args: list[str]) -> None:
    """`rawscan ... >&-` was a traceback (sys.stdout is None) and exit 1."""
    read_end, write_end = os.pipe()  # what the program says on the stream left open
    proc = subprocess.Popen([rawscan_command(), *args], stdin=subprocess.DEVNULL,
                            stdout=write_end, stderr=write_end, pass_fds=(),
                            preexec_fn=lambda: os.close(closed),
                            env={**os.environ, "SUDO_UID": ""})
    os.close(write_end)
    with os.fdopen(read_end) as f:
        said = f.read()
    code = proc.wait(timeout=60)
    assert "Traceback" not in said, said
    bad_input = "inf" in args
    assert code == (2 if bad_input else 0), (code, said)
    if closed == 1:  # said on stderr: one warning, plus the error line of bad input
        lines = said.strip().splitlines()
        assert lines[0] == "rawscan: warning: stdout is closed: what would be written there is lost"
        assert len(lines) == (2 if bad_input else 1), said


def test_a_closed_stdout_never_gets_an_output_file(tmp_path: Path) -> None:
    """With descriptor 1 closed, the next file opened would take it: the report went there."""
    out = tmp_path / "a.jsonl"
    proc = subprocess.run([rawscan_command(), "replay", str(SYN), "-oJ", str(out)],
                          stderr=subprocess.PIPE, text=True, timeout=60,
                          preexec_fn=lambda: os.close(1), env={**os.environ, "SUDO_UID": ""})
    assert proc.returncode == 0, proc.stderr
    assert all(line.startswith("{") for line in out.read_text().splitlines())


# --- absurd finite numbers ------------------------------------------------------------------


@pytest.mark.parametrize("option", [["--timeout", "1e10"], ["--timeout", "1e300"],
                                    ["--rate", "1e300"], ["--max-rate", "1e300"]])
def test_absurd_finite_rates_and_timeouts_are_one_line(option: list[str]) -> None:
    """`--timeout 1e10` waited 317 years for a silent port (was an OverflowError in select)."""
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", *option)
    one_error_line(proc, option[0], "at most")


# --- a broadcast address --------------------------------------------------------------------


@as_root
def test_a_broadcast_target_is_named_as_one() -> None:
    """Was `no route to 198.18.7.255: Permission denied (give -S or -e)`."""
    ns = f"rs-bcast-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for argv in (["link", "set", "lo", "up"],
                     ["link", "add", "b0", "type", "veth", "peer", "name", "b1"],
                     ["addr", "add", "198.18.7.1/24", "dev", "b0"],
                     ["link", "set", "b0", "up"], ["link", "set", "b1", "up"]):
            subprocess.run(["ip", "-n", ns, *argv], check=True)
        proc = subprocess.run(["ip", "netns", "exec", ns, rawscan_command(), "syn", "198.18.7.255",
                               "-p", "1", "-q", "--resume-file", "/dev/null"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        one_error_line(proc, "198.18.7.255 is a broadcast address")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


# --- a refused --pcap leaves nothing behind -------------------------------------------------


@as_root
def test_a_refused_scan_leaves_no_recording_behind(tmp_path: Path) -> None:
    """The resume file is refused after the recording's files were made: they were left."""
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", "--pcap", "b.pcap",
                   "--resume-file", "/proc/nope/x", cwd=tmp_path)
    one_error_line(proc, "/proc/nope/x")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "b.pcap").write_bytes(b"mine")  # one that was there before stays
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", "--pcap", "b.pcap", "--force",
                   "--resume-file", "/proc/nope/x", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.pcap"]
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", "--pcap", "c.pcap", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # a scan that ran keeps its recording
    assert {"c.pcap", "c.pcap.json"} <= {p.name for p in tmp_path.iterdir()}


# --- capture bombs --------------------------------------------------------------------------


def _gzip_bomb(path: Path, inflated: int) -> int:
    """A valid pcap of one repeated frame: deflate packs it about 1000x. Its record count."""
    frame = bytes.fromhex("020000000002020000000001080045000028000100004006000098120002"
                          "98120001005038400000000000000000500220000000000000")
    record = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    count = inflated // len(record)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as f:
        f.write(packer.compress(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)))
        chunk = record * 1000
        for _ in range(count // 1000):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    return count // 1000 * 1000


def test_a_gzip_bomb_is_read_no_further_than_its_bound(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Was ~28 s of CPU per compressed MB, reading on to the end."""
    monkeypatch.setattr(capture, "GZIP_FREE_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.pcap.gz"
    records = _gzip_bomb(bomb, 16 << 20)
    assert bomb.stat().st_size * capture.GZIP_MAX_RATIO < 16 << 20
    got = 0
    with pytest.raises(CaptureTruncated) as info:
        for _ in read_ip_packets(str(bomb)):
            got += 1
    assert "gzip bomb" in str(info.value) and "bomb.pcap.gz" in str(info.value)
    assert 0 < got < records // 4


def test_real_gzip_captures_are_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "GZIP_FREE_BYTES", 0)  # the ratio alone decides
    for name in ("analyze-nmap-dual.pcap", "analyze-masscan.pcap", "syn-every-reply-kind.pcap"):
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress((PCAPS / name).read_bytes(), 9))
        plain = [(p.number, p.ip) for p in read_ip_packets(str(PCAPS / name))]
        assert [(p.number, p.ip) for p in read_ip_packets(str(packed))] == plain


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_an_absurd_pcapng_tsoffset_is_ignored_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """if_tsoffset 2^62: a float keeps no second of the times, so every reply came 'at once'
    and 199 of 200 ports were filtered."""
    ip = bytes.fromhex("4500002800010000400600009812000298120001005038400000000000000000"
                       "5012200000000000")
    offset = struct.pack("<HHq", 14, 8, 2**62) + struct.pack("<HH", 0, 0)
    epbs = b"".join(_block(6, struct.pack("<IIIII", 0, 0, t * 250_000, len(ip), len(ip)) + ip)
                    for t in range(4))
    path = tmp_path / "offset.pcapng"
    path.write_bytes(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                     + _block(1, struct.pack("<HHI", 101, 0, 0) + offset) + epbs)
    times = [p.time for p in read_ip_packets(str(path))]
    assert times == [0.0, 0.25, 0.5, 0.75]
    err = capsys.readouterr().err
    assert "offset.pcapng" in err and "if_tsoffset" in err and len(err.splitlines()) == 1


# --- -iL of a million lines -----------------------------------------------------------------


def test_plain_addresses_skip_the_pattern_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A million -iL lines took 36 s before the first probe, 29 s of it in the octet-pattern
    parser (a set per octet) for lines that are one address each."""
    import random

    from rawscan import targets
    from rawscan.targets import TargetError, parse_targets

    rng = random.Random(13)
    plain = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(2000)]
    plain += ["0.0.0.1", "255.255.255.255", "9.99.199.249"]
    expected = parse_targets(plain, allow_large=True).ranges

    def slow(_spec: str) -> object:
        raise AssertionError("a plain address went through the pattern parser")

    monkeypatch.setattr(targets, "_octet_pattern", slow)
    assert parse_targets(plain, allow_large=True).ranges == expected
    assert len(parse_targets(plain, allow_large=True)) == len(set(plain))
    monkeypatch.undo()
    for bad in ("01.2.3.4", "256.1.1.1", "1.2.3.4.5", "1.2.3.", "1.2.3.\u0664"):
        with pytest.raises(TargetError):
            parse_targets([bad])


def test_a_resume_file_holds_the_bounds_of_a_live_scan(tmp_path: Path) -> None:
    """A resume file whose plan asks --timeout 1e5 (a sidecar may say that) is one error line."""
    import dataclasses

    from rawscan.errors import RawscanError
    from rawscan.plan import ScanPlan
    from rawscan.resume import load_resume, write_resume
    from rawscan.targets import TargetSet

    plan = ScanPlan(scan="syn", targets=TargetSet(((0x7F000001, 0x7F000001),)), ports=(22,),
                    seed=1, sources=(0x7F000001,), source_port=40000)
    good, bad = tmp_path / "good.resume", tmp_path / "bad.resume"
    write_resume(str(good), plan, b"\0")
    assert load_resume(str(good))[0] == plan
    write_resume(str(bad), dataclasses.replace(plan, timeout=1e5), b"\0")
    with pytest.raises(RawscanError, match="--timeout 100000 is more than any scan can use"):
        load_resume(str(bad))
