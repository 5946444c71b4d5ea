"""Live lab: the installed rawscan command scans a namespace target and gets every port right."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import SYN_2000, SYN_SMALL
from tests.support.rawscan_cli import port_states, rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]


def scan(lab: Lab, tmp_path: Path, ports: str, *extra: str) -> tuple[dict[int, tuple[str, str]], list[dict[str, object]], str]:
    out = tmp_path / "scan.jsonl"
    proc = lab.exec_scanner(
        [rawscan_command(), "syn", lab.target_ip, "-p", ports, "-oJ", str(out), *extra], timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    records = read_jsonl(out)
    return port_states(records), records, proc.stdout


def test_2000_ports_every_reply_kind(tmp_path: Path) -> None:
    with Lab(SYN_2000.spec()) as lab:
        states, records, stdout = scan(lab, tmp_path, "1-2000", "--rate", "20000")
    assert states == SYN_2000.expected()
    assert all(r["ttl"] == 64 for r in records if r["state"] == "open")
    assert all(r["ip"] == "198.18.0.2" and r["proto"] == "tcp" for r in records)
    closed = sum(1 for s, _r in states.values() if s == "closed")
    assert f"Not shown: {closed} closed tcp ports (reset)" in stdout
    assert "22/tcp" in stdout and "ssh" in stdout


def test_five_percent_reply_loss_costs_no_accuracy(tmp_path: Path) -> None:
    with Lab(SYN_2000.spec(loss_percent=5)) as lab:
        states, _records, stdout = scan(lab, tmp_path, "1-2000", "--rate", "20000")
    assert states == SYN_2000.expected()
    assert "retransmitted" in stdout


def test_recorded_scan_replays_to_the_same_results(tmp_path: Path) -> None:
    capture = tmp_path / "scan.pcap"
    with Lab(SYN_SMALL.spec()) as lab:
        live, _records, _stdout = scan(lab, tmp_path, "1-200", "--pcap", str(capture))
    assert live == SYN_SMALL.expected()
    import subprocess

    replayed = tmp_path / "replay.jsonl"
    proc = subprocess.run([rawscan_command(), "replay", str(capture), "-oJ", str(replayed)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert port_states(read_jsonl(replayed)) == live


def test_ctrl_c_keeps_what_was_learned(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    out = tmp_path / "partial.jsonl"
    with Lab(SYN_2000.spec()) as lab:
        argv = ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn", lab.target_ip,
                "-p", "1-2000", "--rate", "400", "-oJ", str(out)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path)  # where the resume file goes
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 25):
                time.sleep(0.05)  # until some results have been streamed out
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "Interrupted" in stdout
    assert (tmp_path / "rawscan.resume").exists() and "rawscan resume rawscan.resume" in stdout
    partial = port_states(read_jsonl(out))
    expected = SYN_2000.expected()
    assert 20 <= len(partial) < 2000
    assert all(expected[port] == state for port, state in partial.items())


def test_interface_option_sends_and_receives_on_that_interface(tmp_path: Path) -> None:
    with Lab(SYN_SMALL.spec()) as lab:
        states, _records, _stdout = scan(lab, tmp_path, "1-200", "-e", lab.scanner_iface)
        assert states == SYN_SMALL.expected()
        wrong = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", "22", "-e", "lo", "-q"])
    # bound to loopback, nothing reaches the target: every port stays silent
    assert wrong.returncode == 0 and "filtered" in wrong.stdout and "open" not in wrong.stdout.split("PORT")[-1]
