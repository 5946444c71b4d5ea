"""Under sudo rawscan opens every file it writes (outputs, --pcap, its sidecar, the resume
file) and reads every capture and sidecar with the rights of the user behind sudo, never root's;
without raw sockets its advice (exit 77) gives them to nobody else.

Runs `rawscan replay` and `rawscan analyze` (no network) and the live command's recording step
with its transport replaced, so nothing is sent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawscan.errors import RawscanError

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import one_error_line, process_status, rawscan, rawscan_command
from tests.support.syn_recording import SYN, sidecar_plan

NOBODY = 65534
SUDO_NOBODY = {"SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)}

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory tree the sudo user (nobody) can reach: pytest's own tmp_path is root's 0700.
    Inside: `home` (nobody's own directory) and `system` (root's, 0755, like /etc)."""
    top = Path(tempfile.mkdtemp(prefix="rawscan-reliab-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        (top / "home").mkdir()
        os.chown(top / "home", NOBODY, NOBODY)
        (top / "system").mkdir(mode=0o755)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


# --- under sudo, files are opened with the user's rights ------------------------------------


@as_root
@pytest.mark.parametrize("option", ["-oG", "-oX", "-oJ", "-oC", "-oA"])
def test_under_sudo_no_output_lands_where_the_user_could_not_write(world: Path, option: str) -> None:
    """`sudo rawscan -oG /etc/profile.d/x.sh` gave the user a root-sourced script."""
    system, home = world / "system", world / "home"
    link = home / "etc"  # nobody's link into root's directory: a directory part of the path
    link.symlink_to(system)
    os.lchown(link, NOBODY, NOBODY)
    for path in (system / "x.sh", link / "x.sh"):
        proc = rawscan("replay", str(SYN), "-q", option, str(path), env=SUDO_NOBODY)
        one_error_line(proc, "Permission denied", "uid 65534")
        assert list(system.iterdir()) == [], proc.stderr


@as_root
def test_under_sudo_outputs_are_created_by_the_user(world: Path) -> None:
    home = world / "home"
    proc = rawscan("replay", str(SYN), "-q", "-oA", str(home / "scan"), env=SUDO_NOBODY)
    assert proc.returncode == 0, proc.stderr
    for suffix in (".xml", ".gnmap", ".jsonl", ".csv"):
        st = (home / "scan").with_suffix(suffix).stat()
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


class _NoNetwork:
    def __init__(self, *_args: object, **_kwargs: object) -> None:
        from rawscan.transports.base import SystemClock

        self.clock = SystemClock()

    def close(self) -> None:
        pass


@contextlib.contextmanager
def recording_step() -> Iterator[None]:
    """The live command's file opening, with nothing sent: run_and_report only closes."""
    from unittest import mock

    def report(_plan: object, _probe: object, transport: object, _output: object,
               **_options: object) -> None:
        transport.close()  # type: ignore[attr-defined]

    with mock.patch("rawscan.transports.live.LiveTransport", _NoNetwork), \
         mock.patch("rawscan.commands.scan.run_and_report", report):
        yield


@as_root
def test_under_sudo_pcap_sidecar_and_resume_file_have_the_users_rights(
        world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rawscan.commands.scan import _run_live
    from rawscan.output.options import OutputOptions
    from rawscan.resume import write_resume

    for name, value in SUDO_NOBODY.items():
        monkeypatch.setenv(name, value)
    system, home = world / "system", world / "home"
    (home / "etc").symlink_to(system)
    plan = sidecar_plan()
    for pcap in (system / "x.pcap", home / "etc" / "x.pcap"):
        with recording_step(), pytest.raises(RawscanError, match="Permission denied"):
            _run_live(plan, None, pcap, OutputOptions())
        with pytest.raises(RawscanError, match="Permission denied"):
            write_resume(str(pcap.with_suffix(".resume")), plan, b"\0")
    assert list(system.iterdir()) == []
    with recording_step():
        _run_live(plan, None, home / "x.pcap", OutputOptions())
    write_resume(str(home / "x.resume"), plan, b"\0" * ((len(plan.targets) * len(plan.ports) + 7) // 8))
    for made in ("x.pcap", "x.pcap.json", "x.resume"):
        assert (home / made).stat().st_uid == NOBODY, made


# --- analyze and replay parse as the user, never as root ------------------------------------


@as_root
@pytest.mark.parametrize("command", ["replay", "analyze"])
def test_under_sudo_captures_and_sidecars_are_parsed_as_the_user(world: Path, command: str) -> None:
    """The input is a FIFO: the moment rawscan opens it to read, its ids are looked at."""
    fifo = world / "home" / "input"
    os.mkfifo(fifo, 0o644)
    if command == "replay":
        args, feed = ["replay", str(SYN), "--plan", str(fifo)], Path(f"{SYN}.json").read_bytes()
    else:
        args, feed = ["analyze", str(fifo)], (PCAPS / "analyze-nmap-syn.pcap").read_bytes()
    proc = subprocess.Popen([rawscan_command(), *args, "-q", "-oJ", str(world / "home" / "out.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **SUDO_NOBODY})
    try:
        writer = -1
        for _ in range(3000):  # until the reader is there (ENXIO before): it is about to read
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                import time

                time.sleep(0.01)
        assert writer >= 0, "rawscan never opened its input"
        status = process_status(proc.pid)
        os.set_blocking(writer, True)
        os.write(writer, feed)
        os.close(writer)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert status["Uid"].split() == [str(NOBODY)] * 4 and int(status["CapEff"], 16) == 0, status
    assert proc.returncode == 0, err
    assert (world / "home" / "out.jsonl").stat().st_uid == NOBODY


# --- the resume file is opened with the outputs, with the user's rights ---------------------


_INTERRUPTED_REPLAY = """
import sys
from pathlib import Path
from rawscan.commands.common import run_and_report, user_errors
from rawscan.interrupts import request_stop
from rawscan.output.options import OutputOptions
from rawscan.plan import ScanPlan
from rawscan.privileges import drop_privileges
from rawscan.scan import probe_for
from rawscan.capture import read_ip_packets
from rawscan.transports.replay import ReplayTransport

capture, resume_path, out = sys.argv[1:4]
plan = ScanPlan.from_json(Path(capture + ".json").read_text(), "sidecar")
probe = probe_for(plan)
transport = ReplayTransport(((p.time, p.ip) for p in read_ip_packets(capture)), probe.flow)
def stop_at_once():  # as a Ctrl-C right after root is given up
    drop_privileges()
    request_stop()
import click
try:
    with user_errors():
        run_and_report(plan, probe, transport, OutputOptions(json_out=out, quiet=True),
                       resume_path=resume_path, before_scan=stop_at_once)
except click.exceptions.Exit as exc:
    sys.exit(exc.exit_code)
"""


def interrupted_scan(cwd: Path, resume_path: str, out: Path) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-c", _INTERRUPTED_REPLAY, str(SYN), resume_path, str(out)],
                          capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **SUDO_NOBODY})


@as_root
def test_under_sudo_the_resume_file_is_opened_before_root_is_given_up(world: Path) -> None:
    home, system = world / "home", world / "system"
    proc = interrupted_scan(home, "rawscan.resume", home / "a.jsonl")
    assert proc.returncode == 130, proc.stderr
    assert "To finish this scan: rawscan resume rawscan.resume" in proc.stdout
    assert (home / "rawscan.resume").stat().st_uid == NOBODY
    from rawscan.resume import load_resume

    load_resume(str(home / "rawscan.resume"))
    # named, in a directory only root may write to: refused before the scan, not lost after it
    proc = interrupted_scan(home, str(system / "scan.resume"), home / "b.jsonl")
    assert proc.returncode == 2 and "Permission denied" in proc.stderr, proc.stderr
    assert "Starting" not in proc.stdout and list(system.iterdir()) == []
    # the default name in such a directory: the scan runs, and says at once it is not resumable
    proc = interrupted_scan(system, "rawscan.resume", home / "c.jsonl")
    assert proc.returncode == 130, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("rawscan: warning: an interrupted scan will not be resumable"), first
    assert list(system.iterdir()) == []


# --- the exit-77 advice ---------------------------------------------------------------------


def test_privilege_advice_never_suggests_setcap_on_a_shared_interpreter(tmp_path: Path) -> None:
    from rawscan.privileges import privilege_advice

    shared = tmp_path / "usr" / "bin" / "python3.11"
    shared.parent.mkdir(parents=True)
    shared.touch()
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").symlink_to(shared)  # what `python3 -m venv` makes by default
    for executable, prefix, base in ((str(shared), str(shared.parents[1]), str(shared.parents[1])),
                                     (str(venv / "bin" / "python3"), str(venv), str(shared.parents[1]))):
        advice = privilege_advice("rawscan syn x", executable, prefix, base)
        assert "sudo rawscan syn x" in advice and "\n" not in advice
        assert f"setcap cap_net_raw+ep {shared}" not in advice, advice
        assert "--copies" in advice and "every script" in advice
    copy = venv / "bin" / "python3"
    copy.unlink()
    copy.touch()  # `python3 -m venv --copies`: the environment's own interpreter
    advice = privilege_advice("rawscan syn x", str(copy), str(venv), str(shared.parents[1]))
    assert f"setcap cap_net_raw+ep {copy}" in advice
