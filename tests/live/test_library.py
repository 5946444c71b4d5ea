"""The Python API's live host discovery, --discover and --workers in a namespace lab: the
results are the command line's (tests/support/lab_discovery.py's hosts up and down in every way)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lab import lab_unavailable_reason
from tests.support.lab_discovery import EXPECTED, DiscoveryLab
from tests.support.rawscan_cli import rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[DiscoveryLab]:
    with DiscoveryLab() as built:
        yield built


def api(lab: DiscoveryLab, code: str) -> object:
    """Run code in the scanner's namespace; it prints the JSON of `out`."""
    done = lab.exec_scanner([sys.executable, "-c", "import json, sys, rawscan\n" + code
                             + "\nprint(json.dumps(out))", *EXPECTED])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_live_ping_is_the_clis(lab: DiscoveryLab, tmp_path: Path) -> None:
    out = tmp_path / "hosts.jsonl"
    r = lab.exec_scanner([rawscan_command(), "ping", "-q", "--resume-file", str(tmp_path / "r"),
                          "--seed", "5", "-oJ", str(out), *EXPECTED])
    assert r.returncode == 0, r.stderr
    found = api(lab, "r = rawscan.ping(sys.argv[1:], seed=5)\n"
                     "out = [[h.ip, h.status, h.reason] for h in r.host_results]")
    cli = sorted([str(h["ip"]), str(h["status"]), str(h["reason"])] for h in read_jsonl(out))
    assert isinstance(found, list) and len(found) == len(cli) == len(EXPECTED)
    # an up host's reason is whichever probe's answer came first: the status and a down
    # host's reason are the same every run
    for ours, theirs in zip(sorted(found), cli):
        ip, status, why = theirs
        assert ours[:2] == theirs[:2] and status == EXPECTED[ip][0]
        if status == "down":
            assert ours[2] == why == EXPECTED[ip][1]

def test_live_discover_and_workers_are_the_clis(lab: DiscoveryLab, tmp_path: Path) -> None:
    for flags, options in ((["--discover"], "discover=True"), (["--workers", "2"], "workers=2")):
        out = tmp_path / "ports.jsonl"
        r = lab.exec_scanner([rawscan_command(), "syn", *flags, "-p", "443,22", "-q", "--force",
                              "--retries", "1", "--resume-file", str(tmp_path / "r"),
                              "-oJ", str(out), *EXPECTED])
        assert r.returncode == 0, r.stderr
        found = api(lab, f"r = rawscan.syn(sys.argv[1:], ports='443,22', retries=1, {options})\n"
                         "out = [[p.ip, p.port, p.state, p.reason] for p in r.ports]\n"
                         "out.append(r.summary[0])")
        assert isinstance(found, list)
        first = found.pop()
        cli = sorted([str(p["ip"]), int(p["port"]), str(p["state"]), str(p["reason"])]  # type: ignore[call-overload]
                     for p in read_jsonl(out))
        if "--discover" in flags:  # the up hosts' ports: one answer each, the same every run
            assert sorted(found) == cli, flags
        else:  # the down hosts' silence and ICMP errors: a state every run, reasons may vary
            assert sorted(p[:3] for p in found) == [p[:3] for p in cli], flags
        up = {ip for ip, (status, _why) in EXPECTED.items() if status == "up"}
        scanned = {ip for ip, *_rest in cli}
        assert scanned == (up if "--discover" in flags else set(EXPECTED)), flags
        if "--discover" in flags:
            assert first.startswith("Discovery (") and f"{len(up)} of {len(EXPECTED)} host(s) up" in first
