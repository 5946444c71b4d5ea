from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.addresses import V6, addr_to_str, parse_addr, parse_ipv4
from rawscan.errors import RawscanError
from rawscan.targets import (
    FAMILIES,
    MAX_TARGETS,
    TargetError,
    TargetSet,
    parse_targets,
    read_target_file,
)

BASE = parse_addr("198.18.0.0")


def ips(ts: TargetSet) -> list[str]:
    return [addr_to_str(a) for a in ts]


def fake_resolver(table: dict[str, list[str]]) -> tuple[Callable[[str], list[str]], list[str]]:
    calls: list[str] = []

    def resolve(name: str) -> list[str]:
        calls.append(name)
        if name not in table:
            raise OSError("no such host")
        return table[name]

    return resolve, calls


def test_ip_conversions() -> None:
    assert parse_ipv4("0.0.0.0") == 0
    assert parse_ipv4("255.255.255.255") == 2**32 - 1
    assert parse_ipv4("198.18.0.2") == (198 << 24) | (18 << 16) | 2
    assert addr_to_str(parse_ipv4("10.1.2.3")) == "10.1.2.3"
    for bad in ["1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.x", "1.2.3.04", "", "1..2.3"]:
        with pytest.raises(ValueError):
            parse_ipv4(bad)
    with pytest.raises(ValueError):
        addr_to_str(2**32)
    with pytest.raises(ValueError):
        addr_to_str(-1)


def test_target_error_is_rawscan_error() -> None:
    assert issubclass(TargetError, RawscanError)
    assert TargetError("x").exit_code == 2


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("198.18.0.2", ["198.18.0.2"]),
        ("198.18.0.0/30", ["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3"]),
        ("198.18.0.5/30", ["198.18.0.4", "198.18.0.5", "198.18.0.6", "198.18.0.7"]),
        ("198.18.0.9/32", ["198.18.0.9"]),
        ("198.18.0.1-3", ["198.18.0.1", "198.18.0.2", "198.18.0.3"]),
        ("198.18.0.1,3,5", ["198.18.0.1", "198.18.0.3", "198.18.0.5"]),
        ("198.18.0.5,1-2,2", ["198.18.0.1", "198.18.0.2", "198.18.0.5"]),
        ("198.18.0-1.1-2", ["198.18.0.1", "198.18.0.2", "198.18.1.1", "198.18.1.2"]),
        ("198.18.1,0.7", ["198.18.0.7", "198.18.1.7"]),
        ("198.18.0.254-", ["198.18.0.254", "198.18.0.255"]),
        ("198.18.0.-1", ["198.18.0.0", "198.18.0.1"]),
        ("198.18.0.255-198.18.1.1", ["198.18.0.255", "198.18.1.0", "198.18.1.1"]),
        ("198.18.0.4-198.18.0.4", ["198.18.0.4"]),
    ],
)
def test_valid_specs(spec: str, expected: list[str]) -> None:
    assert ips(parse_targets([spec])) == expected


def test_octet_wildcards_collapse_to_one_range() -> None:
    ts = parse_targets(["10.0-3.*.*"])
    assert ts.ranges == ((parse_addr("10.0.0.0"), parse_addr("10.3.255.255")),)
    assert len(parse_targets(["198.18.0.-"])) == 256
    # Non-contiguous product: one range per (second, third) octet pair.
    ts = parse_targets(["198.18-19.0-1.1-5"])
    assert len(ts.ranges) == 4 and len(ts) == 20


