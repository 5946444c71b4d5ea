"""Opening output files: '-' is stdout, errors are one line, files made under sudo go to the user."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from ..errors import RawscanError

STDOUT = "-"


def open_output(path: str, newline: str | None = None) -> TextIO:
    """A text stream for path ('-': stdout). A file this call creates while running as root
    under sudo is handed to SUDO_UID/SUDO_GID, so the user can read, move and delete it."""
    if path == STDOUT:
        return sys.stdout
    try:
        created = _create(path)
        out = open(path, "w", encoding="utf-8", newline=newline)  # noqa: SIM115 (writer owns it)
    except OSError as exc:
        raise RawscanError(f"cannot write '{path}': {exc.strerror}") from None
    if created:
        hand_to_invoking_user(path)
    return out


def _create(path: str) -> bool:
    """Create path if it does not exist; True if this call made it. Only files we made are
    chowned: `sudo rawscan -oX /etc/something` must never give the user a system file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def invoking_user() -> tuple[int, int] | None:
    """(uid, gid) of the user behind sudo when we run as root, else None."""
    if os.geteuid() != 0:
        return None
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if not uid.isdigit():
        return None
    return int(uid), int(gid) if gid.isdigit() else -1


def hand_to_invoking_user(path: str) -> None:
    user = invoking_user()
    if user is None:
        return
    try:
        os.chown(path, *user)
    except OSError as exc:  # e.g. a filesystem without owners: the file is still written
        print(f"rawscan: warning: cannot give '{path}' to uid {user[0]}: {exc.strerror}",
              file=sys.stderr)
