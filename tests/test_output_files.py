"""Output files made under sudo belong to the user who ran sudo; files that existed keep theirs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rawscan.output.files import open_output
from rawscan_cli import rawscan_command

SYN = Path(__file__).resolve().parents[1] / "pcaps" / "syn-every-reply-kind.pcap"
NOBODY = 65534

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


@as_root
def test_files_made_under_sudo_go_to_the_invoking_user(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    existing = tmp_path / "existing.xml"
    existing.write_text("old")
    env = {**os.environ, "SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)}
    proc = subprocess.run(
        [rawscan_command(), "replay", str(SYN), "-q", "-oA", str(tmp_path / "scan"), "-oX", str(existing)],
        capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    for suffix in (".xml", ".gnmap", ".jsonl", ".csv"):
        made = (tmp_path / "scan").with_suffix(suffix).stat()
        assert (made.st_uid, made.st_gid) == (NOBODY, NOBODY), suffix
    assert existing.stat().st_uid == 0  # rewritten, but never given away
    assert "<nmaprun" in existing.read_text()


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
    monkeypatch.setattr(os, "chown", lambda *a: calls.append(a))
    with open_output(str(tmp_path / "mine.txt")) as out:
        out.write("x")
    assert calls == []