@pytest.mark.parametrize(
    "spec, message",
    [
        ("198.18.0.300", "invalid target '198.18.0.300': octet out of range"),
        ("198.18.0", "invalid target '198.18.0': expected four dot-separated octets"),
        ("198.18.0.1.2", "invalid target '198.18.0.1.2': expected four dot-separated octets"),
        ("198.18.0.1/33", "invalid target '198.18.0.1/33': prefix length must be 0-32"),
        ("198.18.0.1/", "invalid target '198.18.0.1/': prefix length must be 0-32"),
        ("198.18.0.1/x", "invalid target '198.18.0.1/x': prefix length must be 0-32"),
        ("/24", "invalid target '/24': missing address before '/'"),
        ("198.18.0.9-1", "invalid target '198.18.0.9-1': reversed octet range '9-1'"),
        ("198.18.0.1-2-3", "invalid target '198.18.0.1-2-3': bad octet range '1-2-3'"),
        ("198.18.0.1,,2", "invalid target '198.18.0.1,,2': empty octet"),
        ("198.18..1", "invalid target '198.18..1': empty octet"),
        ("198.18.0.010", "invalid target '198.18.0.010': octet '010' has a leading zero"),
        (
            "198.18.0.9-198.18.0.1",
            "invalid target '198.18.0.9-198.18.0.1': range start is after its end",
        ),
        ("198.18.0.1-198.18.0.300", "invalid target '198.18.0.1-198.18.0.300': octet out of range"),
        ("198.18.0-2.1/24", "invalid target '198.18.0-2.1/24': octet '0-2' is not a number"),
    ],
)
def test_invalid_specs(spec: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_targets([spec], resolve=lambda name: [])
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_fragmented_octet_spec_is_refused_not_expanded() -> None:
    with pytest.raises(TargetError, match=r"^invalid target '\*\.\*\.\*\.1': expands to"):
        parse_targets(["*.*.*.1"], allow_large=True)


def test_dedup_and_merge() -> None:
    ts = parse_targets(["198.18.0.1-10", "198.18.0.5", "198.18.0.8/29", "198.18.0.20", "198.18.0.1"])
    assert ts.ranges == ((BASE + 1, BASE + 15), (BASE + 20, BASE + 20))
    assert len(ts) == 16
    # Adjacent ranges merge too.
    assert parse_targets(["198.18.0.0/25", "198.18.0.128/25"]).ranges == ((BASE, BASE + 255),)


def test_whitespace_separated_specs_in_one_string() -> None:
    assert ips(parse_targets(["198.18.0.1 198.18.0.3\n\t198.18.0.2", ""])) == [
        "198.18.0.1",
        "198.18.0.2",
        "198.18.0.3",
    ]


def test_exclude() -> None:
    ts = parse_targets(["198.18.0.0/28"], exclude=["198.18.0.0", "198.18.0.4-7", "198.18.0.15"])
    assert ts.ranges == ((BASE + 1, BASE + 3), (BASE + 8, BASE + 14))
    assert len(ts) == 10
    # Excludes outside the targets are harmless.
    assert len(parse_targets(["198.18.0.1"], exclude=["10.0.0.0/8"])) == 1


def test_exclude_errors_name_the_exclude() -> None:
    with pytest.raises(TargetError, match=r"^invalid exclude '1\.2\.3': expected four"):
        parse_targets(["198.18.0.1"], exclude=["1.2.3"])


def test_empty_results() -> None:
    with pytest.raises(TargetError, match="^no targets to scan"):
        parse_targets([])
    with pytest.raises(TargetError, match="^no targets to scan"):
        parse_targets(["  "])
    with pytest.raises(TargetError, match="^no targets to scan.*excluded"):
        parse_targets(["198.18.0.0/24"], exclude=["198.18.0.0/23"])


def test_large_sets_need_allow_large_and_are_not_expanded() -> None:
    slash8 = parse_targets(["10.0.0.0/8"])  # exactly 2**24: allowed
    assert len(slash8) == 2**24
    assert slash8.ranges == ((parse_addr("10.0.0.0"), parse_addr("10.255.255.255")),)
    with pytest.raises(TargetError, match="--allow-large"):
        parse_targets(["10.0.0.0/7"])
    with pytest.raises(TargetError, match="--allow-large"):
        parse_targets(["0.0.0.0/0"])
    # Exclusions count: a /7 minus a /8 is fine without the flag.
    assert len(parse_targets(["10.0.0.0/7"], exclude=["11.0.0.0/8"])) == 2**24
    everything = parse_targets(["0.0.0.0/0"], allow_large=True)
    assert len(everything) == 2**32
    assert everything.address(0) == 0
    assert everything.address(2**32 - 1) == 2**32 - 1
    assert parse_addr("8.8.8.8") in everything
    almost = parse_targets(["0.0.0.0/0"], exclude=["10.0.0.0/8"], allow_large=True)
    assert len(almost) == 2**32 - 2**24
    assert almost.address(parse_addr("10.0.0.0")) == parse_addr("11.0.0.0")


def test_address_index_matches_iteration() -> None:
    ts = parse_targets(["198.18.0.1,3,5-9", "198.18.1.0/30", "198.18.2.255"])
    listed = list(ts)
    assert len(listed) == len(ts) == 12
    assert [ts.address(i) for i in range(len(ts))] == listed
    for bad in (-1, len(ts), len(ts) + 100):
        with pytest.raises(IndexError):
            ts.address(bad)


def test_contains() -> None:
    ts = parse_targets(["198.18.0.1-3", "198.18.0.10"])
    assert BASE + 1 in ts and BASE + 3 in ts and BASE + 10 in ts
    assert BASE not in ts and BASE + 4 not in ts and BASE + 11 not in ts
    assert 0 not in ts and 2**32 - 1 not in ts
    assert "198.18.0.1" not in ts  # only ints are addresses


def test_resolve_injected_once_and_labels() -> None:
    resolve, calls = fake_resolver(
        {"web.example": ["198.18.0.7"], "dual.example": ["2001:db8::1", "198.18.0.9"]}
    )
    ts = parse_targets(
        ["web.example", "198.18.0.6-8", "dual.example", "web.example"],
        exclude=["web.example/31"],
        resolve=resolve,
    )
    # web.example/31 covers .6-.7, so web.example itself is gone.
    assert ips(ts) == ["198.18.0.8", "198.18.0.9"]
    assert calls == ["web.example", "dual.example"]
    assert dict(ts.names) == {BASE + 9: "dual.example"}
    assert ts.label(BASE + 9) == "dual.example (198.18.0.9)"
    assert ts.label(BASE + 8) == "198.18.0.8"


def test_name_with_prefix() -> None:
    resolve, _ = fake_resolver({"net.example": ["198.18.0.77"]})
    ts = parse_targets(["net.example/30"], resolve=resolve)
    assert ips(ts) == ["198.18.0.76", "198.18.0.77", "198.18.0.78", "198.18.0.79"]
    assert ts.label(BASE + 77) == "net.example (198.18.0.77)"


def test_unresolvable_names() -> None:
    resolve, _ = fake_resolver({"v6only.example": ["2001:db8::1"], "empty.example": []})
    for name in ["nosuch.invalid", "v6only.example", "empty.example"]:
        with pytest.raises(TargetError) as info:
            parse_targets([name], resolve=resolve)
        assert str(info.value) == f"cannot resolve host '{name}'"


def test_default_resolver_localhost() -> None:
    ts = parse_targets(["localhost"])
    assert len(ts) == 1
    (addr,) = ts
    assert addr_to_str(addr).startswith("127.")
    assert ts.label(addr) == f"localhost ({addr_to_str(addr)})"


def test_targetset_built_by_hand_is_normalised_and_read_only() -> None:
    ts = TargetSet(((5, 9), (1, 3), (4, 4)), {5: "x"})
    assert ts.ranges == ((1, 9),)
    assert len(ts) == 9
    with pytest.raises(TypeError):
        ts.names[6] = "y"  # type: ignore[index]
    assert hash(ts) == hash(TargetSet(((1, 9),), {}))
    assert TargetSet(()).ranges == () and len(TargetSet(())) == 0


def test_read_target_file(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text(
        "# lab hosts\n198.18.0.1 198.18.0.2\t198.18.0.3  # trailing comment\n\n  198.18.1.0/30\n#198.18.9.9\n"
    )
    specs = read_target_file(str(path))
    assert specs == ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.1.0/30"]
    assert len(parse_targets(specs)) == 7


def test_read_target_file_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("198.18.0.1\n198.18.0.2 # x\n"))
    assert read_target_file("-") == ["198.18.0.1", "198.18.0.2"]


def test_read_target_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(TargetError) as info:
        read_target_file(str(missing))
    assert str(info.value) == f"cannot read file '{missing}': No such file or directory"
    with pytest.raises(TargetError, match="cannot read file"):
        read_target_file(str(tmp_path))  # a directory
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(TargetError, match="not a UTF-8 text file"):
        read_target_file(str(binary))


# Property test: random specs inside 198.18.0.0/22 against a naive set model.

_LOW = BASE
_SPAN = 1024


@st.composite
def spec_and_model(draw: st.DrawFn) -> tuple[str, set[int]]:
    kind = draw(st.sampled_from(["single", "cidr", "dash", "full", "octets"]))
    if kind == "single":
        a = _LOW + draw(st.integers(0, _SPAN - 1))
        return addr_to_str(a), {a}
    if kind == "cidr":
        prefix = draw(st.integers(22, 32))
        a = _LOW + draw(st.integers(0, _SPAN - 1))
        net = ipaddress.ip_network(f"{addr_to_str(a)}/{prefix}", strict=False)
        return f"{addr_to_str(a)}/{prefix}", {int(x) for x in net}
    if kind == "dash":
        third = draw(st.integers(0, 3))
        lo, hi = sorted(draw(st.lists(st.integers(0, 255), min_size=2, max_size=2)))
        base = _LOW + (third << 8)
        return f"198.18.{third}.{lo}-{hi}", set(range(base + lo, base + hi + 1))
    if kind == "full":
        lo, hi = sorted(draw(st.lists(st.integers(0, _SPAN - 1), min_size=2, max_size=2)))
        return f"{addr_to_str(_LOW + lo)}-{addr_to_str(_LOW + hi)}", set(range(_LOW + lo, _LOW + hi + 1))
    thirds = draw(st.sets(st.integers(0, 3), min_size=1))
    fourths = draw(st.sets(st.integers(0, 255), min_size=1, max_size=6))
    spec = f"198.18.{','.join(map(str, thirds))}.{','.join(map(str, fourths))}"
    return spec, {_LOW + (t << 8) + f for t in thirds for f in fourths}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(spec_and_model(), min_size=1, max_size=6),
    st.lists(spec_and_model(), max_size=4),
)
def test_random_specs_match_set_model(
    include: list[tuple[str, set[int]]], exclude: list[tuple[str, set[int]]]
) -> None:
    model = set().union(*(m for _, m in include)) - set().union(*(m for _, m in exclude))
    specs = [s for s, _ in include]
    excludes = [s for s, _ in exclude]
    if not model:
        with pytest.raises(TargetError, match="^no targets to scan"):
            parse_targets(specs, exclude=excludes)
        return
    ts = parse_targets(specs, exclude=excludes)
    assert list(ts) == sorted(model)
    assert len(ts) == len(model)
    for i in range(0, len(ts), 7):
        assert ts.address(i) == sorted(model)[i]
    for lo, hi in ts.ranges:
        assert lo <= hi
    for (_, hi), (lo, _) in zip(ts.ranges, ts.ranges[1:]):
        assert hi + 1 < lo  # sorted, merged, not even adjacent
    for probe in (_LOW - 1, _LOW, _LOW + 500, _LOW + _SPAN):
        assert (probe in ts) == (probe in model)


