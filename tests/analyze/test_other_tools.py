"""rawscan analyze against other tools' own reports, on captures of them recorded in the lab
(tools/record_analyze_pcaps.py): nmap -sS, nmap -sU, masscan, hping3, and an nmap connect scan
amid ordinary traffic; over IPv6, nmap -6 -sS and -sU, and nmap -4 and -6 at once in one
capture. Also rawscan's own recordings, whose scans printed what analyze must, and a Scapy-built
capture of every ICMPv6 error kind."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan_command, read_jsonl
from tests.support.tool_reports import hping3_states, masscan_json_states, nmap_xml_states

TARGET = "198.18.0.2"


def analyze(tmp_path: Path, *args: str) -> tuple[list[dict[str, object]], str]:
    out = tmp_path / "analyze.jsonl"
    proc = subprocess.run([rawscan_command(), "analyze", *args, "-oJ", str(out)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return read_jsonl(out), proc.stdout


def by_port(records: list[dict[str, object]], scanner: str = "198.18.0.1",
            target: str = TARGET) -> dict[tuple[str, int], tuple[str, str]]:
    table: dict[tuple[str, int], tuple[str, str]] = {}
    for r in records:
        if r["scanner"] == scanner:
            assert r["ip"] == target
            key = (str(r["proto"]), int(r["port"]))  # type: ignore[call-overload]
            assert key not in table, f"{key} reported twice"
            table[key] = (str(r["state"]), str(r["reason"]))
    return table


@pytest.mark.parametrize(("name", "host"), [
    ("analyze-nmap-syn.pcap", "198.18.0.1"), ("analyze-nmap-udp.pcap.gz", "198.18.0.1"),
    ("analyze-nmap6-syn.pcap", "::1"), ("analyze-nmap6-udp.pcap.gz", "::1"),
])
def test_agrees_with_nmap_port_for_port(tmp_path: Path, name: str, host: str) -> None:
    records, stdout = analyze(tmp_path, str(PCAPS / name))
    nmap = nmap_xml_states(PCAPS / name.replace(".pcap.gz", ".pcap").replace(".pcap", ".nmap.xml"))
    assert len(nmap) > 100
    target = TARGET if host == "198.18.0.1" else "::1"  # the IPv6 scans are of ::1, from ::1
    assert by_port(records, host, target) == nmap  # state and reason, every port, the collapsed ones too
    kind = "UDP" if "udp" in name else "SYN"
    assert f"Scanner {host}: {kind} scan of 1 host(s)" in stdout


def test_agrees_with_nmap_over_both_families_in_one_capture(tmp_path: Path) -> None:
    """nmap -4 of 127.0.0.1 and nmap -6 of ::1 at once, on Linux cooked (SLL2) frames."""
    records, stdout = analyze(tmp_path, str(PCAPS / "analyze-nmap-dual.pcap"))
    v4 = nmap_xml_states(PCAPS / "analyze-nmap-dual.nmap4.xml")
    v6 = nmap_xml_states(PCAPS / "analyze-nmap-dual.nmap6.xml")
    assert by_port(records, "127.0.0.1", "127.0.0.1") == v4
    assert by_port(records, "::1", "::1") == v6
    assert v4 != v6  # the same ports, rejected with ICMP and ICMPv6 codes of other names
    assert {r["scanner"] for r in records} == {"127.0.0.1", "::1"}
    assert stdout.index("Scanner 127.0.0.1: SYN scan") < stdout.index("Scanner ::1: SYN scan")


def test_agrees_with_masscan(tmp_path: Path) -> None:
    """masscan lists the ports that answered (--show closed adds the RSTs), never 'filtered'."""
    records, stdout = analyze(tmp_path, str(PCAPS / "analyze-masscan.pcap"))
    masscan = masscan_json_states(PCAPS / "analyze-masscan.masscan.json")
    ours = by_port(records)
    assert set(ours) == {("tcp", p) for p in range(1, 201)}
    for key, (state, _reason) in ours.items():
        assert masscan.get(key, "filtered") == state, key
    assert "SYN scan" in stdout


def test_agrees_with_hping3(tmp_path: Path) -> None:
    records, _ = analyze(tmp_path, str(PCAPS / "analyze-hping3.pcap"))
    hping = hping3_states(PCAPS / "analyze-hping3.hping3.txt")
    ours = by_port(records)
    assert set(ours) == {("tcp", p) for p in range(1, 41)}  # hping3 -p ++1 -c 40
    for key, (state, _reason) in ours.items():
        assert hping.get(key, "filtered") == state, key


def test_finds_the_connect_scan_amid_ordinary_traffic(tmp_path: Path) -> None:
    records, stdout = analyze(tmp_path, str(PCAPS / "analyze-mixed.pcap"))
    nmap = nmap_xml_states(PCAPS / "analyze-mixed.nmap.xml")
    assert {k: s for k, (s, _r) in by_port(records).items()} == {k: s for k, (s, _r) in nmap.items()}
    assert {r["scanner"] for r in records} == {"198.18.0.1"}  # the browsing client is not one
    assert re.search(r"^Scanner 198\.18\.0\.1: connect scan of 1 host\(s\), 100 tcp port", stdout, re.MULTILINE)
    assert "Not shown: 1 source(s) with fewer than 5 probed" in stdout
    assert "ordinary connection(s)" in stdout
    # With the threshold at 1 the client's one failed attempt makes it listed too.
    records, stdout = analyze(tmp_path, str(PCAPS / "analyze-mixed.pcap"), "--min-probes", "1")
    assert {r["scanner"] for r in records} == {"198.18.0.1", "198.18.0.3"}


RAWSCAN_RECORDINGS = sorted(p for p in PCAPS.glob("*.pcap") if Path(f"{p}.json").exists())
FIELDS = ("ip", "proto", "port", "state", "reason", "ttl", "service")


@pytest.mark.parametrize("capture", RAWSCAN_RECORDINGS, ids=lambda p: p.name)
def test_rawscan_recordings_give_what_the_scan_gave(tmp_path: Path, capture: Path) -> None:
    want = read_jsonl(capture.with_suffix(".expected.jsonl"))
    if want and "status" in want[0]:
        pytest.skip("a host discovery recording: its hosts are checked in tests/analyze/test_pings.py")
    records, _ = analyze(tmp_path, str(capture))
    assert sorted(tuple(r[f] for f in FIELDS) for r in records) == \
        sorted(tuple(r[f] for f in FIELDS) for r in want)  # type: ignore[type-var]
    assert all(r["probe_frame"] for r in records)


def _host_report(stdout: str) -> list[str]:
    """The lines from 'rawscan scan report for' to the blank line after the table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rawscan scan report for"))
    end = lines.index("", start)
    return lines[start:end]


