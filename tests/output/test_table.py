"""The human report: colours only on a terminal, NO_COLOR and TERM=dumb honoured, the port class
shown; the progress bar only on a terminal, after a second, and never with -q."""

from __future__ import annotations

import io
import os
import re
import subprocess

from rich.console import Console

from rawscan.engine import ScanStats
from rawscan.output.progress import SHOW_AFTER, ScanProgress

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan, rawscan_command
from tests.support.terminal import run_on_terminal

SYN = PCAPS / "syn-every-reply-kind.pcap"
COLOUR = re.compile(rb"\x1b\[[0-9;]*3[0-7]m|\x1b\[[0-9;]*38;")  # a foreground colour SGR


def replay_argv() -> list[str]:
    return [rawscan_command(), "replay", str(SYN)]


def test_colours_on_a_terminal() -> None:
    code, out = run_on_terminal(replay_argv())
    assert code == 0, out
    assert COLOUR.search(out), out[:500]
    assert b"22/tcp" in out


def test_no_color_and_dumb_terminals_get_none() -> None:
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        code, out = run_on_terminal(replay_argv(), **env)
        assert code == 0, out
        assert b"22/tcp" in out and not COLOUR.search(out), env


def test_pipes_get_plain_text_with_the_port_class() -> None:
    proc = subprocess.run(replay_argv(), capture_output=True, timeout=60,
                          env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0
    assert b"\x1b[" not in proc.stdout + proc.stderr
    assert proc.stderr == b""  # no progress bar, no escape codes: stderr is not a terminal
    header = next(line for line in proc.stdout.decode().splitlines() if line.startswith("PORT"))
    assert header.split() == ["PORT", "STATE", "REASON", "SERVICE", "CLASS"]
    row = next(line for line in proc.stdout.decode().splitlines() if line.startswith("22/tcp"))
    assert row.split()[-1] == "system"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stats(sent: int, probes: int = 200, matched: int = 0) -> ScanStats:
    return ScanStats(probes=probes, sent=sent, matched=matched, rounds=1)


def terminal(buffer: io.StringIO) -> Console:
    return Console(file=buffer, force_terminal=True, width=150, color_system=None)


def test_progress_appears_after_a_second_on_a_terminal() -> None:
    buffer, clock = io.StringIO(), Clock()
    bar = ScanProgress(terminal(buffer), clock=clock)
    bar.update(stats(10))
    assert not bar.shown  # a quick scan never shows a bar
    clock.now += SHOW_AFTER + 0.1
    bar.update(stats(120, matched=37))
    assert bar.shown
    bar.stop()
    text = buffer.getvalue()
    assert "120/200 probes" in text and "37 replies" in text and "/s" in text


def test_no_progress_off_a_terminal_or_when_quiet() -> None:
    for console, enabled in ((Console(file=io.StringIO(), force_terminal=False), True),
                             (terminal(io.StringIO()), False)):
        clock = Clock()
        bar = ScanProgress(console, enabled=enabled, clock=clock)
        clock.now += 5
        bar.update(stats(100))
        assert not bar.shown
        bar.stop()
        assert console.file.getvalue() == ""  # type: ignore[attr-defined]


# --- an unusable terminal size --------------------------------------------------------------


def test_columns_zero_loses_no_report_line() -> None:
    proc = rawscan("replay", str(SYN), "-q", env={"COLUMNS": "0"})
    assert proc.returncode == 0, proc.stderr
    for line in ("Starting rawscan", "Probes:", "rawscan done:"):
        assert line in proc.stdout, proc.stdout
