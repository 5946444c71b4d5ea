"""The analyze benchmark script runs and prints its figures (at a small size: no timing here,
the figures are for people; see python -m rawscan.bench.analyze)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from analyze_helpers import analyze

from rawscan.bench.analyze import generate


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