def test_prints_the_table_the_scan_printed(tmp_path: Path) -> None:
    capture = PCAPS / "syn-every-reply-kind.pcap"
    replay = subprocess.run([rawscan_command(), "replay", str(capture), "-q"],
                            check=False, capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    _, stdout = analyze(tmp_path, str(capture))
    assert _host_report(stdout) == _host_report(replay.stdout)


def test_a_sidecar_of_another_seed_is_not_this_captures(tmp_path: Path) -> None:
    """A sidecar with the wrong seed: every reply fails its cookie, so it describes another
    scan; analyze says so and analyzes the capture without it (issue 13, item 12)."""
    capture = tmp_path / "scan.pcap"
    capture.write_bytes((PCAPS / "syn-every-reply-kind.pcap").read_bytes())
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "scan.pcap").write_bytes(capture.read_bytes())
    sidecar = json.loads((PCAPS / "syn-every-reply-kind.pcap.json").read_text())
    sidecar["seed"] += 1
    Path(f"{capture}.json").write_text(json.dumps(sidecar))
    proc = subprocess.run([rawscan_command(), "analyze", str(capture), "-oJ", str(tmp_path / "o.jsonl")],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "is not this capture's scan description: 197 of 197" in proc.stderr + proc.stdout
    without, _ = analyze(bare, str(bare / "scan.pcap"))
    got = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, without))
    assert {r["state"] for r in got} >= {"open", "closed", "filtered"}


