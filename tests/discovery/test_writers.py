"""rawscan ping's outputs (rawscan/discovery/writers.py) and host-set comparison, without root:
nmap -sn's XML (DTD, libnmap), grepable, JSON Lines, CSV; diff and --open."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path


from rawscan.discovery.hosts import HostResult
from rawscan.discovery.writers import WRITERS
from rawscan.output import RunInfo, RunSummary

from tests.support.rawscan_cli import rawscan_command
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report

HOSTS = [
    HostResult("198.18.0.2", "up", "arp-response", None, 0.00012, "02:00:00:00:00:02"),
    HostResult("198.18.8.1", "up", "echo-reply", 64, 0.0003),
    HostResult("198.18.20.5", "down", "host-unreach", 63),
    HostResult("2001:2::9", "down", "no-response", host="nine.lab"),
]


def _write(tmp_path: Path, kind: str, hosts: list[HostResult], open_only: bool = False) -> Path:
    path = tmp_path / f"out.{kind}"
    info = RunInfo(scan="ping", proto="ping", ports=(0, 1, 2, 3), total_hosts=len(hosts),
                   argv=("ping", "198.18.0.0/24"), open_only=open_only)
    writer = WRITERS[kind](str(path), info)
    for host in hosts:
        writer.write(host)
    writer.close(RunSummary(elapsed=1.5))
    return path


def test_xml_is_nmap_sn(tmp_path: Path) -> None:
    path = _write(tmp_path, "xml", HOSTS)
    assert_valid_against_dtd(path)
    text = path.read_text()
    assert "<scaninfo" not in text and "<ports" not in text
    assert '<status state="up" reason="echo-reply" reason_ttl="64"/>' in text
    assert '<address addr="02:00:00:00:00:02" addrtype="mac"/>' in text
    assert '<hosts up="2" down="2" total="4"/>' in text
    report = libnmap_report(path)
    assert sorted(h.address for h in report.hosts if h.is_up()) == ["198.18.0.2", "198.18.8.1"]


def test_grepable_json_csv_and_open(tmp_path: Path) -> None:
    lines = _write(tmp_path, "grep", HOSTS).read_text().splitlines()
    assert "Host: 198.18.8.1 ()\tStatus: Up" in lines
    assert "Host: 2001:2::9 (nine.lab)\tStatus: Down" in lines
    records = [json.loads(x) for x in _write(tmp_path, "json", HOSTS).read_text().splitlines()]
    assert records[0] == {"ip": "198.18.0.2", "status": "up", "reason": "arp-response", "ttl": None,
                          "rtt_ms": 0.12, "mac": "02:00:00:00:00:02"}
    assert [r.as_dict() for r in HOSTS] == records  # formatted directly, as the encoder would
    rows = list(csv.DictReader(_write(tmp_path, "csv", HOSTS).open()))
    assert rows[2] == {"ip": "198.18.20.5", "host": "", "status": "down", "reason": "host-unreach",
                       "ttl": "63", "rtt_ms": "", "mac": ""}
    opened = _write(tmp_path, "json", HOSTS, open_only=True).read_text().splitlines()
    assert [json.loads(x)["ip"] for x in opened] == ["198.18.0.2", "198.18.8.1"]


def test_diff_compares_host_sets_across_formats(tmp_path: Path) -> None:
    before = _write(tmp_path, "xml", HOSTS)
    later = [HostResult("198.18.0.2", "down", "no-response"), HOSTS[1], HOSTS[2],
             HostResult("198.18.8.7", "up", "syn-ack", 64, 0.001)]
    (tmp_path / "b").mkdir()
    after = _write(tmp_path / "b", "json", later)
    r = subprocess.run([rawscan_command(), "diff", str(before), str(after)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "198.18.0.2 down: up -> down" in r.stdout and "198.18.8.7 up: not listed -> up" in r.stdout
    assert "2 host(s) differ" in r.stdout  # 2001:2::9 down against absent is no change
    same = subprocess.run([rawscan_command(), "diff", str(before), str(_write(tmp_path / "b", "grep", HOSTS))],
                          capture_output=True, text=True, timeout=60)
    assert same.returncode == 0 and "No differences." in same.stdout, same.stdout
