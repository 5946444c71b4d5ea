"""Root and the user behind sudo: whether raw sockets may be opened (and the advice when
not), giving root up once they are open, and doing file work with the user's rights before
that (output/files.py opens every file through as_user()).

Everything after the drop (parsing replies that anyone on the network may have crafted,
writing results) runs as the user behind sudo: the open sockets and files keep working, and a
bug in the reply path cannot be turned into root access.

Files are opened before the drop (a resume file must be there even if the scan is cut short),
but never with root's rights: `sudo rawscan -oG /etc/profile.d/x.sh` or an output path through
a linked directory must get no further than the user could get alone. So each such open runs in
a short-lived child process that has become the user (with the user's groups), and the child
hands the open descriptor back over a Unix socket (SCM_RIGHTS).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from .errors import RawscanError


class PrivilegeError(RawscanError):
    exit_code = 77  # EX_NOPERM from sysexits.h


def has_raw_socket_capability() -> bool:
    """CAP_NET_RAW in the effective set (uid 0 alone is not enough, nor required)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 13))
    except OSError:
        pass
    return os.geteuid() == 0


def invoking_user() -> tuple[int, int] | None:
    """(uid, gid) of the user behind sudo when we run as root, else None."""
    if os.geteuid() != 0:
        return None
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if not uid.isdigit():
        return None
    return int(uid), int(gid) if gid.isdigit() else -1


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary groups, as a login of that user has them


def sudo_user(with_groups: bool = True) -> User | None:
    """The user behind sudo when running as root, else None."""
    ids = invoking_user()
    if ids is None:
        return None
    import pwd

    uid, gid = ids
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        entry = None
    if gid < 0:
        gid = entry.pw_gid if entry is not None else uid
    groups: tuple[int, ...] = ()
    if with_groups and entry is not None:
        try:
            groups = tuple(os.getgrouplist(entry.pw_name, gid))
        except OSError:
            groups = ()
    return User(uid, gid, groups)


def _become(user: User) -> None:
    os.setgroups(list(user.groups))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)


def drop_privileges(keep_groups: bool = False) -> tuple[int, int] | None:
    """Become SUDO_UID/SUDO_GID (real, effective and saved ids; no supplementary groups, or
    the user's own with keep_groups) when running as root under sudo; the change of uid from 0
    clears every capability. Returns the (uid, gid) taken, or None when there is nobody to
    become (plain root, or not root). Commands that need no root at all (analyze, replay)
    call it first of all, so crafted captures and sidecars are only ever parsed as the user."""
    user = sudo_user(with_groups=keep_groups)
    if user is None:
        return None
    _import_while_root(SCAN_REPORT_MODULES)
    _become(user)
    return user.uid, user.gid