ICMP6_KINDS = PCAPS / "analyze-icmp6-kinds.pcap"
# The table: ICMPv6 (type, code) -> nmap's reason; port unreachable from the target
# closes a UDP port; packet too big, parameter problem and unassigned codes say nothing.
DECIDING6 = {(1, 0): "no-route", (1, 1): "admin-prohibited", (1, 2): "beyond-scope",
             (1, 3): "host-unreach", (1, 4): "port-unreach", (1, 5): "admin-prohibited",
             (1, 6): "reject-route", (3, 0): "time-exceeded", (3, 1): "time-exceeded"}
SILENT6 = [(1, 7), (1, 8), (2, 0), (4, 0), (4, 1), (4, 2)]


def expected_icmp6_kinds() -> dict[tuple[str, int], tuple[str, str, int | None]]:
    """From the recorder's port scheme (port = 1000 + 100 type + 10 code, + 1 from a router;
    hop limit 60 from the target, 250 from the router), not from analyze's code."""
    table: dict[tuple[str, int], tuple[str, str, int | None]] = {}
    for (icmp_type, code), reason in DECIDING6.items():
        for router in (0, 1):
            port, hlim = 1000 + 100 * icmp_type + 10 * code + router, (60, 250)[router]
            table[("tcp", port)] = ("filtered", reason, hlim)
            closed = (icmp_type, code) == (1, 4) and not router
            table[("udp", port)] = ("closed" if closed else "filtered", reason, hlim)
    for icmp_type, code in SILENT6:
        for router in (0, 1):
            port = 1000 + 100 * icmp_type + 10 * code + router
            table[("tcp", port)] = ("filtered", "no-response", None)
            table[("udp", port)] = ("open|filtered", "no-response", None)
    table[("tcp", 2000)] = ("filtered", "admin-prohibited", 60)  # probe behind extension headers
    table[("udp", 2001)] = ("closed", "port-unreach", 60)
    return table


def test_every_icmp6_error_kind(tmp_path: Path) -> None:
    records, stdout = analyze(tmp_path, str(ICMP6_KINDS))
    got = {(str(r["proto"]), int(r["port"])): (r["state"], r["reason"], r["ttl"])  # type: ignore[call-overload]
           for r in records if r["scanner"] == "2001:2::1" and r["ip"] == "2001:2::2"}
    assert got == expected_icmp6_kinds() and len(records) == len(got)
    assert "Replies: 38 matched, 0 duplicate, 0 answering no probe seen" in stdout


def test_icmp6_kinds_capture_is_what_the_recorder_writes(tmp_path: Path) -> None:
    from tools.record_analyze_pcaps import write_icmp6_kinds

    fresh = tmp_path / "kinds.pcap"
    write_icmp6_kinds(fresh)
    assert fresh.read_bytes() == ICMP6_KINDS.read_bytes()


@pytest.mark.parametrize(("scan", "kind"), [("ack", "ACK"), ("fin", "FIN")])
def test_agrees_with_nmaps_firewall_scans(tmp_path: Path, scan: str, kind: str) -> None:
    """nmap -sA and -sF of a stateful firewall (tools/record_analyze_pcaps.py): nmap's verdict
    for every port, and the scan named as nmap's; -oX carries nmap's scaninfo type."""
    xml = tmp_path / "analyze.xml"
    records, stdout = analyze(tmp_path, str(PCAPS / f"analyze-nmap-{scan}.pcap"), "-oX", str(xml))
    nmap = nmap_xml_states(PCAPS / f"analyze-nmap-{scan}.nmap.xml")
    assert len(nmap) == 100 and by_port(records) == nmap
    assert {s for s, _r in nmap.values()} == (
        {"unfiltered", "filtered"} if scan == "ack" else {"closed", "open|filtered", "filtered"})
    assert f"Scanner 198.18.0.1: {kind} scan of 1 host(s)" in stdout
    assert f'<scaninfo type="{scan}"' in xml.read_text()
