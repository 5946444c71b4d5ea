"""Output files: made under sudo they go to the invoking user; links are never followed; a file
rawscan did not write is kept unless --force; nothing is emptied unless every output may be.

The commands run here are `rawscan replay` and `rawscan analyze` (no root, no network) and,
for --pcap, the live command's recording step with its transport replaced: nothing is sent.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from rawscan.errors import RawscanError
from rawscan.output.files import SIGNATURES, check_output, open_output

from tests.support.deadline import deadline
from tests.support.paths import PCAPS
from tests.support.rawscan_cli import one_error_line, rawscan, rawscan_command

SYN = PCAPS / "syn-every-reply-kind.pcap"
NMAP_XML = PCAPS / "analyze-nmap-syn.nmap.xml"  # nmap's own -oX: not rawscan's output
NOBODY = 65534
FORMATS = {"-oX": "xml", "-oG": "grep", "-oJ": "json", "-oC": "csv"}
SUFFIX = {"xml": ".xml", "grep": ".gnmap", "json": ".jsonl", "csv": ".csv"}
SECRET = "the file a link points to: it must never change\n"

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def run(*args: str) -> tuple[int, str, str]:
    """`rawscan ARGS` in this process: (exit code, stdout, stderr)."""
    import typer.main

    from rawscan.cli import app

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), deadline(60):
        code = typer.main.get_command(app).main(args=list(args), prog_name="rawscan",
                                                standalone_mode=False)
    return int(code or 0), out.getvalue(), err.getvalue()


def replay(*args: str) -> tuple[int, str, str]:
    return run("replay", str(SYN), "-q", *args)


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("rawscan: error: "), (code, err)
    for word in words:
        assert word in lines[0], (word, lines[0])


# --- sudo: the user's files are the user's --------------------------------------------------


@as_root
def test_files_made_under_sudo_go_to_the_invoking_user() -> None:
    """Under sudo files are opened with the user's rights (tests/test_privileges.py): new
    ones are the user's, and a root file the user could not write is refused, --force or not."""
    top = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's tmp_path is in root's 0700 directory
    try:
        os.chmod(top, 0o755)
        os.chown(top, NOBODY, NOBODY)
        existing = top / "existing.xml"
        existing.write_text("old")
        env = {**os.environ, "SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)}
        command = [rawscan_command(), "replay", str(SYN), "-q", "-oA", str(top / "scan")]
        proc = subprocess.run(command + ["-oX", str(existing), "--force"],
                              capture_output=True, text=True, timeout=60, env=env)
        assert_one_line_error(proc.returncode, proc.stderr, "existing.xml", "Permission denied")
        assert existing.read_text() == "old" and existing.stat().st_uid == 0
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        for suffix in (".xml", ".gnmap", ".jsonl", ".csv"):
            made = (top / "scan").with_suffix(suffix).stat()
            assert (made.st_uid, made.st_gid) == (NOBODY, NOBODY), suffix
    finally:
        shutil.rmtree(top, ignore_errors=True)


@as_root
def test_no_sudo_no_chown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDO_UID", raising=False)
    with open_output(str(tmp_path / "plain.txt")) as out:
        out.write("x")
    assert (tmp_path / "plain.txt").stat().st_uid == 0


def test_an_ordinary_user_never_chowns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_UID", str(NOBODY))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    calls: list[object] = []
    monkeypatch.setattr(os, "chown", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(os, "fchown", lambda *a, **k: calls.append(a))
    with open_output(str(tmp_path / "mine.txt")) as out:
        out.write("x")
    assert calls == []


# --- links are never followed ------------------------------------------------------------


@pytest.mark.parametrize("option", list(FORMATS))
def test_a_symbolic_link_is_never_followed(tmp_path: Path, option: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    link = tmp_path / "out"
    link.symlink_to(secret)
    code, _, err = replay(option, str(link))
    assert_one_line_error(code, err, str(link), "symbolic link")
    assert secret.read_text() == SECRET and link.is_symlink()


def test_a_dangling_link_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "would-be-created.xml"
    link = tmp_path / "out.xml"
    link.symlink_to(target)
    code, _, err = replay("-oX", str(link))
    assert_one_line_error(code, err, "symbolic link")
    assert not target.exists() and link.is_symlink()


@as_root
def test_as_root_a_link_planted_in_a_shared_sticky_directory_is_not_followed(tmp_path: Path) -> None:
    """/tmp's situation: world-writable and sticky, another user plants scan.xml -> a root
    file; `sudo rawscan ... -oX /tmp/scan.xml` must leave that file alone."""
    os.chmod(tmp_path, 0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    protected = tmp_path / "root-only.conf"
    protected.write_text(SECRET)
    os.chmod(protected, 0o600)
    for name in ("scan.xml", "scan.pcap"):
        link = shared / name
        link.symlink_to(protected)
        os.lchown(link, NOBODY, NOBODY)  # planted by another user
    proc = subprocess.run([rawscan_command(), "replay", str(SYN), "-q", "-oX", str(shared / "scan.xml")],
                          capture_output=True, text=True, timeout=60)
    assert_one_line_error(proc.returncode, proc.stderr, "scan.xml", "symbolic link")
    assert "Traceback" not in proc.stderr
    assert protected.read_text() == SECRET and protected.stat().st_uid == 0


@as_root
def test_another_users_file_in_a_shared_sticky_directory_is_refused_even_with_force(tmp_path: Path) -> None:
    """As fs.protected_regular does: its owner could read (or swap) what root writes."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    planted = shared / "scan.jsonl"
    planted.write_text("")
    os.chown(planted, NOBODY, NOBODY)
    code, _, err = replay("-oJ", str(planted), "--force")
    assert_one_line_error(code, err, "belongs to uid 65534")
    assert planted.read_text() == ""
    own = shared / "mine.jsonl"  # our own file there is fine
    assert replay("-oJ", str(own))[0] == 0 and replay("-oJ", str(own))[0] == 0


# --- a file rawscan did not write is kept unless --force ------------------------------------


@pytest.mark.parametrize("option", list(FORMATS))
@pytest.mark.parametrize("foreign", ["notes", "nmap-xml"])
def test_a_file_rawscan_did_not_write_is_kept_unless_force(tmp_path: Path, option: str,
                                                             foreign: str) -> None:
    path = tmp_path / "results"
    old = NMAP_XML.read_text() if foreign == "nmap-xml" else "my notes, not a scan result\n"
    path.write_text(old)
    code, _, err = replay(option, str(path))
    assert_one_line_error(code, err, str(path), "--force")
    assert path.read_text() == old
    code, _, err = replay(option, str(path), "--force")
    assert code == 0, err
    assert SIGNATURES[FORMATS[option]].match(path.read_bytes())


def test_its_own_output_and_an_empty_file_are_overwritten(tmp_path: Path) -> None:
    base = tmp_path / "scan"
    assert replay("-oA", str(base))[0] == 0
    first = {s: base.with_suffix(s).read_bytes() for s in SUFFIX.values()}
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = replay("-oA", str(base), "-oJ", str(empty))
    assert code == 0, err
    for kind, suffix in SUFFIX.items():
        again = base.with_suffix(suffix).read_bytes()
        assert SIGNATURES[kind].match(again) and len(again.splitlines()) >= 3
    for suffix in (".jsonl", ".csv"):  # the records themselves are the same
        assert base.with_suffix(suffix).read_bytes() == first[suffix]
    assert empty.read_bytes() == first[".jsonl"]


def test_nothing_is_emptied_unless_every_output_may_be_written(tmp_path: Path) -> None:
    base = tmp_path / "scan"
    assert replay("-oA", str(base))[0] == 0
    xml = base.with_suffix(".xml").read_bytes()
    base.with_suffix(".csv").write_text("a spreadsheet someone saved here\n")
    code, _, err = replay("-oA", str(base))
    assert_one_line_error(code, err, "scan.csv", "--force")
    assert base.with_suffix(".xml").read_bytes() == xml


def test_analyze_refuses_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "ports.jsonl"
    path.write_text("not rawscan's\n")
    code, out, err = run("analyze", str(PCAPS / "analyze-nmap-syn.pcap"), "-q", "-oJ", str(path))
    assert_one_line_error(code, err, "ports.jsonl", "--force")
    assert out == "" and path.read_text() == "not rawscan's\n"


def test_each_signature_matches_its_own_format_only(tmp_path: Path) -> None:
    base = tmp_path / "scan"
    assert replay("-oA", str(base))[0] == 0
    written = {kind: base.with_suffix(suffix).read_bytes() for kind, suffix in SUFFIX.items()}
    written["pcap"] = SYN.read_bytes()  # recorded by rawscan --pcap
    written["sidecar"] = Path(f"{SYN}.json").read_bytes()
    written["nmap-xml"] = NMAP_XML.read_bytes()
    written["tcpdump-pcap"] = (PCAPS / "analyze-nmap-syn.pcap").read_bytes()
    for kind, pattern in SIGNATURES.items():  # formats added later: no false matches at least
        matching = {name for name, data in written.items() if pattern.match(data)}
        assert matching == ({kind} if kind in written else set()), (kind, matching)


# --- not regular files ---------------------------------------------------------------------


def test_a_directory_a_fifo_without_reader_and_dev_null(tmp_path: Path) -> None:
    code, _, err = replay("-oJ", str(tmp_path))
    assert_one_line_error(code, err, str(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = replay("-oJ", str(fifo))  # deadline(60) in run(): a blocking open would hang
    assert_one_line_error(code, err, "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    code, _, err = replay("-oJ", "/dev/null")  # a character device: written, not truncated
    assert code == 0, err


def test_a_fifo_with_a_reader_gets_the_records(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # 200 records fit the pipe's buffer
    try:
        code, _, err = replay("-oJ", str(fifo))
        assert code == 0, err
        data = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert len(data.splitlines()) == 200 and SIGNATURES["json"].match(data)


def test_check_output_creates_nothing(tmp_path: Path) -> None:
    check_output(str(tmp_path / "new.xml"), "xml")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RawscanError, match="No such file or directory"):
        check_output(str(tmp_path / "no" / "dir.xml"), "xml")


# --- --pcap: the recording and its sidecar open the same way -------------------------------


class _NoNetwork:
    """Stands in for LiveTransport: the recording step is what is tested, nothing is sent."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        from rawscan.transports.base import SystemClock

        self.clock = SystemClock()
        self.closed = False

    def close(self) -> None:
        self.closed = True


@contextlib.contextmanager
def recording_step() -> Iterator[list[_NoNetwork]]:
    made: list[_NoNetwork] = []

    def transport(*args: object, **kwargs: object) -> _NoNetwork:
        made.append(_NoNetwork())
        return made[-1]

    def report(_plan: object, _probe: object, transport: object, _output: object,
               **_options: object) -> None:
        transport.close()  # type: ignore[attr-defined]  # the pcap writer closes its file

    with mock.patch("rawscan.transports.live.LiveTransport", transport), \
         mock.patch("rawscan.commands.scan.run_and_report", report):
        yield made


def record(pcap: Path, force: bool = False) -> None:
    from rawscan.commands.scan import _run_live
    from rawscan.output.options import OutputOptions
    from rawscan.plan import ScanPlan

    plan = ScanPlan.from_json(Path(f"{SYN}.json").read_text(), "sidecar")
    _run_live(plan, None, pcap, OutputOptions(force=force))


def test_pcap_and_sidecar_are_written_through_the_safe_path(tmp_path: Path) -> None:
    pcap = tmp_path / "scan.pcap"
    with recording_step() as made:
        record(pcap)
        assert made[-1].closed
        assert SIGNATURES["pcap"].match(pcap.read_bytes())
        assert SIGNATURES["sidecar"].match(Path(f"{pcap}.json").read_bytes())
        record(pcap)  # its own recording is overwritten without --force
        shutil.copy(SYN, pcap)  # so is one from an earlier rawscan
        shutil.copy(f"{SYN}.json", f"{pcap}.json")
        record(pcap)


@pytest.mark.parametrize("which", ["pcap", "sidecar"])
def test_pcap_recording_never_follows_a_link_nor_overwrites_a_foreign_file(
        tmp_path: Path, which: str) -> None:
    pcap = tmp_path / "scan.pcap"
    victim = pcap if which == "pcap" else Path(f"{pcap}.json")
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    victim.symlink_to(secret)
    with recording_step() as made:
        with pytest.raises(RawscanError, match="symbolic link"):
            record(pcap)
        assert made[-1].closed and secret.read_text() == SECRET
        victim.unlink()
        victim.write_text("someone's capture notes\n")
        with pytest.raises(RawscanError, match="--force"):
            record(pcap)
        assert victim.read_text() == "someone's capture notes\n"
        record(pcap, force=True)
        assert SIGNATURES[which].match(victim.read_bytes())


# --- kernel interface files -----------------------------------------------------------------


def test_kernel_interface_files_are_never_written() -> None:
    """As root, -oJ /proc/sys/kernel/hostname renamed the host. /proc/self/comm is harmless to
    try (it names rawscan's own process): it was written, exit 0."""
    proc = rawscan("replay", str(SYN), "-q", "-oJ", "/proc/self/comm")
    one_error_line(proc, "kernel interface file")
