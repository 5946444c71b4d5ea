"""SYN proxy / tarpit detection (rawscan/synproxy.py): the rule, every output that says so, and
a real SYN proxy (nft synproxy) in the lab against an ordinary host."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rawscan.output import RunInfo, RunSummary
from rawscan.output.jsonl import JsonLinesWriter
from rawscan.output.nmapxml import NmapXmlWriter
from rawscan.output.table import host_block
from rawscan.results import PortResult
from rawscan.synproxy import SYN_PROXY_MIN_PORTS, syn_proxy

from tests.support.lab import Lab, LabSpec, lab_unavailable_reason
from tests.support.rawscan_cli import rawscan_command, read_jsonl
from tests.support.xml_checks import assert_valid_against_dtd

live = pytest.mark.skipif(lab_unavailable_reason() is not None,
                          reason=str(lab_unavailable_reason()))


def test_the_rule() -> None:
    assert syn_proxy(3, 3) is None  # -p 22,80,443 all open: an ordinary host
    assert syn_proxy(SYN_PROXY_MIN_PORTS - 1, SYN_PROXY_MIN_PORTS - 1) is None  # too few to tell
    assert syn_proxy(30, 1000) is None  # a busy server
    assert syn_proxy(89, 100) is None and syn_proxy(90, 100) is not None
    note = syn_proxy(65535, 65535)
    assert note is not None and note.share == 1.0 and "65535 of 65535 ports (100.0%)" in note.text()
    assert note.as_dict("198.18.0.9")["host_note"] == "syn-proxy"


def results(ip: str, open_ports: range, closed: range) -> list[PortResult]:
    return ([PortResult(ip, "tcp", p, "open", "syn-ack", 64, "unknown") for p in open_ports]
            + [PortResult(ip, "tcp", p, "closed", "reset", 64, "unknown") for p in closed])


def test_every_output_says_so_for_the_proxy_only(tmp_path: Path) -> None:
    proxy = results("198.18.0.9", range(1, 96), range(96, 101))  # 95%
    ordinary = results("198.18.0.2", range(1, 40), range(40, 101))
    info = RunInfo(scan="syn", proto="tcp", ports=tuple(range(1, 101)), total_hosts=2)
    xml, jsonl = tmp_path / "s.xml", tmp_path / "s.jsonl"
    writers = [NmapXmlWriter(str(xml), info), JsonLinesWriter(str(jsonl), info)]
    for r in proxy + ordinary:
        for w in writers:
            w.write(r)
    for w in writers:
        w.close(RunSummary(1.0))
    assert "Warning: 95 of 100 ports (95.0%) answered SYN-ACK" in host_block("p", proxy)
    assert "Warning" not in host_block("o", ordinary)
    notes = [r for r in read_jsonl(jsonl) if "host_note" in r]
    assert notes == [{"ip": "198.18.0.9", "host_note": "syn-proxy", "syn_ack_ports": 95,
                      "scanned_ports": 100, "share": 0.95}]
    assert_valid_against_dtd(xml)
    hosts = {h.find("address").get("addr"): h for h in ET.parse(xml).getroot().iter("host")}  # type: ignore[union-attr]
    script = hosts["198.18.0.9"].find("hostscript/script")
    assert script is not None and script.get("id") == "syn-proxy"
    assert {e.get("key"): e.text for e in script.iter("elem")}["share"] == "0.9500"
    assert hosts["198.18.0.2"].find("hostscript") is None
    from rawscan.compare.load import load_results  # diff and --baseline read past the note

    assert len(load_results(str(jsonl)).states) == 200


@pytest.mark.live
@live
def test_a_real_syn_proxy_is_named_and_an_ordinary_host_is_not(tmp_path: Path) -> None:
    with Lab(LabSpec(open_tcp=(22, 80), syn_proxy_tcp=range(1, 121))) as lab:
        out, xml = tmp_path / "s.jsonl", tmp_path / "s.xml"
        proc = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, lab.target_ip6,
                                 "-p", "1-120", "-oJ", str(out), "-oX", str(xml), "-q"])
    assert proc.returncode == 0, proc.stderr
    records = read_jsonl(out)
    notes = [r for r in records if "host_note" in r]
    # IPv4 goes through the proxy (every port SYN-ACKs); IPv6 reaches the host itself
    assert notes == [{"ip": lab.target_ip, "host_note": "syn-proxy", "syn_ack_ports": 120,
                      "scanned_ports": 120, "share": 1.0}]
    open6 = sorted(int(r["port"]) for r in records  # type: ignore[arg-type]
                   if r.get("ip") == lab.target_ip6 and r.get("state") == "open")
    assert open6 == [22, 80]
    report = proc.stdout.split("rawscan scan report for ")
    assert "Warning: 120 of 120 ports (100.0%) answered SYN-ACK" in report[1]
    assert "Warning" not in report[2]
    assert_valid_against_dtd(xml)
    assert json.dumps(notes)  # plain JSON
