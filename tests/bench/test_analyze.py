"""The analyze benchmark script runs and prints its figures (at a small size: no timing here,
the figures are for people; see python -m rawscan.bench.analyze)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


from rawscan.bench.analyze import generate

from tests.support.captures import analyze


def test_generated_sweep_is_analyzed_as_generated(tmp_path: Path) -> None:
    path = tmp_path / "sweep.pcap"
    count = generate(path, 5000)
    assert count >= 5000
    obs = analyze(path)
    assert obs.stats.packets == count and obs.stats.unmatched == 0
    assert obs.stats.matched > 0 and obs.stats.ordinary > 0


def test_benchmark_script_prints_its_figures() -> None:
    proc = subprocess.run([sys.executable, "-m", "rawscan.bench.analyze", "--packets", "3000",
                           "--no-tshark"], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "packets/s" in proc.stdout and "peak RSS" in proc.stdout and "exit 0" in proc.stdout


def test_the_ipv6_sweep_is_analyzed_as_the_ipv4_one(tmp_path: Path) -> None:
    """--ipv6 writes the same sweep in 2001:2::/48: the same counts, verdict for verdict."""
    stats = []
    for v6 in (False, True):
        path = tmp_path / f"sweep{int(v6)}.pcap"
        count = generate(path, 5000, v6)
        obs = analyze(path)
        assert obs.stats.ipv6 == (count if v6 else 0)
        verdicts = sorted((obs.verdicts.table[obs.endpoints.verdict[row]] or "silent").__repr__()
                          for row in obs.endpoints.rows.values())
        stats.append((count, obs.stats.matched, obs.stats.probes, obs.stats.ordinary, verdicts))
    ipv4, ipv6 = stats
    # ICMP 3/13 and ICMPv6 1/1 are both admin-prohibited: the verdicts agree too
    assert ipv4 == ipv6
