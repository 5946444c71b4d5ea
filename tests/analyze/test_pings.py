"""rawscan analyze recognises ping sweeps (rawscan/analyze/pings.py): nmap -sn's and rawscan
ping's recordings of the discovery lab give the hosts' verdicts; port scans give none."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan_command, read_jsonl
from tools.record_discovery_pcaps import nmap_host_states



def _host_records(capture: Path, tmp_path: Path) -> dict[str, dict[str, object]]:
    out = tmp_path / "a.jsonl"
    r = subprocess.run([rawscan_command(), "analyze", str(capture), "-q", "-oJ", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    hosts = [rec for rec in read_jsonl(out) if "status" in rec]
    assert len({str(h["ip"]) for h in hosts}) == len(hosts)
    return {str(h["ip"]): h for h in hosts}


def test_nmap_sn_recording_gives_nmaps_verdicts(tmp_path: Path) -> None:
    nmap = {**nmap_host_states(PCAPS / "analyze-nmap-sn.nmap4.xml"),
            **nmap_host_states(PCAPS / "analyze-nmap-sn.nmap6.xml")}
    got = _host_records(PCAPS / "analyze-nmap-sn.pcap", tmp_path)
    assert {ip: h["status"] for ip, h in got.items()} == {ip: nmap[ip] for ip in got}
    # every host nmap found up is in the capture; the down ones nmap never reached (no ARP
    # answer: its probes never left) are the only ones missing
    assert {ip for ip, s in nmap.items() if s == "up"} <= set(got)
    assert set(nmap) - set(got) == {"198.18.0.50", "2001:2::50"}
    assert got["198.18.20.5"]["reason"] == "host-unreach"
    assert got["198.18.10.1"]["reason"] == "syn-ack"  # drops echo: its SYN to 443 answered


def test_rawscan_ping_recording_gives_its_verdicts(tmp_path: Path) -> None:
    capture = PCAPS / "ping-every-host-kind.pcap"
    want = {str(r["ip"]): r for r in read_jsonl(capture.with_suffix(".expected.jsonl"))}
    got = _host_records(capture, tmp_path)
    assert {ip: h["status"] for ip, h in got.items()} == {ip: want[ip]["status"] for ip in got}
    silent = {ip for ip, r in want.items() if r["status"] == "down" and r["reason"] == "no-response"}
    assert set(want) - set(got) <= silent  # probes that never left (no ARP answer) are not seen
    for ip, h in got.items():
        if h["status"] == "down" and want[ip]["reason"] != "no-response":
            assert h["reason"] == want[ip]["reason"]


@pytest.mark.parametrize("name", ["syn-every-reply-kind.pcap", "udp-every-reply-kind.pcap",
                                  "analyze-masscan.pcap"])
def test_port_scans_are_no_ping_sweeps(name: str, tmp_path: Path) -> None:
    assert _host_records(PCAPS / name, tmp_path) == {}
