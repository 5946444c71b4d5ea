"""Running a command on a pseudo-terminal, to see what a user at a shell sees."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time


def run_on_terminal(argv: list[str], timeout: float = 60, **env: str) -> tuple[int, bytes]:
    """Run argv with stdout and stderr on a pseudo-terminal; (exit code, everything shown)."""
    master, slave = pty.openpty()
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color",
               "COLUMNS": "120", "LINES": "40", **env}
    chunks: list[bytes] = []
    proc = None
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                env=environ)
        os.close(slave)
        slave = -1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), b"".join(chunks)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()  # only the process this call started
            proc.wait()
        if slave >= 0:
            os.close(slave)
        os.close(master)
