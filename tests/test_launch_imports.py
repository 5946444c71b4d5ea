"""What `rawscan --help` and a small SYN scan load: start-up is mostly imports, so the heavy
ones (Scapy, numpy, rich's progress bar and help formatting, other commands' modules) must stay
off these paths. Timings are in the README; these tests only name the modules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Runs the console script's main() and, at its os._exit, lists every module it had imported.
_LIST_MODULES = """
import os, sys
exit_now = os._exit
def listing_exit(code):
    sys.stdout.flush()
    sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n")
    sys.stderr.flush()
    exit_now(code)
os._exit = listing_exit
sys.argv = ["rawscan"] + sys.argv[1:]
from rawscan.cli import main
main()
"""


def modules_loaded_by(*argv: str) -> tuple[int, set[str], str]:
    done = subprocess.run([sys.executable, "-c", _LIST_MODULES, *argv], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = done.stderr.splitlines()
    assert lines and lines[-1].startswith("MODULES "), done.stderr
    return done.returncode, set(lines[-1].split()[1:]), done.stdout


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.mark.parametrize("argv", [["--help"], ["syn", "--help"], []])
def test_help_loads_no_rich_scapy_or_scan_code(argv: list[str]) -> None:
    code, modules, shown = modules_loaded_by(*argv)
    assert "Usage: rawscan" in shown
    assert code == (2 if not argv else 0)  # a bare `rawscan`: help, and a usage exit code
    for heavy in ("rich", "scapy", "numpy", "rawscan.scan", "rawscan.engine", "xml"):
        assert loaded(modules, heavy) == [], heavy


def test_a_command_loads_only_its_own_module() -> None:
    _code, modules, _shown = modules_loaded_by("ports", "22")
    assert "rawscan.commands.ports" in modules
    others = {"scan", "replay", "resume", "analyze", "diff", "payloads"}
    assert [m for m in modules if m.rsplit(".", 1)[-1] in others
            and m.startswith("rawscan.commands.")] == []


def test_whole_help_still_lists_every_command() -> None:
    from rawscan.cli import COMMANDS

    _code, _modules, shown = modules_loaded_by("--help")
    listed = shown.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"\n  {name} " in listed, name


@pytest.mark.skipif(os.geteuid() != 0, reason="a live SYN scan needs root (raw sockets)")
def test_a_small_syn_scan_loads_no_scapy_numpy_or_progress_bar() -> None:
    # the root namespace's loopback only: 127.0.0.1 port 22, one probe
    code, modules, shown = modules_loaded_by("syn", "127.0.0.1", "-p", "22", "-q",
                                             "--retries", "0", "--timeout", "0.2")
    assert code == 0 and "rawscan done: 1 IP address" in shown, shown
    for heavy in ("scapy", "numpy", "rich.progress", "rich.table", "xml",
                  "rawscan.commands.analyze", "rawscan.compare"):
        assert loaded(modules, heavy) == [], heavy