def test_index_is_the_inverse_of_address() -> None:
    targets = parse_targets(["198.18.0.1-3", "198.18.1.250-255", "198.19.0.0/30"])
    for i in range(len(targets)):
        assert targets.index(targets.address(i)) == i
    for outside in (parse_addr("198.18.0.0"), parse_addr("198.18.0.4"), parse_addr("198.18.1.249"),
                    parse_addr("198.19.0.4"), 0, 2**32 - 1):
        assert targets.index(outside) is None


# --- IPv6 ---

V6_BASE = parse_addr("2001:2::")


def v6ips(ts: TargetSet) -> list[str]:
    return [addr_to_str(a) for a in ts]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("2001:2::2", ["2001:2::2"]),
        ("[2001:2::2]", ["2001:2::2"]),
        ("2001:0002:0000::0002", ["2001:2::2"]),  # any spelling, one canonical address
        ("2001:2::5/126", ["2001:2::4", "2001:2::5", "2001:2::6", "2001:2::7"]),  # host bits set
        ("[2001:2::]/127", ["2001:2::", "2001:2::1"]),
        ("2001:2::9/128", ["2001:2::9"]),
        ("2001:2::fe-2001:2::101", ["2001:2::fe", "2001:2::ff", "2001:2::100", "2001:2::101"]),
        ("[2001:2::1]-[2001:2::2]", ["2001:2::1", "2001:2::2"]),
        ("::1", ["::1"]),
    ],
)
def test_valid_v6_specs(spec: str, expected: list[str]) -> None:
    ts = parse_targets([spec])
    assert v6ips(ts) == expected
    assert all(a >= V6 for a in ts)
    assert ts.families() == (socket.AF_INET6,)


