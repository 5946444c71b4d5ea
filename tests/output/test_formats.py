"""Every output format, written by the installed command from recorded lab scans, read back.

Replays need neither root nor network. The ground truth is each recording's expected results
(pcaps/*.expected.jsonl, checked against the lab layout when recorded).
"""

from __future__ import annotations

import json

import csv
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rawscan.compare.load import load_results
from rawscan.ports import port_class
from rawscan.results import RECORD_FIELDS

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan_command, read_jsonl
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report, ndiff



def _port_scan_recording(capture: Path) -> bool:
    """A recording of a port scan (a ping sweep's expected records are hosts, not ports)."""
    expected = capture.with_suffix(".expected.jsonl")
    return expected.exists() and all("port" in r for r in read_jsonl(expected))


RECORDINGS = sorted(p for p in PCAPS.glob("*.pcap") if _port_scan_recording(p))
SYN = PCAPS / "syn-every-reply-kind.pcap"


def replay(capture: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), "replay", str(capture), "-q", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def expected_states(capture: Path) -> dict[tuple[str, str, int], str]:
    records = read_jsonl(capture.with_suffix(".expected.jsonl"))
    return {(str(r["ip"]), str(r["proto"]), int(r["port"])): str(r["state"])  # type: ignore[call-overload]
            for r in records}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """capture -> BASE of its -oA output, one replay per recording for the whole module."""
    bases = {}
    for capture in RECORDINGS:
        base = tmp_path_factory.mktemp("oA") / capture.stem
        proc = replay(capture, "-oA", str(base))
        assert proc.returncode == 0, proc.stderr
        bases[capture] = base
    return bases


def test_there_are_recordings_of_both_protocols() -> None:
    assert SYN in RECORDINGS
    assert len(RECORDINGS) >= 2


def test_oA_writes_the_four_formats(written: dict[Path, Path]) -> None:
    base = written[SYN]
    for suffix in (".xml", ".gnmap", ".jsonl", ".csv"):
        assert Path(f"{base}{suffix}").stat().st_size > 0, suffix


@pytest.mark.parametrize("capture", RECORDINGS, ids=lambda p: p.stem)
def test_every_format_reads_back_to_the_recorded_states(capture: Path, written: dict[Path, Path]) -> None:
    want = expected_states(capture)
    base = written[capture]
    for suffix in (".xml", ".jsonl", ".csv"):  # these list every port (XML via extrareasons)
        assert load_results(f"{base}{suffix}").states == want, suffix
    grepable = load_results(f"{base}.gnmap").states
    assert grepable and set(grepable.items()) <= set(want.items())
    ignored = re.findall(r"Ignored State: (.*)", Path(f"{base}.gnmap").read_text())  # per host
    hidden = sum(int(n) for line in ignored for n in re.findall(r"\((\d+)\)", line))
    assert len(grepable) + hidden == len(want)


@pytest.mark.parametrize("capture", RECORDINGS, ids=lambda p: p.stem)
def test_xml_is_valid_nmap_xml(capture: Path, written: dict[Path, Path]) -> None:
    xml = Path(f"{written[capture]}.xml")
    assert_valid_against_dtd(xml)
    root = ET.parse(xml).getroot()
    assert root.tag == "nmaprun" and root.get("xmloutputversion") == "1.05"
    assert root.get("args", "").startswith("rawscan ")
    want = expected_states(capture)
    proto = next(iter(want))[1]
    info = root.find("scaninfo")
    assert info is not None and info.get("protocol") == proto
    plan = json.loads(Path(f"{capture}.json").read_text())
    if plan.get("shards"):  # a shard's scaninfo names its plan's ports: it holds some of each
        assert info.get("services") == plan["ports"]
    else:
        assert int(info.get("numservices", "0")) == len({port for _ip, _p, port in want})  # per host
    assert root.find("runstats/finished").get("exit") == "success"  # type: ignore[union-attr]


@pytest.mark.parametrize("capture", RECORDINGS, ids=lambda p: p.stem)
def test_libnmap_reads_the_xml(capture: Path, written: dict[Path, Path]) -> None:
    report = libnmap_report(Path(f"{written[capture]}.xml"))
    want = expected_states(capture)
    addresses = sorted({ip for ip, _p, _port in want})
    assert report.hosts_total == len(addresses) and len(report.hosts) == len(addresses)
    for host in report.hosts:
        assert host.address in addresses and host.is_up()
        mine = {(p, proto): s for (ip, proto, p), s in want.items() if ip == host.address}
        listed = {(s.port, s.protocol): s.state for s in host.services}
        extra = host.extraports_state  # libnmap keeps one extraports element: the only one here
        for key, state in mine.items():
            if key in listed:
                assert listed[key] == state
        hidden = int(extra["count"]["count"]) if extra else 0
        assert len(listed) + hidden == len(mine)
        assert set(host.get_open_ports()) == {k for k, s in mine.items() if s == "open"}


