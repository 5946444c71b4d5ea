"""Source addresses (rawscan/sources.py): the kernel's route to a target picks them, and a
broadcast address is named as one. The scan runs in a namespace this test makes, and a broadcast
address is refused before any probe."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.support.rawscan_cli import one_error_line, rawscan_command

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets and namespaces need root")


# --- a broadcast address --------------------------------------------------------------------


@as_root
def test_a_broadcast_target_is_named_as_one() -> None:
    """Was `no route to 198.18.7.255: Permission denied (give -S or -e)`."""
    ns = f"rs-bcast-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for argv in (["link", "set", "lo", "up"],
                     ["link", "add", "b0", "type", "veth", "peer", "name", "b1"],
                     ["addr", "add", "198.18.7.1/24", "dev", "b0"],
                     ["link", "set", "b0", "up"], ["link", "set", "b1", "up"]):
            subprocess.run(["ip", "-n", ns, *argv], check=True)
        proc = subprocess.run(["ip", "netns", "exec", ns, rawscan_command(), "syn", "198.18.7.255",
                               "-p", "1", "-q", "--resume-file", "/dev/null"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        one_error_line(proc, "198.18.7.255 is a broadcast address")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
