"""rawscan analyze against other tools' own reports, on captures of them recorded in the lab
(tests/record_analyze_pcaps.py): nmap -sS, nmap -sU, masscan, hping3, and an nmap connect scan
amid ordinary traffic. Also rawscan's own recordings, whose scans printed what analyze must."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from analyze_tools import hping3_states, masscan_json_states, nmap_xml_states
from rawscan_cli import rawscan_command, read_jsonl

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
TARGET = "198.18.0.2"


def analyze(tmp_path: Path, *args: str) -> tuple[list[dict[str, object]], str]:
    out = tmp_path / "analyze.jsonl"
    proc = subprocess.run([rawscan_command(), "analyze", *args, "-oJ", str(out)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return read_jsonl(out), proc.stdout


def by_port(records: list[dict[str, object]], scanner: str = "198.18.0.1") -> dict[tuple[str, int], tuple[str, str]]:
    table: dict[tuple[str, int], tuple[str, str]] = {}
    for r in records:
        assert r["ip"] == TARGET
        if r["scanner"] == scanner:
            key = (str(r["proto"]), int(r["port"]))  # type: ignore[call-overload]
            assert key not in table, f"{key} reported twice"
            table[key] = (str(r["state"]), str(r["reason"]))
    return table


@pytest.mark.parametrize("name", ["analyze-nmap-syn.pcap", "analyze-nmap-udp.pcap.gz"])
def test_agrees_with_nmap_port_for_port(tmp_path: Path, name: str) -> None:
    records, stdout = analyze(tmp_path, str(PCAPS / name))
    nmap = nmap_xml_states(PCAPS / name.replace(".pcap.gz", ".pcap").replace(".pcap", ".nmap.xml"))
    assert len(nmap) > 100
    assert by_port(records) == nmap  # state and reason, every port, the collapsed ones too
    kind = "UDP" if "udp" in name else "SYN"
    assert f"Scanner 198.18.0.1: {kind} scan of 1 host(s)" in stdout


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
    records, _ = analyze(tmp_path, str(capture))
    want = read_jsonl(capture.with_suffix(".expected.jsonl"))
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


def test_seed_check_rejects_replies_to_another_seed(tmp_path: Path) -> None:
    """A sidecar with the wrong seed: every reply fails its cookie, so nothing is learned."""
    capture = tmp_path / "scan.pcap"
    capture.write_bytes((PCAPS / "syn-every-reply-kind.pcap").read_bytes())
    sidecar = json.loads((PCAPS / "syn-every-reply-kind.pcap.json").read_text())
    sidecar["seed"] += 1
    Path(f"{capture}.json").write_text(json.dumps(sidecar))
    records, stdout = analyze(tmp_path, str(capture))
    assert {r["reason"] for r in records} == {"no-response"}
    assert "197 failed the seed check" in stdout
