"""Live lab: nmap scans the namespace target while tcpdump records; rawscan analyze of that
capture must agree with nmap's own XML port for port. The committed captures in pcaps/ test
the same without root; this catches a newer nmap behaving differently. Over IPv6 the scan is
of ::1 (and, at once, of 127.0.0.1) in a namespace with nothing but its loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.rawscan_cli import rawscan_command
from tests.support.tool_reports import nmap_xml_states
from tools.record_analyze_pcaps import LOOP_RECORDINGS, RECORDINGS, TRIES, record_loop_once, record_once

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("nmap", "tcpdump")),
                       reason="needs nmap and tcpdump (apt-get install -y nmap tcpdump)"),
]


def test_fresh_nmap_syn_capture_agrees_with_nmap(tmp_path: Path) -> None:
    name = "analyze-nmap-syn"
    dest = tmp_path / "out"
    dest.mkdir()
    assert any(record_once(name, RECORDINGS[name], tmp_path, dest) for _ in range(TRIES))
    out = tmp_path / "analyze.jsonl"
    proc = subprocess.run([rawscan_command(), "analyze", str(dest / f"{name}.pcap"), "-oJ", str(out)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ours = {(r["proto"], r["port"]): (r["state"], r["reason"])
            for r in map(json.loads, out.read_text().splitlines())}
    assert ours == nmap_xml_states(dest / f"{name}.nmap.xml")


def test_fresh_dual_stack_capture_agrees_with_nmap(tmp_path: Path) -> None:
    """nmap -4 and nmap -6 at once, every ICMPv6 reject kind nft can send, one capture."""
    name = "analyze-nmap-dual"
    dest = tmp_path / "out"
    dest.mkdir()
    assert any(record_loop_once(name, LOOP_RECORDINGS[name], tmp_path, dest) for _ in range(TRIES))
    out = tmp_path / "analyze.jsonl"
    proc = subprocess.run([rawscan_command(), "analyze", str(dest / f"{name}.pcap"), "-oJ", str(out)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for scanner, report in (("127.0.0.1", "nmap4"), ("::1", "nmap6")):
        ours = {(r["proto"], r["port"]): (r["state"], r["reason"]) for r in records if r["scanner"] == scanner}
        assert ours == nmap_xml_states(dest / f"{name}.{report}.xml"), scanner
