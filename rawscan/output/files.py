"""Opening output files safely: '-' is stdout, errors are one line, files made under sudo go to
the user, links are never followed, and a file rawscan did not write is kept unless --force.

A scan runs as root and is often told to write into /tmp. A symbolic link planted there
(/tmp/scan.xml -> /etc/shadow) must not be followed, so the last path component is opened
with O_NOFOLLOW: a new file with O_CREAT | O_EXCL, an existing one without O_CREAT, then
checked with fstat on the open descriptor (a regular file, or a character device or FIFO such
as /dev/null, which are written as streams) before anything is truncated. In a shared sticky
directory a file owned by someone else is refused, as Linux's fs.protected_regular does, since
its owner could read what we write. Overwriting is allowed for an empty file or one whose start
is what rawscan writes in that format (the "signature" below); anything else needs --force.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from typing import BinaryIO, TextIO

from ..errors import RawscanError

STDOUT = "-"

# How each format rawscan writes starts; "rawscan's own output" is a file starting this way.
SIGNATURES: dict[str, re.Pattern[bytes]] = {
    "xml": re.compile(rb'<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE nmaprun>\n'
                      rb"<!-- rawscan "),
    "grep": re.compile(rb"# rawscan \S+ scan initiated "),
    "json": re.compile(rb'\{"ip":"[0-9A-Fa-f.:]+","proto":"(?:tcp|udp)","port":\d+,"state":"'),
    "csv": re.compile(rb"ip,host,proto,port,state,reason,ttl,service,class\r?\n"),
    # --pcap: Scapy's PcapWriter header (pcap 2.4, snaplen 65535, LINKTYPE_RAW), either order
    "pcap": re.compile(rb"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00{8}\xff\xff\x00\x00e\x00\x00\x00"
                       rb"|\xa1\xb2\xc3\xd4\x00\x02\x00\x04\x00{8}\x00\x00\xff\xff\x00\x00\x00e"),
    "sidecar": re.compile(rb'\{\n  "argv": \['),  # plan.to_json(): sorted keys, indent 2
    "resume": re.compile(rb'\{"rawscan_resume": 1, '),  # rawscan/resume.py
}
_PEEK = 512  # bytes read to compare with a signature


def open_output(path: str, newline: str | None = None, *, kind: str | None = None,
                force: bool = False) -> TextIO:
    """A text stream for path ('-': stdout), opened as described above. `kind` is the format
    (a SIGNATURES key) an existing file must already be in; None accepts any of rawscan's.
    A file this call creates while running as root under sudo is handed to SUDO_UID/SUDO_GID,
    so the user can read, move and delete it."""
    if path == STDOUT:
        return sys.stdout
    fd = _open(path, kind, force, truncate=True)
    return os.fdopen(fd, "w", encoding="utf-8", newline=newline)


def open_binary_output(path: str, kind: str, *, force: bool = False) -> BinaryIO:
    """Like open_output, for bytes (the --pcap recording and its sidecar); no stdout."""
    return os.fdopen(_open(path, kind, force, truncate=True), "wb")


def check_output(path: str, kind: str | None = None, *, force: bool = False,
                 truncate: bool = False) -> None:
    """Raise RawscanError now if open_output would refuse path; create nothing. With
    truncate, an accepted existing regular file is emptied (so that a later open_output,
    which knows no --force, accepts it): check every output first, then truncate them."""
    if path == STDOUT:
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise RawscanError(f"cannot write '{path}': No such file or directory") from None
        return
    except OSError as exc:
        raise RawscanError(f"cannot write '{path}': {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(path)
    try:
        fd = _open_existing(path, kind, force, truncate, stream_too=False)
    except FileNotFoundError:
        return  # removed meanwhile: it will be created
    if fd >= 0:
        os.close(fd)


def _open(path: str, kind: str | None, force: bool, truncate: bool) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _attempt in range(3):  # created, or found, unless it vanishes or appears in between
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            try:
                return _open_existing(path, kind, force, truncate)
            except FileNotFoundError:
                continue  # removed between the two opens: try creating it again
        except OSError as exc:
            raise RawscanError(f"cannot write '{path}': {exc.strerror}") from None
        _hand_over(fd, path)
        return fd
    raise RawscanError(f"cannot write '{path}': it keeps appearing and disappearing")


def _open_existing(path: str, kind: str | None, force: bool, truncate: bool,
                   stream_too: bool = True) -> int:
    """An existing path opened for writing, after the checks; FileNotFoundError if it went.
    stream_too=False: a FIFO or device is checked but not opened (-1): opening and closing
    a FIFO would end its reader's input."""
    # O_PATH opens the name itself without reading or writing (a link too, never its target),
    # so we know what it is before opening it for real.
    try:
        probe = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RawscanError(f"cannot write '{path}': {exc.strerror}") from None
    try:
        st = os.fstat(probe)
    finally:
        os.close(probe)
    regular = stat.S_ISREG(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(path)
    if regular:
        flags = os.O_RDWR  # read too: the start is compared with the format's signature
    elif stat.S_ISFIFO(st.st_mode):
        flags = os.O_WRONLY | os.O_NONBLOCK  # no reader: ENXIO now rather than a hang
    elif stat.S_ISCHR(st.st_mode):
        flags = os.O_WRONLY  # /dev/null and the like: written as a stream
    else:
        raise RawscanError(f"cannot write '{path}': not a regular file")
    _check_owner(path, st)
    if not (regular or stream_too):
        return -1
    flags |= os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
    try:
        try:
            fd = os.open(path, flags)
        except PermissionError:
            if not regular:
                raise
            fd = os.open(path, flags & ~os.O_RDWR | os.O_WRONLY)  # writable but unreadable
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_error(path) from None
        if exc.errno == errno.ENXIO:
            raise RawscanError(f"cannot write '{path}': a FIFO that no process reads") from None
        raise RawscanError(f"cannot write '{path}': {exc.strerror}") from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise RawscanError(f"cannot write '{path}': it was replaced while being opened")
        if regular:
            if not force:
                _check_ours(path, fd, now, kind)
            if truncate:
                os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _link_error(path: str) -> RawscanError:
    return RawscanError(
        f"refusing to write '{path}': it is a symbolic link, which rawscan never follows when "
        f"writing (name the file it points to, or use '-' for stdout)")


def _check_owner(path: str, st: os.stat_result) -> None:
    """In a world-writable sticky directory (/tmp), only our own files or the directory
    owner's: another user's file there may have been planted to read what we write."""
    try:
        parent = os.stat(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return
    shared = parent.st_mode & stat.S_ISVTX and parent.st_mode & stat.S_IWOTH
    if shared and st.st_uid not in (os.geteuid(), parent.st_uid):
        raise RawscanError(
            f"refusing to write '{path}': it belongs to uid {st.st_uid} in a shared directory "
            f"(its owner could read or redirect what rawscan writes); choose another file name")


def _check_ours(path: str, fd: int, st: os.stat_result, kind: str | None) -> None:
    """Refuse to overwrite a non-empty file that is not rawscan's own output in this format."""
    if st.st_size == 0 and st.st_nlink == 1:
        return
    try:
        head = os.pread(fd, _PEEK, 0)
    except OSError:
        head = b""  # opened write-only: cannot tell, so not known to be ours
    patterns = list(SIGNATURES.values()) if kind is None else (
        [SIGNATURES[kind]] if kind in SIGNATURES else [])  # an unknown kind is never "ours"
    ours = any(p.match(head) for p in patterns) and st.st_nlink == 1
    if not ours:
        what = f"rawscan {kind} output" if kind is not None else "rawscan output"
        extra = " (and has other hard links)" if st.st_nlink > 1 else ""
        raise RawscanError(
            f"refusing to overwrite '{path}': it exists and is not {what}{extra}; "
            f"pass --force to overwrite it")


def invoking_user() -> tuple[int, int] | None:
    """(uid, gid) of the user behind sudo when we run as root, else None."""
    if os.geteuid() != 0:
        return None
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if not uid.isdigit():
        return None
    return int(uid), int(gid) if gid.isdigit() else -1


def _hand_over(fd: int, path: str) -> None:
    """Only files we made are chowned (through the descriptor, not the name): `sudo rawscan
    -oX /etc/something` must never give the user a system file."""
    user = invoking_user()
    if user is None:
        return
    try:
        os.fchown(fd, *user)
    except OSError as exc:  # e.g. a filesystem without owners: the file is still written
        print(f"rawscan: warning: cannot give '{path}' to uid {user[0]}: {exc.strerror}",
              file=sys.stderr)


def hand_to_invoking_user(path: str) -> None:
    """chown a file this run created by name (never following a link) to the sudo user."""
    user = invoking_user()
    if user is None:
        return
    try:
        os.chown(path, *user, follow_symlinks=False)
    except OSError as exc:
        print(f"rawscan: warning: cannot give '{path}' to uid {user[0]}: {exc.strerror}",
              file=sys.stderr)
