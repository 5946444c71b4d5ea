"""Service names come from the system's services database, read once."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rawscan.services import SERVICES_FILE, _table, service_name


@pytest.mark.skipif(not Path(SERVICES_FILE).exists(), reason="no /etc/services (install netbase)")
def test_agrees_with_getservbyport() -> None:
    for proto in ("tcp", "udp"):
        for port in (22, 53, 80, 123, 161, 443, 3306, 5353, 9, 1, 65535, 31337):
            try:
                want = socket.getservbyport(port, proto)
            except OSError:
                want = "unknown"
            assert service_name(port, proto) == want


def test_parses_a_services_file(tmp_path: Path) -> None:
    path = tmp_path / "services"
    path.write_text("# comment\nssh\t\t22/tcp\t\t\t# SSH\nhttp 80/tcp www\nhttp2 80/tcp\nbad line\nx y/z\n")
    table = _table(str(path))
    assert table == {(22, "tcp"): "ssh", (80, "tcp"): "http"}
    assert _table(str(tmp_path / "missing")) == {}