def test_ndiff_reads_the_xml_and_finds_no_change_against_itself(written: dict[Path, Path]) -> None:
    xml = Path(f"{written[SYN]}.xml")
    proc = ndiff(xml, xml)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ndiff_sees_a_changed_port(written: dict[Path, Path], tmp_path: Path) -> None:
    xml = Path(f"{written[SYN]}.xml")
    changed = tmp_path / "changed.xml"
    text = xml.read_text()
    edited = text.replace('portid="22"><state state="open"', 'portid="22"><state state="filtered"')
    assert edited != text
    changed.write_text(edited)
    proc = ndiff(xml, changed)
    assert proc.returncode == 1, proc.stderr
    assert "-22/tcp open" in proc.stdout and "+22/tcp filtered" in proc.stdout


def test_jsonl_and_csv_carry_every_field_and_the_port_class(written: dict[Path, Path]) -> None:
    base = written[SYN]
    records = read_jsonl(Path(f"{base}.jsonl"))
    with open(f"{base}.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == RECORD_FIELDS
        rows = list(reader)
    assert len(rows) == len(records) == 200
    by_port = {int(r["port"]): r for r in rows}
    for record in records:
        row = by_port[int(record["port"])]  # type: ignore[call-overload]
        assert record["class"] == row["class"] == port_class(int(record["port"]))  # type: ignore[call-overload]
        for field in ("ip", "proto", "state", "reason", "service"):
            assert row[field] == record[field]
        assert row["ttl"] == ("" if record["ttl"] is None else str(record["ttl"]))


def test_grepable_lines_have_nmaps_shape(written: dict[Path, Path]) -> None:
    lines = Path(f"{written[SYN]}.gnmap").read_text().splitlines()
    assert lines[0].startswith("# rawscan ") and " as: rawscan syn " in lines[0]
    assert lines[-1].startswith("# rawscan done at ")
    ports_line = next(line for line in lines if "\tPorts: " in line)
    head, ports, ignored = ports_line.split("\t")
    assert head == "Host: 198.18.0.2 ()"
    entries = ports[len("Ports: "):].split(", ")
    assert "22/open/tcp//ssh///" in entries
    assert all(re.fullmatch(r"\d+/[a-z|]+/tcp//[^/]*///", e) for e in entries), entries
    assert ignored == "Ignored State: closed (189)"


def test_xml_on_stdout_moves_the_table_to_stderr() -> None:
    proc = replay(SYN, "-oX", "-")
    assert proc.returncode == 0, proc.stderr
    root = ET.fromstring(proc.stdout)  # stdout is the document and nothing else
    assert root.tag == "nmaprun"
    assert "rawscan scan report for 198.18.0.2" in proc.stderr
    assert "22/tcp" in proc.stderr


def test_open_keeps_only_open_ports_everywhere(tmp_path: Path) -> None:
    base = tmp_path / "open"
    proc = replay(SYN, "--open", "-oA", str(base))
    assert proc.returncode == 0, proc.stderr
    want_open = {k for k, s in expected_states(SYN).items() if s == "open"}
    assert {k for k in load_results(f"{base}.jsonl").states} == want_open
    assert {k for k in load_results(f"{base}.csv").states} == want_open
    assert {k for k in load_results(f"{base}.gnmap").states} == want_open
    root = ET.parse(f"{base}.xml").getroot()
    listed = {int(p.get("portid", "0")) for p in root.iter("port")}
    assert listed == {port for _ip, _proto, port in want_open}
    hidden = sum(int(e.get("count", "0")) for e in root.iter("extraports"))
    assert hidden + len(listed) == 200  # the rest is summarised, not lost
    assert_valid_against_dtd(Path(f"{base}.xml"))
    table = proc.stdout.split("PORT", 1)[1].split("\nProbes:", 1)[0]
    assert "filtered" not in table  # the table lists open ports only


@pytest.mark.parametrize(
    "args, words",
    [
        (["-oX", "-", "-oJ", "-"], ["stdout"]),
        (["-oA", "-"], ["-oA"]),
        (["-oJ", "/nonexistent/dir/out.jsonl"], ["/nonexistent/dir/out.jsonl"]),
        (["--baseline", "/nonexistent/base.xml"], ["/nonexistent/base.xml"]),
    ],
)
def test_bad_output_options_are_one_line_errors(args: list[str], words: list[str]) -> None:
    proc = replay(SYN, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rawscan: error: "), proc.stderr
    assert all(w in lines[0] for w in words)
    assert "Traceback" not in proc.stdout + proc.stderr
