"""rawscan diff: what changed between two results in any format; exit 0 equal, 1 different."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rawscan.compare import ResultSet
from rawscan.compare.changes import compare
from rawscan.compare.load import load_results

from tests.support.rawscan_cli import one_error_line, rawscan, rawscan_command

# Written by hand in the shape nmap 7.93 writes (hosthint, a MAC address, extrareasons with
# ports=, a second host from an older nmap without ports=); service names from /etc/services.
NMAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<nmaprun scanner="nmap" args="nmap -sS -p 20-30 198.18.0.2 198.18.0.3" start="1700000000" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="11" services="20-30"/>
<verbose level="0"/>
<debugging level="0"/>
<hosthint><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<address addr="02:00:00:00:00:02" addrtype="mac"/>
<hostnames>
</hostnames>
</hosthint>
<host starttime="1700000000" endtime="1700000001"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<address addr="02:00:00:00:00:02" addrtype="mac"/>
<hostnames>
</hostnames>
<ports><extraports state="closed" count="9">
<extrareasons reason="reset" count="9" proto="tcp" ports="20-21,23-24,26-30"/>
</extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
<port protocol="tcp" portid="25"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="smtp" method="table" conf="3"/></port>
</ports>
<times srtt="7" rttvar="0" to="100000"/>
</host>
<host><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.3" addrtype="ipv4"/>
<hostnames><hostname name="db.example" type="user"/></hostnames>
<ports><extraports state="filtered" count="10"><extrareasons reason="no-response" count="10"/></extraports>
<port protocol="tcp" portid="23"><state state="open" reason="syn-ack" reason_ttl="64"/></port>
</ports>
</host>
<runstats><finished time="1700000001" elapsed="1.00" exit="success"/><hosts up="2" down="0" total="2"/>
</runstats>
</nmaprun>
"""


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), "diff", *args], capture_output=True, text=True,
                          timeout=60, input=stdin)


def jsonl(path: Path, states: dict[int, str], ip: str = "198.18.0.2") -> Path:
    path.write_text("".join(
        json.dumps({"ip": ip, "proto": "tcp", "port": p, "state": s, "reason": "x", "ttl": None,
                    "service": "unknown", "class": "system"}) + "\n" for p, s in states.items()))
    return path


def result_set(states: dict[int, str]) -> ResultSet:
    found = ResultSet()
    for port, state in states.items():
        found.add("198.18.0.2", "tcp", port, state)
    return found


def test_reads_nmaps_xml_expanding_extraports(tmp_path: Path) -> None:
    path = tmp_path / "nmap.xml"
    path.write_text(NMAP_XML)
    got = load_results(str(path))
    assert got.states[("198.18.0.2", "tcp", 22)] == "open"
    assert got.states[("198.18.0.2", "tcp", 25)] == "filtered"
    assert got.states[("198.18.0.2", "tcp", 30)] == "closed"  # from extrareasons ports=
    assert len([k for k in got.states if k[0] == "198.18.0.2"]) == 11
    # without ports= the summarised ports are not listed, only the open one is
    assert [k for k in got.states if k[0] == "198.18.0.3"] == [("198.18.0.3", "tcp", 23)]
    assert got.names == {"198.18.0.3": "db.example"}


@pytest.mark.parametrize("old, new, kinds", [
    ({22: "open", 23: "closed"}, {22: "open", 23: "closed"}, []),
    ({22: "open", 23: "closed"}, {22: "open", 23: "open"}, ["appeared"]),
    ({22: "open"}, {22: "open", 8080: "open"}, ["appeared"]),
    ({22: "open", 23: "closed"}, {22: "filtered", 23: "closed"}, ["disappeared"]),
    ({22: "open"}, {}, ["disappeared"]),
    ({25: "closed"}, {25: "filtered"}, ["changed"]),
    ({53: "open|filtered"}, {53: "open"}, ["changed"]),
    # a port only one side lists is not open there: closed/filtered ones are no news
    ({22: "open", 23: "closed"}, {22: "open"}, []),
    ({22: "open"}, {22: "open", 23: "closed", 24: "filtered"}, []),
])
def test_compare_classifies_changes(old: dict[int, str], new: dict[int, str], kinds: list[str]) -> None:
    assert [c.kind for c in compare(result_set(old), result_set(new))] == kinds


