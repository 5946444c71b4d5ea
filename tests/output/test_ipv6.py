"""IPv6 around the engine: every output format, rawscan diff, the scan description (pcap
sidecar), source addresses and the command line's family options. No root needed."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from rawscan.addresses import parse_addr
from rawscan.compare import ResultSet, canonical_ip
from rawscan.compare.changes import compare
from rawscan.compare.load import load_results
from rawscan.errors import RawscanError
from rawscan.output import RunInfo, RunSummary
from rawscan.output.csvfile import CsvWriter
from rawscan.output.grepable import GrepableWriter
from rawscan.output.jsonl import JsonLinesWriter
from rawscan.output.nmapxml import NmapXmlWriter
from rawscan.output.table import render
from rawscan.plan import ScanPlan
from rawscan.results import PortResult
from rawscan.sources import source_address, sources_for
from rawscan.targets import parse_targets

from tests.support.rawscan_cli import rawscan_command
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report, ndiff_state_differences

WRITERS = {"xml": NmapXmlWriter, "grep": GrepableWriter, "json": JsonLinesWriter, "csv": CsvWriter}
# Deliberately out of order, and with textual order differing from numeric order.
HOSTS = ["2001:2::10", "198.18.0.10", "2001:2::9", "198.18.0.9", "::ffff:198.18.0.1"]
NUMERIC_ORDER = ["198.18.0.9", "198.18.0.10", "::ffff:198.18.0.1", "2001:2::9", "2001:2::10"]
PORTS = tuple(range(20, 51))  # 31 ports: enough for a summarised state


def results_for(ips: list[str], names: dict[str, str] | None = None) -> list[PortResult]:
    out = []
    for n, ip in enumerate(ips):
        for port in PORTS:
            if port in (22, 25 + n):
                state, reason, ttl = "open", "syn-ack", 64
            elif port == 30:
                state, reason, ttl = "filtered", "admin-prohibited", 64
            else:
                state, reason, ttl = "closed", "reset", 64
            out.append(PortResult(ip, "tcp", port, state, reason, ttl,
                                  "ssh" if port == 22 else "unknown", (names or {}).get(ip)))
    return out


def info(hosts: int) -> RunInfo:
    return RunInfo(scan="syn", proto="tcp", ports=PORTS, total_hosts=hosts,
                   argv=("syn", "198.18.0.9-10", "2001:2::9-2001:2::10", "-p", "20-50"),
                   started=1_700_000_000.0)


def write(kind: str, path: Path, results: list[PortResult], hosts: int) -> None:
    writer = WRITERS[kind](str(path), info(hosts))
    for r in results:
        writer.write(r)
    writer.close(RunSummary(elapsed=1.0))


def test_every_format_reads_back_v6_and_mixed_hosts(tmp_path: Path) -> None:
    names = {"2001:2::9": "six.example", "198.18.0.9": "four.example"}
    results = results_for(HOSTS, names)
    want = {(r.ip, r.proto, r.port): r.state for r in results}
    for kind in WRITERS:
        path = tmp_path / f"out.{kind}"
        write(kind, path, results, len(HOSTS))
        got = load_results(str(path))
        if kind == "grep":  # closed ports are summarised as 'Ignored State'
            assert {k: v for k, v in want.items() if v != "closed"} == got.states, kind
        else:
            assert got.states == want, kind
        assert got.names == names, kind


def test_xml_address_types_order_and_validity(tmp_path: Path) -> None:
    # every host left open until close(): the writer orders them itself
    path = tmp_path / "mixed.xml"
    writer = NmapXmlWriter(str(path), info(len(HOSTS)))
    for r in results_for(HOSTS):
        if r.port != PORTS[-1]:
            writer.write(r)
    writer.close(RunSummary(elapsed=1.0))
    root = ET.parse(path).getroot()
    addresses = [(a.get("addr"), a.get("addrtype")) for a in root.iter("address")]
    assert addresses == [(ip, "ipv6" if ":" in ip else "ipv4") for ip in NUMERIC_ORDER]
    assert_valid_against_dtd(path)
    report = libnmap_report(path)
    assert [h.address for h in report.hosts] == NUMERIC_ORDER
    six = next(h for h in report.hosts if h.address == "2001:2::10")
    assert six.ipv6 == "2001:2::10" and not six.ipv4
    assert sorted(six.get_open_ports()) == [(22, "tcp"), (25, "tcp")]  # HOSTS[0]


def test_xml_address_matches_what_nmap_writes_for_ipv6(tmp_path: Path) -> None:
    if shutil.which("nmap") is None:
        pytest.skip("nmap missing (apt-get install nmap)")
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    proc = subprocess.run(["nmap", "-6", "-n", "-sT", "-p", "1", "::1", "-oX", "-"],  # loopback only
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or "<address" not in proc.stdout:
        pytest.skip(f"nmap -6 cannot scan ::1 here: {proc.stderr.strip()[:200]}")
    theirs = ET.fromstring(proc.stdout).find("host/address")
    assert theirs is not None
    state = ET.fromstring(proc.stdout).find("host/ports/port/state")
    assert state is not None
    ours_path = tmp_path / "ours.xml"
    writer = NmapXmlWriter(str(ours_path), RunInfo(scan="syn", proto="tcp", ports=(1,),
                                                    total_hosts=1, started=1_700_000_000.0))
    writer.write(PortResult("::1", "tcp", 1, str(state.get("state")), "reset", 64, "tcpmux"))
    writer.close(RunSummary(elapsed=0.1))
    ours = ET.parse(ours_path).getroot().find("host/address")
    assert ours is not None and ours.attrib == theirs.attrib  # {'addr': '::1', 'addrtype': 'ipv6'}
    nmap_xml = tmp_path / "nmap.xml"
    nmap_xml.write_text(proc.stdout)
    assert ndiff_state_differences(nmap_xml, ours_path) == []  # ndiff pairs the two ::1 hosts
    assert load_results(str(nmap_xml)).states == load_results(str(ours_path)).states


def test_ndiff_reads_a_changed_v6_port(tmp_path: Path) -> None:
    before, after = tmp_path / "a.xml", tmp_path / "b.xml"
    write("xml", before, results_for(["2001:2::9"]), 1)
    changed = [PortResult(r.ip, r.proto, r.port, "filtered", "no-response", None, r.service)
               if r.port == 22 else r for r in results_for(["2001:2::9"])]
    write("xml", after, changed, 1)
    assert ndiff_state_differences(before, after) == ["22/tcp: open -> filtered"]


def test_grepable_line_for_v6_has_nmaps_shape(tmp_path: Path) -> None:
    path = tmp_path / "out.gnmap"
    write("grep", path, results_for(["2001:2::9"], {"2001:2::9": "six.example"}), 1)
    lines = path.read_text().splitlines()
    assert "Host: 2001:2::9 (six.example)\tStatus: Up" in lines
    ports = next(line for line in lines if "\tPorts: " in line)
    assert ports.startswith("Host: 2001:2::9 (six.example)\tPorts: 22/open/tcp//ssh///, ")
    assert ports.endswith("\tIgnored State: closed (28)")


def test_jsonl_and_csv_carry_the_v6_text(tmp_path: Path) -> None:
    write("json", tmp_path / "o.jsonl", results_for(["2001:2::9"]), 1)
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert {r["ip"] for r in records} == {"2001:2::9"} and len(records) == len(PORTS)
    write("csv", tmp_path / "o.csv", results_for(["2001:2::9"]), 1)
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert rows[1].startswith("2001:2::9,,tcp,")


def test_table_orders_hosts_v4_then_v6_numerically() -> None:
    out = io.StringIO()
    labels = {"2001:2::9": "six.example (2001:2::9)"}
    render(Console(file=out, color_system=None, width=200), results_for(HOSTS), labels)
    heads = [line for line in out.getvalue().splitlines() if line.startswith("rawscan scan report")]
    assert heads == [f"rawscan scan report for {labels.get(ip, ip)}" for ip in NUMERIC_ORDER]


def test_diff_canonicalises_v6_spellings_and_orders_changes() -> None:
    old, new = ResultSet(source="old"), ResultSet(source="new")
    old.add("2001:0002:0000::0010", "tcp", 80, "open", "six.example")
    old.add("[2001:2::9]", "TCP", 22, "closed")
    old.add("198.18.0.10", "tcp", 22, "closed")
    new.add("2001:2::10", "tcp", 80, "closed")
    new.add("2001:2::9", "tcp", 22, "open")
    new.add("198.18.0.10", "tcp", 22, "open")
    assert old.names == {"2001:2::10": "six.example"}
    assert [(c.ip, c.port, c.kind) for c in compare(old, new)] == [
        ("198.18.0.10", 22, "appeared"), ("2001:2::9", 22, "appeared"),
        ("2001:2::10", 80, "disappeared")]
    assert canonical_ip("2001:DB8::1") == "2001:db8::1"
    assert canonical_ip("not an address") == "not an address"


def test_rawscan_diff_of_v6_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.xml"
    write("json", a, results_for(["2001:2::9", "198.18.0.9"]), 2)
    changed = [PortResult(r.ip, r.proto, r.port, "closed", "reset", 64, r.service)
               if (r.ip, r.port) == ("2001:2::9", 22) else r
               for r in results_for(["2001:2::9", "198.18.0.9"])]
    write("xml", b, changed, 2)
    proc = subprocess.run([rawscan_command(), "diff", str(a), str(b)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[0] == "- 2001:2::9 22/tcp disappeared: open -> closed"
    same = subprocess.run([rawscan_command(), "diff", str(a), str(a)], capture_output=True,
                          text=True, timeout=60)
    assert same.returncode == 0, same.stdout


# --- the scan description (pcap sidecar) ---


def test_plan_round_trips_v6_targets_names_and_sources() -> None:
    targets = parse_targets(["198.18.0.1", "2001:2::/126", "six.example"], family="6",
                            resolve=lambda name: ["2001:2::99"])
    sources = (parse_addr("198.18.0.9"), parse_addr("2001:2::1"))
    plan = ScanPlan(scan="syn", targets=targets, ports=(22, 80), seed=7, sources=sources,
                    source_port=40001)
    back = ScanPlan.from_json(plan.to_json(), "x.json")
    assert back == plan
    assert back.targets.ranges == targets.ranges and back.sources == sources
    assert dict(back.targets.names) == {parse_addr("2001:2::99"): "six.example"}
    assert back.targets.label(parse_addr("2001:2::99")) == "six.example (2001:2::99)"


@pytest.mark.parametrize("field, value", [
    ("sources", [2**32 + 5]),  # between the families: no address
    ("sources", [2**129]),
    ("targets", [[2**32 - 1, 2**128]]),  # a range across the families
    ("targets", [[2**128, 2**128 + 2**64]]),  # more addresses than rawscan scans
])
def test_damaged_sidecar_addresses_are_refused(field: str, value: object) -> None:
    plan = ScanPlan(scan="syn", targets=parse_targets(["2001:2::1"]), ports=(22,), seed=1,
                    sources=(parse_addr("2001:2::2"),), source_port=40001)
    data = json.loads(plan.to_json())
    data[field] = value
    with pytest.raises(RawscanError, match="^scan description 'x' is not usable"):
        ScanPlan.from_json(json.dumps(data), "x")


# --- source addresses ---


def test_sources_given_must_cover_every_target_family() -> None:
    mixed = parse_targets(["198.18.0.2", "2001:2::2"])
    v4, v6 = parse_addr("198.18.0.1"), parse_addr("2001:2::1")
    assert sources_for(mixed, [v6, v4, v4]) == (v4, v6)
    with pytest.raises(RawscanError, match="include IPv6 addresses but -S names no IPv6"):
        sources_for(mixed, [v4])
    with pytest.raises(RawscanError, match="include IPv4 addresses but -S names no IPv4"):
        sources_for(mixed, [v6])
    assert sources_for(parse_targets(["2001:2::2"]), [v4, v6]) == (v4, v6)  # extra is harmless


def _has_loopback_v6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_loopback_v6(), reason="no IPv6 loopback (::1) here")
def test_kernel_chooses_one_source_per_family() -> None:
    assert source_address(parse_addr("::1")) == parse_addr("::1")
    both = sources_for(parse_targets(["127.0.0.1", "::1"]))
    assert both == (parse_addr("127.0.0.1"), parse_addr("::1"))
    assert sources_for(parse_targets(["::1"])) == (parse_addr("::1"),)


# --- the command line: refused before anything is sent (no root needed) ---


@pytest.mark.parametrize("argv, message", [
    (["2001:2::1", "-6", "--all-families"], "give -6 or --all-families, not both"),
    (["198.18.0.1", "2001:2::1", "-S", "198.18.0.3"],
     "the targets include IPv6 addresses but -S names no IPv6 source address"),
    (["2001:2::1", "-S", "198.18.0.3-4"],
     "the targets include IPv6 addresses but -S names no IPv6 source address"),
    (["2001:2::/111"], "131072 IPv6 addresses is more than 65536 (a /112); pass --allow-large"),
    (["2001:2::/64", "--allow-large"], "more than rawscan can scan at once"),
    (["[2001:2::1"], "invalid target '[2001:2::1': unbalanced '[' or ']'"),
    (["no-such-host.invalid", "-6"], "cannot resolve host 'no-such-host.invalid' to an IPv6"),
])
def test_cli_refuses_bad_v6_input_in_one_line(argv: list[str], message: str) -> None:
    for command in ("syn", "udp"):
        proc = subprocess.run([rawscan_command(), command, *argv, "-p", "22"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("rawscan: error: ") and message in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
