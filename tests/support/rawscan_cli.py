"""Finding and running the installed rawscan command, as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def rawscan_command() -> str:
    """The console script installed next to this interpreter (pip install .), else on PATH."""
    beside = Path(sys.executable).with_name("rawscan")
    found = str(beside) if beside.exists() else shutil.which("rawscan")
    if not found:
        raise RuntimeError("the rawscan command is not installed: run 'pip install .' first")
    return found


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """The port records (a shard's first record, its plan, is left out)."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if "rawscan_shard" not in r]


def port_states(records: list[dict[str, object]]) -> dict[int, tuple[str, str]]:
    states: dict[int, tuple[str, str]] = {}
    for r in records:
        port = int(r["port"])  # type: ignore[arg-type]
        assert port not in states, f"port {port} reported twice"
        states[port] = (str(r["state"]), str(r["reason"]))
    return states


def one_error_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """The run failed with exactly one `rawscan: error:` line holding every word; that line."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, (proc.returncode, proc.stderr)
    assert lines[0].startswith("rawscan: error: ") and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def rawscan(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (SUDO_UID cleared unless env sets it)."""
    return subprocess.run([rawscan_command(), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd,
                          env={**os.environ, "SUDO_UID": "", "SUDO_GID": "", **(env or {})})


def process_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as {field: value} (Uid, Gid, CapEff ...): what a running rawscan holds."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
