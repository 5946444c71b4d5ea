"""rawscan ports: a port's names for TCP and UDP and its IANA class, asked by number or name."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from rawscan.services import SERVICES_FILE, names_for_port, ports_for_name

from tests.support.rawscan_cli import rawscan_command

needs_services = pytest.mark.skipif(not Path(SERVICES_FILE).exists(),
                                    reason="no /etc/services (apt-get install netbase)")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), "ports", *args], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})


def name_or_none(port: int, proto: str) -> str | None:
    try:
        return socket.getservbyport(port, proto)
    except OSError:
        return None


def test_lookups_in_both_directions_with_aliases(tmp_path: Path) -> None:
    db = tmp_path / "services"
    db.write_text("http 80/tcp www # web\nhttp 80/udp\nkerberos 88/tcp kerberos5 krb5\n"
                  "kerberos 88/udp kerberos5\nodd 7000/tcp\nodd 7001/udp\n")
    path = str(db)
    assert names_for_port(80, path) == {"tcp": ["http", "www"], "udp": ["http"]}
    assert names_for_port(88, path) == {"tcp": ["kerberos", "kerberos5", "krb5"],
                                        "udp": ["kerberos", "kerberos5"]}
    assert ports_for_name("WWW", path) == [(80, "tcp")]
    assert ports_for_name("kerberos5", path) == [(88, "tcp"), (88, "udp")]
    assert ports_for_name("odd", path) == [(7000, "tcp"), (7001, "udp")]  # a port per protocol
    assert names_for_port(9, path) == {} and ports_for_name("nosuch", path) == []


CASES = [(443, "system"), (3306, "registered"), (0, "system"), (1023, "system"),
         (1024, "registered"), (49151, "registered"), (49152, "dynamic"), (65535, "dynamic")]


@needs_services
def test_answers_names_per_protocol_and_class() -> None:
    proc = run(*(str(port) for port, _cls in CASES))  # one run, one block of 3 lines per port
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 * len(CASES)
    for i, (port, cls) in enumerate(CASES):
        head, *per_proto = lines[3 * i: 3 * i + 3]
        assert head.startswith(f"{port}: {cls} port (")
        for proto, line in zip(("tcp", "udp"), per_proto):
            want = name_or_none(port, proto)
            assert line.split()[0] == proto
            assert ("no name" in line) if want is None else line.split()[1].rstrip(",") == want


@needs_services
def test_name_lookup_agrees_with_the_system() -> None:
    proc = run("ssh", "domain", "https", "443")  # 443 twice: answered once
    assert proc.returncode == 0, proc.stderr
    heads = [line.split(":")[0] for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert heads == [str(socket.getservbyname(name, proto))
                     for name, proto in (("ssh", "tcp"), ("domain", "udp"), ("https", "tcp"))]


@pytest.mark.parametrize("query, words", [("70000", ["70000", "range"]), ("no-such-svc", ["no-such-svc"])])
def test_bad_queries_are_one_line_errors(query: str, words: list[str]) -> None:
    proc = run(query)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rawscan: error: ")
    assert all(w in lines[0] for w in words)