def test_v6_and_v4_are_distinct_and_v4_sorts_first() -> None:
    ts = parse_targets(["::1", "0.0.0.1", "2001:2::/127", "198.18.0.1"])
    assert v6ips(ts) == ["0.0.0.1", "198.18.0.1", "::1", "2001:2::", "2001:2::1"]
    assert len(ts) == 5
    assert ts.families() == (socket.AF_INET, socket.AF_INET6)
    assert ts.first_of(socket.AF_INET) == 1
    assert ts.first_of(socket.AF_INET6) == parse_addr("::1")
    assert all(lo <= hi and (hi <= 2**32 - 1 or lo >= V6) for lo, hi in ts.ranges)
    only_v4 = parse_targets(["198.18.0.1"])
    assert only_v4.families() == (socket.AF_INET,) and only_v4.first_of(socket.AF_INET6) is None
    only_v6 = parse_targets(["2001:2::1"])
    assert only_v6.first_of(socket.AF_INET) is None


def test_v6_excludes_and_mixed_excludes() -> None:
    ts = parse_targets(["2001:2::/124", "198.18.0.0/30"],
                       exclude=["2001:2::/126", "2001:2::8-2001:2::a", "[2001:2::f]", "198.18.0.1"])
    assert v6ips(ts) == ["198.18.0.0", "198.18.0.2", "198.18.0.3",
                         "2001:2::4", "2001:2::5", "2001:2::6", "2001:2::7",
                         "2001:2::b", "2001:2::c", "2001:2::d", "2001:2::e"]
    # an IPv4 exclude never removes an IPv6 address with the same low bits, nor the reverse
    assert len(parse_targets(["::1"], exclude=["0.0.0.1"])) == 1
    assert len(parse_targets(["0.0.0.1"], exclude=["::/96"])) == 1
    with pytest.raises(TargetError, match="every target is excluded"):
        parse_targets(["2001:2::1"], exclude=["2001:2::/64"])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("2001:2::1/129", "invalid target '2001:2::1/129': prefix length must be 0-128"),
        ("[2001:2::]/x", "invalid target '[2001:2::]/x': prefix length must be 0-128"),
        ("2001:2::1-ff", "invalid target '2001:2::1-ff': both ends of an IPv6 range must be full "
                         "IPv6 addresses"),
        ("2001:2::1-198.18.0.1", "invalid target '2001:2::1-198.18.0.1': both ends of an IPv6 "
                                 "range must be full IPv6 addresses"),
        ("2001:2::9-2001:2::1", "invalid target '2001:2::9-2001:2::1': range start is after its end"),
        ("2001:2:::1", "invalid target '2001:2:::1': '2001:2:::1' is not an IPv6 address"),
        ("2001:2::g", "invalid target '2001:2::g': '2001:2::g' is not an IPv6 address"),
        ("[2001:2::1", "invalid target '[2001:2::1': unbalanced '[' or ']'"),
        ("2001:2::1]", "invalid target '2001:2::1]': unbalanced '[' or ']'"),
        ("[198.18.0.1]", "invalid target '[198.18.0.1]': brackets are for IPv6 addresses only"),
        ("fe80::1%eth0", "invalid target 'fe80::1%eth0': scoped IPv6 addresses (with %zone) are "
                         "not supported"),
        ("2001:2::1,2", "invalid target '2001:2::1,2': '2001:2::1,2' is not an IPv6 address"),
    ],
)
def test_invalid_v6_specs(spec: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_targets([spec], resolve=lambda name: [])
    assert str(info.value) == message


def test_large_v6_needs_allow_large_and_huge_is_refused() -> None:
    assert len(parse_targets(["2001:2::/112"])) == 2**16  # exactly 65,536: allowed
    with pytest.raises(TargetError) as info:
        parse_targets(["2001:2::/111"])
    assert str(info.value) == ("131072 IPv6 addresses is more than 65536 (a /112);"
                               " pass --allow-large if you really mean to scan that many")
    # excludes count, and the two families have their own limits
    assert len(parse_targets(["2001:2::/111"], exclude=["2001:2::/112"])) == 2**16
    both = parse_targets(["2001:2::/112", "10.0.0.0/8"])
    assert len(both) == 2**16 + 2**24
    big = parse_targets(["2001:2::/96"], allow_large=True)
    assert len(big) == 2**32 and big.address(2**32 - 1) == parse_addr("2001:2::ffff:ffff")
    assert len(parse_targets(["2001:2::/80"], allow_large=True)) == 2**48
    for huge in ("2001:2::/79", "2001:2::/64", "::/0"):  # never, whatever the flag
        with pytest.raises(TargetError, match=r"more than rawscan can scan at once \(at most 2\^48"):
            parse_targets([huge], allow_large=True)


def test_names_resolve_per_family() -> None:
    resolve, calls = fake_resolver({
        "dual.example": ["2001:2::7", "198.18.0.9", "2001:2::8", "198.18.0.10"],
        "v4.example": ["198.18.0.3"],
        "v6.example": ["2001:2::3"],
    })
    default = parse_targets(["dual.example"], resolve=resolve)  # like nmap: the first IPv4
    assert v6ips(default) == ["198.18.0.9"]
    six = parse_targets(["dual.example", "v6.example"], resolve=resolve, family="6")
    assert v6ips(six) == ["2001:2::3", "2001:2::7"]
    assert six.label(V6_BASE + 7) == "dual.example (2001:2::7)"
    assert six.label(V6_BASE + 3) == "v6.example (2001:2::3)"
    every = parse_targets(["dual.example", "v4.example", "v6.example"], resolve=resolve,
                          family="all")
    assert v6ips(every) == ["198.18.0.3", "198.18.0.9", "198.18.0.10", "2001:2::3", "2001:2::7",
                            "2001:2::8"]
    assert every.names[BASE + 10] == "dual.example" and every.names[V6_BASE + 8] == "dual.example"
    assert calls.count("dual.example") == 3  # once per parse, not once per use
    with pytest.raises(TargetError) as info:
        parse_targets(["v4.example"], resolve=resolve, family="6")
    assert str(info.value) == "cannot resolve host 'v4.example' to an IPv6 address"
    with pytest.raises(TargetError, match="^cannot resolve host 'v6.example'$"):
        parse_targets(["v6.example"], resolve=resolve)
    with pytest.raises(ValueError):
        parse_targets(["v6.example"], resolve=resolve, family="5")


def test_names_with_prefix_per_family() -> None:
    resolve, _ = fake_resolver({"net.example": ["2001:2::77", "198.18.0.77"]})
    ts = parse_targets(["net.example/126"], resolve=resolve, family="6")
    assert v6ips(ts) == ["2001:2::74", "2001:2::75", "2001:2::76", "2001:2::77"]
    assert ts.label(V6_BASE + 0x77) == "net.example (2001:2::77)"
    # --all-families: the prefix applies to every answer, so it must suit both families
    with pytest.raises(TargetError, match="more than rawscan can scan"):  # a v6 /31
        parse_targets(["net.example/31"], resolve=resolve, family="all", allow_large=True)
    with pytest.raises(TargetError, match=r"prefix length must be 0-32 for 198\.18\.0\.77$"):
        parse_targets(["net.example/64"], resolve=resolve, family="all")
    with pytest.raises(TargetError, match="prefix length must be 0-32$"):  # default: IPv4 only
        parse_targets(["net.example/64"], resolve=resolve)


def test_scoped_and_odd_resolver_answers_are_skipped() -> None:
    resolve, _ = fake_resolver({"odd.example": ["fe80::1%eth0", "not-an-address", "2001:2::5"]})
    assert v6ips(parse_targets(["odd.example"], resolve=resolve, family="6")) == ["2001:2::5"]


def test_addr_to_str_both_families() -> None:
    assert addr_to_str(parse_addr("2001:2::2")) == "2001:2::2"
    assert addr_to_str(V6) == "::"
    assert addr_to_str(V6 | (2**128 - 1)) == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    assert addr_to_str(1) == "0.0.0.1"
    for bad in (2**32, V6 - 1, 2**129, -1):  # between the families, or outside both
        with pytest.raises(ValueError):
            addr_to_str(bad)
    with pytest.raises(ValueError):
        parse_ipv4("2001:2::1")  # parse_ipv4 stays strictly IPv4


def test_targetset_refuses_ranges_across_families() -> None:
    with pytest.raises(ValueError, match="not within one address family"):
        TargetSet(((2**32 - 2, V6 + 1),))
    with pytest.raises(ValueError, match="not within one address family"):
        TargetSet(((2**32, 2**32 + 5),))  # neither family
    with pytest.raises(ValueError):
        TargetSet(((V6, V6 + 2**64),))  # more than MAX_TARGETS
    ts = TargetSet(((V6 + 5, V6 + 9), (3, 4), (V6 + 1, V6 + 4)))
    assert ts.ranges == ((3, 4), (V6 + 1, V6 + 9))


# Property tests: the parser's contract for any text, and IPv6 specs against a set model.

_SPEC_ALPHABET = "0123456789abcdefABCDEF:.[]/-,*% x\x00é"
_V6ISH = r"\[?[0-9a-f:.]{0,24}\]?(/[0-9]{1,4})?(-\[?[0-9a-f:]{0,20}\]?)?"  # near-valid IPv6 specs


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(st.text(_SPEC_ALPHABET, max_size=45), st.text(max_size=20),
                       st.from_regex(_V6ISH, fullmatch=True)), min_size=1, max_size=3),
    st.lists(st.text(_SPEC_ALPHABET, max_size=45), max_size=2),
    st.sampled_from(FAMILIES),
    st.booleans(),
)
def test_any_text_gives_a_target_set_or_a_target_error(
    specs: list[str], excludes: list[str], family: str, allow_large: bool
) -> None:
    def resolve(name: str) -> list[str]:
        if len(name) % 3 == 0:
            raise OSError("no such host")
        return ["198.18.0.5", "2001:2::5", "fe80::1%lo", name][: len(name) % 5]

    try:
        ts = parse_targets(specs, exclude=excludes, resolve=resolve, family=family,
                           allow_large=allow_large)
    except TargetError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 0 < len(ts) <= MAX_TARGETS
    for lo, hi in ts.ranges:
        assert 0 <= lo <= hi <= 2**32 - 1 or V6 <= lo <= hi < 2 * V6
        ts.label(lo)
    assert ts.address(len(ts) - 1) == ts.ranges[-1][1]