def _import_while_root(modules: tuple[str, ...]) -> None:
    """Import modules needed after the drop (see _PARSING_MODULES below for why)."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # optional (another version's module): imported later, if at all


def as_user(user: User, work: Callable[[], int]) -> int:
    """Run work() as `user` in a child process; it returns an open descriptor (or -1 for
    none), which is passed back and returned here. A RawscanError in the child is raised here
    with its message; so is any other failure, as one line."""
    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            pid = os.fork()
        except OSError as exc:
            child_end.close()
            raise RawscanError(f"cannot open a file as uid {user.uid}: {exc.strerror}") from None
        if pid == 0:  # the child: nothing here may return or raise into the caller's code
            status = 0
            try:
                parent_end.close()
                _become(user)
                fd = work()
                if fd >= 0:
                    socket.send_fds(child_end, [b"ok"], [fd])
                else:
                    child_end.sendall(b"ok")
            except RawscanError as exc:
                child_end.sendall(b"E" + str(exc).encode("utf-8", "replace"))
            except BaseException as exc:  # noqa: BLE001 - reported as one line by the parent
                child_end.sendall(b"E" + f"cannot open as uid {user.uid}: {exc}".encode(
                    "utf-8", "replace"))
                status = 1
            finally:
                os._exit(status)
        child_end.close()
        chunks, fds = [], []
        while True:
            data, got, _flags, _addr = socket.recv_fds(parent_end, 65536, 1)
            fds += got
            if not data:
                break
            chunks.append(data)
        os.waitpid(pid, 0)
    finally:
        parent_end.close()
    reply = b"".join(chunks)
    if reply.startswith(b"ok"):
        return fds[0] if fds else -1
    for fd in fds:
        os.close(fd)
    raise RawscanError(reply[1:].decode("utf-8", "replace") or "cannot open as the invoking user")


# What analyze and replay import after giving root up. Under sudo the interpreter may live
# where only root can read (pyenv in /root): imported first, while still root, they need no
# file access later. Parsing is what must happen as the user, not importing rawscan.
_PARSING_MODULES = (
    "json", "csv", "gzip", "zlib", "shlex", "base64", "tempfile", "random", "decimal",
    "fractions", "xml.sax.saxutils", "xml.etree.ElementTree", "encodings.idna",
    "numpy", "rich.console", "rich.table", "rich.progress", "rich.live", "rich.markup",
    "rich.text", "rich._emoji_codes", "rich._unicode_data", "rich._export_format",
    "rawscan.plan", "rawscan.capture", "rawscan.results", "rawscan.services",
    "rawscan.output.base", "rawscan.output.csvfile", "rawscan.output.grepable",
    "rawscan.output.jsonl", "rawscan.output.nmapxml", "rawscan.output.progress",
    "rawscan.output.table", "rawscan.compare.load", "rawscan.compare.changes",
    "rawscan.compare.report",
)
# What a live scan imports only after the drop: the human report (its table needs
# unicodedata, a C extension beside the interpreter)
SCAN_REPORT_MODULES = ("rawscan.output.table",)
REPLAY_MODULES = _PARSING_MODULES + (
    "rawscan.scan", "rawscan.engine", "rawscan.payloads", "rawscan.probes.tcp_syn",
    "rawscan.probes.udp", "rawscan.probes.syn_batch", "rawscan.transports.replay",
    "scapy.layers.inet", "scapy.layers.inet6", "scapy.layers.dns", "scapy.layers.snmp",
    "scapy.layers.ntp", "scapy.layers.netbios", "scapy.layers.tftp", "scapy.layers.dhcp",
    "rawscan.api.replay", "rawscan.api.running", "rawscan.api.summary",
)
ANALYZE_MODULES = REPLAY_MODULES + (
    "rawscan.analyze.batches", "rawscan.analyze.flows", "rawscan.analyze.ordered",
    "rawscan.analyze.packets", "rawscan.analyze.progress", "rawscan.analyze.reader", "rawscan.analyze.report",
    "rawscan.analyze.scanners", "rawscan.analyze.sidecar", "rawscan.analyze.store",
    "rawscan.api.analysis",
)


def drop_privileges_before_parsing(modules: tuple[str, ...]) -> None:
    """For commands that need no root (analyze, replay): under sudo, import what they use,
    then become the user (with the user's groups, to reach the user's files) before any
    capture or sidecar, which anyone may have crafted, is read."""
    if sudo_user(with_groups=False) is None:
        return
    _import_while_root(modules)
    drop_privileges(keep_groups=True)


def privilege_error() -> PrivilegeError:
    import shutil
    import sys

    script = shutil.which("rawscan") or os.path.abspath(sys.argv[0])
    command = " ".join([script, *sys.argv[1:]])
    return PrivilegeError(privilege_advice(command, sys.executable, sys.prefix, sys.base_prefix))


def privilege_advice(command: str, executable: str, prefix: str, base_prefix: str) -> str:
    """sudo, or the capability on an interpreter that runs nothing but rawscan: never on a
    shared one (a virtual environment's python is usually a link to it), which would give raw
    sockets to every script run with it."""
    real = os.path.realpath(executable)
    own_copy = prefix != base_prefix and real.startswith(os.path.join(os.path.realpath(prefix), ""))
    if own_copy:
        capability = f"grant the capability to this environment's own interpreter with " \
                     f"'sudo setcap cap_net_raw+ep {real}'"
    else:
        capability = (f"give the capability to an interpreter of rawscan's own, not the shared "
                      f"{real} (every script run with it would get raw sockets): "
                      f"'python3 -m venv --copies DIR', install rawscan there, then "
                      f"'sudo setcap cap_net_raw+ep DIR/bin/python3'")
    return f"raw sockets need root or CAP_NET_RAW: run 'sudo {command}', or {capability}"


def require_raw_sockets() -> None:
    if not has_raw_socket_capability():
        raise privilege_error()
