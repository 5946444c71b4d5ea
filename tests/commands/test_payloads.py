"""rawscan payloads: the list a user reads matches what the UDP scan sends."""

from __future__ import annotations

import subprocess

from scapy.layers.dns import DNS

from rawscan.payloads import BUILDERS, payload_for

from tests.support.rawscan_cli import rawscan_command


def run(*args: str) -> str:
    proc = subprocess.run([rawscan_command(), "payloads", *args], capture_output=True, text=True,
                          timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_lists_every_probe() -> None:
    out = run()
    for port in BUILDERS:
        assert f"{port}/udp" in out
        assert payload_for(port).description in out
    assert "empty datagram" in out


def test_one_port_shows_the_bytes_sent() -> None:
    out = run("53")
    hex_line = out.strip().splitlines()[-1]
    query = DNS(bytes.fromhex(hex_line.replace(" ", "")))
    assert query.qd[0].qname == b"."