_V6_SPAN = 1024  # model space: 2001:2::/118


@st.composite
def v6_spec_and_model(draw: st.DrawFn) -> tuple[str, set[int]]:
    kind = draw(st.sampled_from(["single", "bracketed", "cidr", "bracketed-cidr", "range"]))
    a = V6_BASE + draw(st.integers(0, _V6_SPAN - 1))
    if kind in ("single", "bracketed"):
        text = addr_to_str(a)
        return (f"[{text}]" if kind == "bracketed" else text), {a}
    if kind in ("cidr", "bracketed-cidr"):
        prefix = draw(st.integers(118, 128))
        net = ipaddress.ip_network(f"{addr_to_str(a)}/{prefix}", strict=False)
        text = addr_to_str(a) if kind == "cidr" else f"[{addr_to_str(a)}]"
        return f"{text}/{prefix}", {V6 | int(x) for x in net}
    lo, hi = sorted(draw(st.lists(st.integers(0, _V6_SPAN - 1), min_size=2, max_size=2)))
    return (f"{addr_to_str(V6_BASE + lo)}-{addr_to_str(V6_BASE + hi)}",
            set(range(V6_BASE + lo, V6_BASE + hi + 1)))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(v6_spec_and_model(), spec_and_model()), min_size=1, max_size=6),
    st.lists(st.one_of(v6_spec_and_model(), spec_and_model()), max_size=4),
)
def test_random_v6_and_mixed_specs_match_set_model(
    include: list[tuple[str, set[int]]], exclude: list[tuple[str, set[int]]]
) -> None:
    model = set().union(*(m for _, m in include)) - set().union(*(m for _, m in exclude))
    specs, excludes = [s for s, _ in include], [s for s, _ in exclude]
    if not model:
        with pytest.raises(TargetError, match="^no targets to scan"):
            parse_targets(specs, exclude=excludes)
        return
    ts = parse_targets(specs, exclude=excludes)
    ordered = sorted(model)
    assert list(ts) == ordered and len(ts) == len(model)
    for i in range(0, len(ts), 5):
        assert ts.address(i) == ordered[i]
        assert ts.index(ordered[i]) == i
    for a in ordered[::3]:
        assert ts.address(ts.index(a)) == a  # type: ignore[arg-type]
    for probe in (V6_BASE - 1, V6_BASE, V6_BASE + 700, V6_BASE + _V6_SPAN, V6 | 1, 1):
        assert (probe in ts) == (probe in model)
        assert (ts.index(probe) is None) == (probe not in model)


