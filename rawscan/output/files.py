"""Opening output files safely: '-' is stdout, errors are one line, under sudo files are opened
with the user's rights, links are never followed, and a file rawscan did not write is kept
unless --force.

Under sudo every open (and every check and truncation before it) runs as the user behind sudo,
in a child process that passes the descriptor back (rawscan/privileges.py): the user can create
only what they could create themselves, the files are theirs, and a symbolic link anywhere in
the path (a directory part too) leads nowhere the user could not write anyway.

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
from collections.abc import Callable
from typing import BinaryIO, TextIO

from ..errors import RawscanError
from ..privileges import as_user, sudo_user

STDOUT = "-"

# How each format rawscan writes starts; "rawscan's own output" is a file starting this way.
SIGNATURES: dict[str, re.Pattern[bytes]] = {
    "xml": re.compile(rb'<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE nmaprun>\n'
                      rb"<!-- rawscan "),
    "grep": re.compile(rb"# rawscan \S+ scan initiated "),
    "json": re.compile(rb'\{"ip":"[0-9A-Fa-f.:]+","(?:proto":"(?:tcp|udp)","port":\d+,"state|status)":"'
                       rb'|\{"rawscan_shard":\{"argv":\['),  # a shard's: its record first
    "csv": re.compile(rb"ip,host,(?:proto,port,state,reason,ttl,service,class|status,reason,ttl,rtt_ms,mac)\r?\n"),
    # --pcap: Scapy's PcapWriter header (pcap 2.4, snaplen 65535, LINKTYPE_RAW), either order
    "pcap": re.compile(rb"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00{8}\xff\xff\x00\x00e\x00\x00\x00"
                       rb"|\xa1\xb2\xc3\xd4\x00\x02\x00\x04\x00{8}\x00\x00\xff\xff\x00\x00\x00e"),
    "sidecar": re.compile(rb'\{\n  "argv": \['),  # plan.to_json(): sorted keys, indent 2
    "resume": re.compile(rb'\{"rawscan_resume": 1, '),  # rawscan/resume.py
    "metadata": re.compile(rb'\{\n  "format": "rawscan-metadata/1"'),  # --metadata-file
}
_PEEK = 512  # bytes read to compare with a signature


def open_output(path: str, newline: str | None = None, *, kind: str | None = None,
                force: bool = False) -> TextIO:
    """A text stream for path ('-': stdout), opened as described above. `kind` is the format
    (a SIGNATURES key) an existing file must already be in; None accepts any of rawscan's.
    Under sudo it is opened as SUDO_UID/SUDO_GID (with their groups), so it is theirs."""
    if path == STDOUT:
        return sys.stdout
    fd = _open(path, kind, force, truncate=True)
    # surrogateescape: bytes in argv or names that are not UTF-8 are written back as given
    return os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline=newline)


def open_binary_output(path: str, kind: str, *, force: bool = False,
                       truncate: bool = True) -> BinaryIO:
    """Like open_output, for bytes (the --pcap recording and its sidecar); no stdout. The
    recording's write errors are reported (output/failures.py), not raised into the scan."""
    opened = os.fdopen(_open(path, kind, force, truncate=truncate), "wb")
    if kind == "pcap":
        from .failures import GuardedBinaryFile

        return GuardedBinaryFile(opened, path)  # type: ignore[return-value]  # a BinaryIO wrapper by duck typing
    return opened


def check_output(path: str, kind: str | None = None, *, force: bool = False,
                 truncate: bool = False) -> None:
    """Raise RawscanError now if open_output would refuse path; create nothing. With
    truncate, an accepted existing regular file is emptied (so that a later open_output,
    which knows no --force, accepts it): check every output first, then truncate them."""
    if path == STDOUT:
        return
    _with_user_rights(lambda: _check_here(path, kind, force, truncate))


def _check_here(path: str, kind: str | None, force: bool, truncate: bool) -> int:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise RawscanError(f"cannot write '{path}': No such file or directory") from None
        if not os.access(parent, os.W_OK | os.X_OK, effective_ids=True):
            raise _write_error(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES))) from None
        return -1
    except OSError as exc:
        raise _write_error(path, exc) from None
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(path)
    try:
        fd = _open_existing(path, kind, force, truncate, stream_too=False)
    except FileNotFoundError:
        return -1  # removed meanwhile: it will be created
    if fd >= 0:
        os.close(fd)
    return -1


def _with_user_rights(work: Callable[[], int]) -> int:
    """work() as the user behind sudo when there is one (rawscan/privileges.py), else here.
    Every name lookup, link check, creation and truncation then has that user's rights."""
    user = sudo_user()
    return work() if user is None else as_user(user, work)


def _open(path: str, kind: str | None, force: bool, truncate: bool) -> int:
    return _with_user_rights(lambda: _open_here(path, kind, force, truncate))


def _open_here(path: str, kind: str | None, force: bool, truncate: bool) -> int:
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
            raise _write_error(path, exc) from None
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
        raise _write_error(path, exc) from None
    try:
        st = os.fstat(probe)
    finally:
        os.close(probe)
    regular = stat.S_ISREG(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(path)
    if regular and _kernel_interface(st):
        raise RawscanError(
            f"refusing to write '{path}': it is a kernel interface file (/proc, /sys), where "
            f"writing results would change the system")
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
        raise _write_error(path, exc) from None
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


def _kernel_interface(st: os.stat_result) -> bool:
    """On procfs or sysfs (or a filesystem mounted below them): /proc/sys/kernel/hostname is
    a "regular file" of size 0 that root may write, and writing JSON there renames the host."""
    for top in ("/proc", "/sys"):
        try:
            if os.stat(top).st_dev == st.st_dev:
                return True
        except OSError:
            continue
    with open("/proc/self/mountinfo", "rb") if os.path.exists("/proc/self/mountinfo") else \
            open(os.devnull, "rb") as mounts:  # filesystems mounted below /proc or /sys
        for line in mounts:
            fields = line.split()
            if len(fields) > 4 and fields[4].startswith((b"/proc/", b"/sys/")):
                major, _, minor = fields[2].partition(b":")
                if os.makedev(int(major), int(minor)) == st.st_dev:
                    return True
    return False


def _write_error(path: str, exc: OSError) -> RawscanError:
    """One line; a refusal under sudo says whose rights it was."""
    message = f"cannot write '{path}': {exc.strerror}"
    sudo_uid = os.environ.get("SUDO_UID", "")
    if exc.errno in (errno.EACCES, errno.EPERM) and sudo_uid == str(os.geteuid()) != "0":
        message += f" (under sudo rawscan writes with the rights of the user behind it, uid {sudo_uid})"
    return RawscanError(message)


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


def file_identity(path: str) -> tuple[object, ...]:
    """What a path names, for telling whether two names are one file (`a` and `./a`, or through
    a linked directory): (device, inode) of an existing file, else of its directory plus the
    name. Character devices (/dev/null) are their own kind: any number of outputs may share one."""
    try:
        st = os.fstat(1) if path == STDOUT else os.stat(path)
    except OSError:
        parent = os.path.dirname(os.path.abspath(path))
        try:
            pst = os.stat(parent)
        except OSError:
            return ("path", os.path.normpath(os.path.abspath(path)))
        return ("new", pst.st_dev, pst.st_ino, os.path.basename(path))
    if stat.S_ISCHR(st.st_mode):
        return ("device", path)
    return ("file", st.st_dev, st.st_ino)
