"""Bad input and missing privilege: one clear line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import one_error_line, rawscan, rawscan_command
from tests.support.syn_recording import SYN


def run(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, rawscan_command(), *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rawscan: error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["syn", "198.18.0.300", "-p", "22"], ["198.18.0.300"]),
        (["syn", "198.18.0.2", "-p", "70000"], ["70000"]),
        (["syn", "198.18.0.2", "-p", "80-22"], ["80-22"]),
        (["syn", "198.18.0.2", "-p", "ssh"], ["ssh"]),
        (["syn", "nosuch.invalid", "-p", "22"], ["nosuch.invalid"]),
        (["syn", "-p", "22"], ["no targets"]),
        (["syn", "198.18.0.2", "-p", "U:53"], ["UDP ports too", "rawscan udp"]),
        (["udp", "198.18.0.2", "-p", "T:80,U:53"], ["TCP ports too", "rawscan syn"]),
        (["udp", "198.18.0.2", "--data-hex", "zz", "-p", "53"], ["zz"]),
        (["syn", "198.18.0.2", "--data-string", "x", "-p", "53"], ["UDP"]),
        (["udp", "198.18.0.2", "-S", "198.18.0.x", "-p", "53"], ["198.18.0.x"]),
        (["syn", "0.0.0.0/0", "-p", "22"], ["--allow-large"]),
        (["syn", "198.18.0.2", "--exclude", "198.18.0.2", "-p", "22"], ["no targets"]),
        (["syn", "-iL", "/nonexistent/hosts", "-p", "22"], ["/nonexistent/hosts"]),
    ],
)
def test_bad_scan_input(args: list[str], words: list[str]) -> None:
    assert_one_line_error(run(*args), 2, *words)


def test_replay_of_missing_capture() -> None:
    assert_one_line_error(run("replay", "/nonexistent/scan.pcap"), 2, "/nonexistent/scan.pcap")


def test_replay_of_corrupt_capture(tmp_path: Path) -> None:
    capture = tmp_path / "scan.pcap"
    capture.write_bytes(b"this is not a pcap at all" * 10)
    sidecar = PCAPS / "syn-every-reply-kind.pcap.json"
    shutil.copy(sidecar, f"{capture}.json")
    assert_one_line_error(run("replay", str(capture)), 2, "scan.pcap")


def test_replay_with_corrupt_sidecar(tmp_path: Path) -> None:
    capture = tmp_path / "scan.pcap"
    capture.write_bytes(b"")
    Path(f"{capture}.json").write_text("{not json")
    assert_one_line_error(run("replay", str(capture)), 2, "scan.pcap.json")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to take CAP_NET_RAW away")
def test_without_cap_net_raw_even_as_root() -> None:
    # uid 0 but CAP_NET_RAW removed from the bounding set: the effective set decides.
    proc = run("syn", "127.0.0.1", "-p", "22", prefix=("setpriv", "--bounding-set=-net_raw"))
    assert_one_line_error(proc, 77, "CAP_NET_RAW", "sudo ")


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
