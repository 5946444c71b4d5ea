"""Giving up root once the raw sockets and output files are open.

Everything after that point (parsing replies that anyone on the network may have crafted,
writing results) runs as the user behind sudo: the open sockets and files keep working, and a
bug in the reply path cannot be turned into root access.
"""

from __future__ import annotations

import os

from .output.files import invoking_user


def drop_privileges() -> tuple[int, int] | None:
    """Become SUDO_UID/SUDO_GID (real, effective and saved ids, no supplementary groups) when
    running as root under sudo; the change of uid from 0 clears every capability. Returns the
    (uid, gid) taken, or None when there is nobody to become (plain root, or not root)."""
    user = invoking_user()
    if user is None:
        return None
    uid, gid = user
    if gid < 0:
        import pwd

        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            gid = uid
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    return uid, gid