def test_equal_results_exit_0(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", {22: "open", 23: "closed"})
    b = jsonl(tmp_path / "b.jsonl", {23: "closed", 22: "open"})
    proc = run(str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    assert "No differences" in proc.stdout


def test_changes_exit_1_and_name_each_port(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", {22: "open", 23: "closed", 25: "closed"})
    b = jsonl(tmp_path / "b.jsonl", {22: "closed", 23: "open", 25: "filtered"})
    proc = run(str(a), str(b))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "- 198.18.0.2 22/tcp disappeared: open -> closed" in lines
    assert "+ 198.18.0.2 23/tcp appeared: closed -> open" in lines
    assert "~ 198.18.0.2 25/tcp changed: closed -> filtered" in lines
    assert lines[-1] == "3 port(s) differ: 1 appeared, 1 disappeared, 1 changed."


def test_nmap_xml_against_rawscan_jsonl(tmp_path: Path) -> None:
    nmap = tmp_path / "nmap.xml"
    nmap.write_text(NMAP_XML)
    same = {p: "closed" for p in range(20, 31)} | {22: "open", 25: "filtered"}
    other = jsonl(tmp_path / "other.jsonl", {23: "open", 24: "filtered"}, ip="198.18.0.3").read_text()
    both = jsonl(tmp_path / "same.jsonl", same)
    both.write_text(both.read_text() + other)
    proc = run(str(nmap), str(both))
    assert proc.returncode == 0, proc.stdout
    opened = jsonl(tmp_path / "more.jsonl", same | {80: "open"})
    opened.write_text(opened.read_text() + other)
    proc = run(str(nmap), str(opened))
    assert proc.returncode == 1 and "80/tcp appeared" in proc.stdout
    alone = jsonl(tmp_path / "alone.jsonl", same)  # 198.18.0.3's open port is gone
    proc = run(str(nmap), str(alone))
    assert proc.returncode == 1
    assert "- 198.18.0.3 (db.example) 23/tcp disappeared: open -> not listed" in proc.stdout


def test_reads_stdin(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", {22: "open"})
    proc = run(str(a), "-", stdin=a.read_text())
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("content, words", [
    ("hello world\n", ["not a result file"]),
    ("<nmaprun><host>", ["not well-formed XML"]),
    ("<html></html>", ["not nmap's format"]),
    ('{"ip": "198.18.0.2"}\n', ["line 1"]),
    ("Host: 198.18.0.2 ()\tPorts: 22/open\n", ["22/open"]),
])
def test_unreadable_results_are_one_line_errors(tmp_path: Path, content: str, words: list[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(content)
    good = jsonl(tmp_path / "good.jsonl", {22: "open"})
    proc = run(str(good), str(bad))
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rawscan: error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    proc = run("/nonexistent/old.xml", str(jsonl(tmp_path / "n.jsonl", {})))
    assert proc.returncode == 2 and "/nonexistent/old.xml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_reads_nmap_and_masscan_grepable(tmp_path: Path) -> None:
    nmap = tmp_path / "nmap.gnmap"
    nmap.write_text(
        "# Nmap 7.93 scan initiated Thu Nov 26 01:20:48 2026 as: nmap -sS -oG - 198.18.0.2\n"
        "Host: 198.18.0.2 (gw.example)\tStatus: Up\n"
        "Host: 198.18.0.2 (gw.example)\tPorts: 22/open/tcp//ssh///, 53/filtered/tcp//domain///, "
        "8080/open/tcp//http|alt///\tIgnored State: closed (997)\n# Nmap done\n")
    masscan = tmp_path / "masscan.gnmap"
    masscan.write_text("# Masscan 1.3.2 scan initiated\n"
                       "Timestamp: 1700000000\tHost: 198.18.0.2 ()\tPorts: 22/open/tcp//ssh//\n"
                       "Timestamp: 1700000001\tHost: 198.18.0.2 ()\tPorts: 8080/open/tcp//http//\n")
    got = load_results(str(nmap))
    assert got.states == {("198.18.0.2", "tcp", 22): "open", ("198.18.0.2", "tcp", 53): "filtered",
                          ("198.18.0.2", "tcp", 8080): "open"}
    assert got.names == {"198.18.0.2": "gw.example"}
    assert compare(load_results(str(masscan)), got) == []  # 53 filtered: listed once, not open


# --- huge and crafted inputs ----------------------------------------------------------------


def _nmap_all_ports_xml(hosts: int, extra_open: dict[int, int] | None = None) -> str:
    """What `nmap -p-` of a /24 looks like: every closed port summarised as one range."""
    body = []
    for h in range(hosts):
        ports = [22] + ([extra_open[h]] if extra_open and h in extra_open else [])
        rest = ",".join(f"{a}-{b}" for a, b in zip([0] + [p + 1 for p in ports], [p - 1 for p in ports] + [65535]) if a <= b)
        listed = "".join(f'<port protocol="tcp" portid="{p}"><state state="open" reason="syn-ack"/></port>'
                         for p in ports)
        body.append(f'<host><address addr="198.18.0.{h + 1}" addrtype="ipv4"/><ports>'
                    f'<extraports state="closed" count="{65536 - len(ports)}">'
                    f'<extrareasons reason="reset" count="{65536 - len(ports)}" proto="tcp" ports="{rest}"/>'
                    f'</extraports>{listed}</ports></host>')
    return f'<?xml version="1.0"?><nmaprun scanner="nmap">{"".join(body)}</nmaprun>'


def test_diff_keeps_summarised_ports_as_ranges(tmp_path: Path) -> None:
    from tests.support.deadline import deadline

    from rawscan.compare.changes import compare
    from rawscan.compare.load import load_results

    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(_nmap_all_ports_xml(60))
    new.write_text(_nmap_all_ports_xml(60, {7: 8080}))
    with deadline(10):  # was 40 s and 1.7 GB: 60 x 65,536 ports expanded one by one
        changes = compare(load_results(str(old)), load_results(str(new)))
        assert compare(load_results(str(old)), load_results(str(old))) == []
    assert [(c.ip, c.port, c.old, c.new, c.kind) for c in changes] == [
        ("198.18.0.8", 8080, "closed", "open", "appeared")]


@pytest.mark.parametrize("record", ['{"ip":"198.18.0.2","proto":"tcp","port":1e400,"state":"open"}',
                                    '{"ip":"198.18.0.2","proto":"tcp","port":22.5,"state":"open"}'])
def test_diff_of_a_port_that_is_no_integer_is_one_line(tmp_path: Path, record: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(record + "\n")
    one_error_line(rawscan("diff", str(bad), str(bad)), "bad.jsonl")


def test_diff_of_a_unicode_digit_port_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ip,host,proto,port,state,reason,ttl,service,class\n"
                   "198.18.0.2,,tcp,\u00b2,open,syn-ack,64,x,y\n")
    one_error_line(rawscan("diff", str(bad), str(bad)), "is not a port number")
