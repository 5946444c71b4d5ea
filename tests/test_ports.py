from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawscan.errors import RawscanError
from rawscan.ports import (
    DEFAULT_TCP_PORTS,
    DEFAULT_UDP_PORTS,
    PortError,
    PortSpec,
    parse_ports,
    port_class,
)


@pytest.mark.parametrize(
    "spec, tcp, udp",
    [
        ("22", (22,), ()),
        ("22,80,443", (22, 80, 443), ()),
        ("443,22,80,22", (22, 80, 443), ()),
        ("1-5", (1, 2, 3, 4, 5), ()),
        ("-3", (1, 2, 3), ()),
        ("65533-", (65533, 65534, 65535), ()),
        ("0", (0,), ()),
        ("0-2", (0, 1, 2), ()),
        ("7-7", (7,), ()),
        ("T:80,443,U:53,161", (80, 443), (53, 161)),
        ("22,U:53,T:80", (22, 80), (53,)),
        ("u:53,t:22", (22,), (53,)),
        ("U:53-55,53", (), (53, 54, 55)),
        (" 22 , 80 ", (22, 80), ()),
    ],
)
def test_valid(spec: str, tcp: tuple[int, ...], udp: tuple[int, ...]) -> None:
    assert parse_ports(spec) == PortSpec(tcp=tcp, udp=udp)


def test_all_ports() -> None:
    spec = parse_ports("-")
    assert spec.tcp == tuple(range(1, 65536))  # '-' excludes port 0, as in nmap
    assert spec.udp == ()
    assert parse_ports("-1024").tcp == tuple(range(1, 1025))
    assert parse_ports("60000-").tcp == tuple(range(60000, 65536))
    assert parse_ports("0-").tcp == tuple(range(0, 65536))


def test_default_proto_udp() -> None:
    assert parse_ports("53,161", default_proto="udp") == PortSpec(tcp=(), udp=(53, 161))
    assert parse_ports("53,T:22", default_proto="udp") == PortSpec(tcp=(22,), udp=(53,))
    with pytest.raises(ValueError):
        parse_ports("22", default_proto="sctp")


def test_none_gives_defaults() -> None:
    assert parse_ports(None) == PortSpec(tcp=DEFAULT_TCP_PORTS, udp=())
    assert parse_ports(None, default_proto="udp") == PortSpec(tcp=(), udp=DEFAULT_UDP_PORTS)


def test_default_lists_are_sane() -> None:
    for ports, low, high in ((DEFAULT_TCP_PORTS, 90, 110), (DEFAULT_UDP_PORTS, 25, 40)):
        assert low <= len(ports) <= high
        assert list(ports) == sorted(set(ports))
        assert all(1 <= p <= 65535 for p in ports)
    for p in (21, 22, 23, 25, 53, 80, 110, 143, 443, 445, 3306, 3389, 5432):
        assert p in DEFAULT_TCP_PORTS
    for p in (53, 67, 69, 123, 137, 161, 500, 514, 520, 1900, 5353, 11211):
        assert p in DEFAULT_UDP_PORTS


@pytest.mark.parametrize(
    "spec, message",
    [
        ("http", "invalid port item 'http': 'http' is not a number"),
        ("22,ssh", "invalid port item 'ssh': 'ssh' is not a number"),
        ("70000", "invalid port item '70000': 70000 is out of range 0-65535"),
        ("1-65536", "invalid port item '1-65536': 65536 is out of range 0-65535"),
        ("100-1", "invalid port item '100-1': range is reversed"),
        ("1-2-3", "invalid port item '1-2-3': '2-3' is not a number"),
        ("+5", "invalid port item '+5': '+5' is not a number"),
        ("22,,80", "invalid port list '22,,80': empty item"),
        ("22,", "invalid port list '22,': empty item"),
        ("T:", "invalid port list 'T:': empty item"),
        ("X:80", "invalid port item 'X:80': unknown prefix 'X:' (use T: or U:)"),
        ("S:80", "invalid port item 'S:80': unknown prefix 'S:' (use T: or U:)"),
        ("", "empty port list: give ports such as '22,80' or '1-1024'"),
        ("  ", "empty port list: give ports such as '22,80' or '1-1024'"),
    ],
)
def test_invalid(spec: str, message: str) -> None:
    with pytest.raises(PortError) as info:
        parse_ports(spec)
    assert str(info.value) == message
    assert isinstance(info.value, RawscanError)


def test_port_class() -> None:
    assert [port_class(p) for p in (0, 1023, 1024, 49151, 49152, 65535)] == [
        "system",
        "system",
        "registered",
        "registered",
        "dynamic",
        "dynamic",
    ]
    for bad in (-1, 65536):
        with pytest.raises(ValueError):
            port_class(bad)


_item = st.tuples(st.integers(0, 65535), st.integers(0, 65535)).map(sorted)


@given(st.lists(st.tuples(st.booleans(), _item), min_size=1, max_size=8))
def test_random_lists_match_set_model(items: list[tuple[bool, list[int]]]) -> None:
    model: dict[bool, set[int]] = {True: set(), False: set()}
    parts = []
    for is_udp, (lo, hi) in items:
        model[is_udp].update(range(lo, hi + 1))
        parts.append(f"{'U' if is_udp else 'T'}:{lo}" + (f"-{hi}" if hi != lo else ""))
    spec = parse_ports(",".join(parts))
    assert spec.tcp == tuple(sorted(model[False]))
    assert spec.udp == tuple(sorted(model[True]))
