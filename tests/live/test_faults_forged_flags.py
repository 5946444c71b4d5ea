"""Live lab, forged and stray traffic during ACK, FIN, NULL and Xmas scans (as
tests/live/test_faults_forged.py for SYN): tests/support/forged_traffic.py in the target sends RSTs with guessed sequence and
acknowledgement numbers (bare and with ACK) to the ports where a believed RST would change the
result (those that stay silent), SYN-ACKs, RSTs for ports never probed, ICMP errors with guessed
quoted sequence numbers, from hosts not scanned. None may change a result; every one that
reaches the engine is counted as stray or forged."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_faults import (
    FAULT_SYN, check_time_bound, run_rawscan, spray_argv, start_in_target, stop, wait_for_line,
    wrong_ports,
)

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

PORTS = "1-300"
SCAN_RATE = "300"  # the first round lasts a second: the spray lands while the scan listens


def expected(scan: str) -> dict[int, tuple[str, str]]:
    """FAULT_SYN's ports as this scan must see them (Linux: listeners ignore FIN/NULL/Xmas)."""
    silent = ("filtered" if scan == "ack" else "open|filtered", "no-response")
    table = {}
    for port, (state, reason) in FAULT_SYN.expected().items():
        if state == "open":
            table[port] = ("unfiltered", "reset") if scan == "ack" else silent
        elif state == "closed":
            table[port] = ("unfiltered" if scan == "ack" else "closed", "reset")
        elif reason == "no-response":
            table[port] = silent
        else:
            table[port] = (state, reason)
    return table


@pytest.mark.parametrize("scan", ["ack", "fin", "null", "xmas"])
def test_forged_replies_change_no_result_and_are_counted(tmp_path: Path, scan: str) -> None:
    truth = expected(scan)
    silent = ",".join(str(p) for p, (_s, why) in truth.items() if why == "no-response")
    report_file = tmp_path / "spray.json"
    with Lab(FAULT_SYN.spec()) as lab:
        # --open: where the bare RSTs go (and no forged SYN-ACK): the ports that stay silent
        spray = spray_argv(lab, report_file, "forge", "--probed", PORTS, "--open", silent,
                           "--unprobed", "301-400", "--each", "30", "--bare")
        sprayer = start_in_target(lab, spray)
        try:
            wait_for_line(sprayer, "armed")
            run = run_rawscan(lab, tmp_path / "scan.jsonl", scan, lab.target_ip, "-p", PORTS,
                              "--rate", SCAN_RATE)
            ended = time.monotonic()
            sprayer.wait(30)
        finally:
            stop(sprayer)
    assert run.returncode == 0, run.stderr
    report = json.loads(report_file.read_text())
    if not report["triggered"] or report["finished"] + 0.5 >= ended:
        raise RuntimeError("the spray did not land while the scan was listening")
    through = sum(report["through_filter"].values())
    wrong = wrong_ports(run.states, truth)
    print(f"MEASURED forged ({scan}): sent={sum(report['sent'].values())} through_filter={through} "
          f"stray={run.summary.stray} results_wrong={len(wrong)}")
    assert wrong == {}
    assert through >= 200
    assert run.summary.stray >= through
    assert not run.summary.rate_limited
    check_time_bound(run, len(FAULT_SYN.ports), float(SCAN_RATE))
