"""Live lab: the default scan (adaptive rate) over both hot paths (per item, numpy batches
through the receive ring), a clean, a lossy and a policed path: every port right."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import SynLayout
from tests.support.rawscan_cli import port_states, rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

def _groups() -> dict[str, tuple[int, ...]]:
    """Every reply kind spread over 1-6000, each port in one group only."""
    taken: set[int] = set()
    groups = {}
    for name, first, start, step in (("open", (22, 80, 443), 100, 211), ("drop", (23,), 111, 307),
                                     ("admin", (25,), 113, 401), ("host", (53,), 117, 503)):
        ports = tuple(p for p in (*first, *range(start, 6001, step)) if p not in taken)
        taken.update(ports)
        groups[name] = ports
    return groups


SYN_6000 = SynLayout(ports=range(1, 6001), **_groups())
RATE_LINE = re.compile(r"Rate: first round sent at ([\d,]+) probes/s; the path allowed about "
                       r"([\d,]+) probes/s")


def scan(lab: Lab, tmp_path: Path, hot_path: str) -> tuple[dict[int, tuple[str, str]], str]:
    out = tmp_path / f"{hot_path}.jsonl"
    proc = lab.exec_scanner(
        ["env", f"RAWSCAN_HOT_PATH={hot_path}", rawscan_command(), "syn", lab.target_ip,
         "-p", "1-6000", "-oJ", str(out)], timeout=180)
    assert proc.returncode == 0, proc.stderr
    return port_states(read_jsonl(out)), proc.stdout


@pytest.mark.parametrize("hot_path", ["numpy", "items"])
@pytest.mark.parametrize("path", ["clean", "lossy", "policed"])
def test_default_scan_is_exact_on_every_path(tmp_path: Path, hot_path: str, path: str) -> None:
    extra = {"clean": {}, "lossy": {"loss_percent": 5}, "policed": {"reply_rate_limit": 20000}}
    with Lab(SYN_6000.spec(**extra[path])) as lab:  # type: ignore[arg-type]
        states, stdout = scan(lab, tmp_path, hot_path)
    assert states == SYN_6000.expected()
    rate = RATE_LINE.search(stdout)
    assert rate is not None, stdout  # an adaptive scan says what the path allowed
    if path == "policed":
        assert "backed off" in stdout  # the policer was seen and respected
