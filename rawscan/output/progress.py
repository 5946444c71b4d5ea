"""A rich progress bar on stderr for runs longer than a second; off for pipes and with -q.

The engine calls update(stats) a few times a second. The bar follows first-round probes
(each endpoint once); retransmissions, replies and the rate are shown beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # rich.progress loads only when a bar is shown
    from rich.console import Console
    from rich.progress import Progress, TaskID

SHOW_AFTER = 1.0  # seconds: a quick run finishes before a bar would help


class ProgressStats(Protocol):
    """What the bar reads of a run's counters (the engine's ScanStats has them): the output
    side knows no engine."""

    @property
    def probes(self) -> int: ...  # distinct endpoints
    @property
    def sent(self) -> int: ...  # packets, retransmissions included
    @property
    def retransmitted(self) -> int: ...
    @property
    def matched(self) -> int: ...  # replies that decided an endpoint
    @property
    def rounds(self) -> int: ...


class ScanProgress:
    def __init__(
        self, console: Console, enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A bar needs a terminal that can redraw a line; rich knows (TTY, not TERM=dumb).
        self._enabled = enabled and console.is_terminal and not console.is_dumb_terminal
        self._console = console
        self._clock = clock
        self._began = clock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def update(self, stats: ProgressStats) -> None:
        if not self._enabled:
            return
        now = self._clock()
        if self._progress is None:
            if now - self._began < SHOW_AFTER or stats.probes == 0:
                return
            self._start(stats.probes)
        assert self._progress is not None and self._task is not None
        first_round = min(stats.sent - stats.retransmitted, stats.probes)
        rate = stats.sent / max(now - self._began, 1e-9)
        self._progress.update(
            self._task, completed=first_round,
            description="retrying" if stats.rounds > 1 else "scanning",
            sent=stats.sent, retransmitted=stats.retransmitted, replies=stats.matched,
            rate=rate, round=max(stats.rounds, 1),
        )
        if not self._progress.live.is_started:
            self._progress.start()  # after the first update: never draws an all-zero bar

    def _start(self, total: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} probes"),
            TextColumn("{task.fields[sent]:,} sent ({task.fields[retransmitted]:,} again)"),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TextColumn("{task.fields[replies]:,} replies"),
            TextColumn("round {task.fields[round]}"),
            TimeRemainingColumn(),
            console=self._console, transient=True, redirect_stdout=False, redirect_stderr=False,
        )
        self._task = self._progress.add_task(
            "scanning", total=total, sent=0, retransmitted=0, replies=0, rate=0.0, round=1)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()  # transient: the bar disappears before the report
            self._progress = None