# --- targets that cannot be scanned as given ------------------------------------------------


@pytest.mark.parametrize("spec, words", [
    ("::ffff:198.18.0.2", "scan 198.18.0.2"),  # every probe was refused: all "filtered"
    ("0.0.0.0", "unspecified address"), ("::", "unspecified address"),
])
def test_targets_that_cannot_be_scanned_as_given_are_one_line(spec: str, words: str) -> None:
    from rawscan.targets import TargetError, parse_targets

    with pytest.raises(TargetError, match=words):
        parse_targets([spec], resolve=lambda name: [])


def test_a_name_with_several_addresses_says_which_are_not_scanned(
        capsys: pytest.CaptureFixture[str]) -> None:
    from rawscan.addresses import addr_to_str
    from rawscan.targets import parse_targets

    found = parse_targets(["multi.example"], resolve=lambda name: ["198.18.0.2", "198.18.0.3"])
    assert [addr_to_str(found.address(i)) for i in range(len(found))] == ["198.18.0.2"]
    assert "other addresses for multi.example (not scanned): 198.18.0.3" in capsys.readouterr().err


# --- -iL of a million lines: plain addresses ------------------------------------------------


def test_plain_addresses_skip_the_pattern_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A million -iL lines took 36 s before the first probe, 29 s of it in the octet-pattern
    parser (a set per octet) for lines that are one address each."""
    import random

    from rawscan import targets
    from rawscan.targets import TargetError, parse_targets

    rng = random.Random(13)
    plain = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(2000)]
    plain += ["0.0.0.1", "255.255.255.255", "9.99.199.249"]
    expected = parse_targets(plain, allow_large=True).ranges

    def slow(_spec: str) -> object:
        raise AssertionError("a plain address went through the pattern parser")

    monkeypatch.setattr(targets, "_octet_pattern", slow)
    assert parse_targets(plain, allow_large=True).ranges == expected
    assert len(parse_targets(plain, allow_large=True)) == len(set(plain))
    monkeypatch.undo()
    for bad in ("01.2.3.4", "256.1.1.1", "1.2.3.4.5", "1.2.3.", "1.2.3.\u0664"):
        with pytest.raises(TargetError):
            parse_targets([bad])
