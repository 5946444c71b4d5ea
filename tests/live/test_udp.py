"""Live lab, UDP: dnsmasq and echo responders, drops, rejects, and the kernel's ICMP rate limit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import UDP_1024, UDP_RATE_LIMITED
from tests.support.rawscan_cli import port_states, rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]


def udp_scan(lab: Lab, tmp_path: Path, ports: str, *extra: str) -> tuple[dict[int, tuple[str, str]], str]:
    out = tmp_path / "udp.jsonl"
    proc = lab.exec_scanner([rawscan_command(), "udp", lab.target_ip, "-p", ports, "-oJ", str(out), *extra],
                            timeout=240)
    assert proc.returncode == 0, proc.stderr
    return port_states(read_jsonl(out)), proc.stdout


def test_udp_1024_ports_with_the_icmp_limit_lifted(tmp_path: Path) -> None:
    with Lab(UDP_1024.spec()) as lab:
        states, stdout = udp_scan(lab, tmp_path, UDP_1024.port_list(), "--rate", "20000")
    assert states == UDP_1024.expected()
    assert "53/udp" in stdout and "domain" in stdout
    assert "rate limiting" not in stdout


def test_udp_with_the_default_icmp_rate_limit(tmp_path: Path) -> None:
    with Lab(UDP_RATE_LIMITED.spec(lift_icmp_ratelimit=False)) as lab:
        states, stdout = udp_scan(lab, tmp_path, UDP_RATE_LIMITED.port_list())
    assert states == UDP_RATE_LIMITED.expected()
    assert "ICMP rate limiting seen" in stdout


def test_several_source_addresses_beat_the_rate_limit(tmp_path: Path) -> None:
    extra = tuple(f"198.18.0.{i}" for i in range(3, 10))
    with Lab(UDP_RATE_LIMITED.spec(lift_icmp_ratelimit=False, scanner_extra_ips=extra)) as lab:
        states, stdout = udp_scan(lab, tmp_path, UDP_RATE_LIMITED.port_list(), "-S", "198.18.0.1,198.18.0.3-9")
    assert states == UDP_RATE_LIMITED.expected()
    seconds = float(stdout.rsplit("scanned in ", 1)[1].split()[0])
    assert seconds < 15  # one address alone needs about 35 s for these 40 closed ports


def test_recorded_udp_scan_replays(tmp_path: Path) -> None:
    capture = tmp_path / "udp.pcap"
    with Lab(UDP_1024.spec()) as lab:
        live, _ = udp_scan(lab, tmp_path, "1-200,1900", "--pcap", str(capture))
    replayed = tmp_path / "replayed.jsonl"
    proc = subprocess.run([rawscan_command(), "replay", str(capture), "-oJ", str(replayed)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert port_states(read_jsonl(replayed)) == live
