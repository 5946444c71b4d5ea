from __future__ import annotations

import io
import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.errors import RawscanError
from rawscan.targets import (
    TargetError,
    TargetSet,
    int_to_ip,
    ip_to_int,
    parse_targets,
    read_target_file,
)

BASE = ip_to_int("198.18.0.0")


def ips(ts: TargetSet) -> list[str]:
    return [int_to_ip(a) for a in ts]


def fake_resolver(table: dict[str, list[str]]) -> tuple[Callable[[str], list[str]], list[str]]:
    calls: list[str] = []

    def resolve(name: str) -> list[str]:
        calls.append(name)
        if name not in table:
            raise OSError("no such host")
        return table[name]

    return resolve, calls


def test_ip_conversions() -> None:
    assert ip_to_int("0.0.0.0") == 0
    assert ip_to_int("255.255.255.255") == 2**32 - 1
    assert ip_to_int("198.18.0.2") == (198 << 24) | (18 << 16) | 2
    assert int_to_ip(ip_to_int("10.1.2.3")) == "10.1.2.3"
    for bad in ["1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.x", "1.2.3.04", "", "1..2.3"]:
        with pytest.raises(TargetError):
            ip_to_int(bad)
    with pytest.raises(ValueError):
        int_to_ip(2**32)
    with pytest.raises(ValueError):
        int_to_ip(-1)


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
    assert ts.ranges == ((ip_to_int("10.0.0.0"), ip_to_int("10.3.255.255")),)
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
    assert slash8.ranges == ((ip_to_int("10.0.0.0"), ip_to_int("10.255.255.255")),)
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
    assert ip_to_int("8.8.8.8") in everything
    almost = parse_targets(["0.0.0.0/0"], exclude=["10.0.0.0/8"], allow_large=True)
    assert len(almost) == 2**32 - 2**24
    assert almost.address(ip_to_int("10.0.0.0")) == ip_to_int("11.0.0.0")


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
    assert int_to_ip(addr).startswith("127.")
    assert ts.label(addr) == f"localhost ({int_to_ip(addr)})"


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
        return int_to_ip(a), {a}
    if kind == "cidr":
        prefix = draw(st.integers(22, 32))
        a = _LOW + draw(st.integers(0, _SPAN - 1))
        net = ipaddress.ip_network(f"{int_to_ip(a)}/{prefix}", strict=False)
        return f"{int_to_ip(a)}/{prefix}", {int(x) for x in net}
    if kind == "dash":
        third = draw(st.integers(0, 3))
        lo, hi = sorted(draw(st.lists(st.integers(0, 255), min_size=2, max_size=2)))
        base = _LOW + (third << 8)
        return f"198.18.{third}.{lo}-{hi}", set(range(base + lo, base + hi + 1))
    if kind == "full":
        lo, hi = sorted(draw(st.lists(st.integers(0, _SPAN - 1), min_size=2, max_size=2)))
        return f"{int_to_ip(_LOW + lo)}-{int_to_ip(_LOW + hi)}", set(range(_LOW + lo, _LOW + hi + 1))
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
    for outside in (ip_to_int("198.18.0.0"), ip_to_int("198.18.0.4"), ip_to_int("198.18.1.249"),
                    ip_to_int("198.19.0.4"), 0, 2**32 - 1):
        assert targets.index(outside) is None
