"""A progress bar on stderr while a large capture is read; only on a terminal, never with -q."""

from __future__ import annotations

import os
import struct

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

SHOW_OVER = 16 << 20  # bytes: smaller files are read before a bar would help
RECORD_OVERHEAD = 30  # pcap record header + Ethernet header: the bytes around each IP packet


def capture_size(path: str) -> int:
    """Bytes of capture data: the file size, or for gzip the uncompressed size in its trailer
    (modulo 2^32, as gzip keeps it; a rough figure suffices for a bar)."""
    try:
        if not os.path.isfile(path):
            return 0  # a pipe: no size, and reading it here would lose its data
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b" or size < 18:
                return size
            f.seek(-4, os.SEEK_END)
            trailer: int = struct.unpack("<I", f.read(4))[0]
            return max(trailer, size)
    except OSError:
        return 0


class ReadProgress:
    def __init__(self, enabled: bool) -> None:
        console = Console(stderr=True)
        self._enabled = enabled and console.is_terminal and not console.is_dumb_terminal
        self._console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start_file(self, path: str) -> None:
        self.stop()
        size = capture_size(path)
        if not self._enabled or size < SHOW_OVER:
            return
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.fields[packets]:,} packets"), TimeRemainingColumn(),
            console=self._console, transient=True,
        )
        self._task = self._progress.add_task(os.path.basename(path), total=size, packets=0)
        self._progress.start()

    def tick(self, packets: int, ip_bytes: int) -> None:
        if self._progress is not None and self._task is not None:
            done = ip_bytes + packets * RECORD_OVERHEAD
            self._progress.update(self._task, completed=done, packets=packets)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
