"""Live lab, issue 7's bar: one scan of the same ports over IPv4 and IPv6 gives the same state
per port and protocol on both families, every one right; its recording replays to the same
results, and `rawscan analyze` of that recording rebuilds both families."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import SynLayout, UdpLayout
from tests.support.rawscan_cli import rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

SYN = SynLayout(ports=range(1, 401), open=(22, 80, 111, 399), drop=(23, 135, 150),
                admin=(25, 139, 300), host=(53, 161), port=(81, 250))
UDP = UdpLayout(ports=tuple(range(1, 121)) + (1900,), dns=True, open=(7, 1900), drop=(81, 100),
                admin=(82, 110), host=(83, 111), port=(84, 112))
States = dict[tuple[str, int], tuple[str, str]]


def states(records: list[dict[str, object]]) -> States:
    got: States = {}
    for r in records:
        key = (str(r["ip"]), int(r["port"]))  # type: ignore[arg-type]
        assert key not in got, f"{key} reported twice"
        got[key] = (str(r["state"]), str(r["reason"]))
    return got


def run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("command, layout", [("syn", SYN), ("udp", UDP)], ids=["syn", "udp"])
def test_dual_stack_scan_replay_and_analyze_agree(tmp_path: Path, command: str,
                                                  layout: SynLayout | UdpLayout) -> None:
    live, capture = tmp_path / "live.jsonl", tmp_path / "scan.pcap"
    ports = (f"{layout.ports.start}-{layout.ports.stop - 1}" if isinstance(layout, SynLayout)
             else layout.port_list())
    with Lab(layout.spec()) as lab:
        v4, v6 = lab.target_ip, lab.target_ip6
        proc = lab.exec_scanner([rawscan_command(), command, v4, v6, "-p", ports, "-oJ", str(live),
                                 "--pcap", str(capture)], timeout=180)
        assert proc.returncode == 0, proc.stderr
    got = states(read_jsonl(live))
    want = {(v4, p): s for p, s in layout.expected(4).items()}
    want.update({(v6, p): s for p, s in layout.expected(6).items()})
    assert got == want
    # the same state for every port over both families (reasons name each family's ICMP)
    assert {p: s for (ip, p), (s, _r) in got.items() if ip == v4} == \
           {p: s for (ip, p), (s, _r) in got.items() if ip == v6}

    replayed = tmp_path / "replay.jsonl"
    run([rawscan_command(), "replay", str(capture), "-oJ", str(replayed)])
    assert states(read_jsonl(replayed)) == got

    analyzed = tmp_path / "analyze.jsonl"
    run([rawscan_command(), "analyze", str(capture), "-oJ", str(analyzed)])
    assert {k: v for k, v in states(read_jsonl(analyzed)).items()} == got
