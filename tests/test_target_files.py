"""-iL and --excludefile read a chunk at a time into packed addresses (issue 13: a million lines
took 5 s and 313 MB before the first probe): the same targets as the word-by-word reading of
before, whatever the chunking, in memory that does not grow with a string per line."""

from __future__ import annotations

import random
import socket
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan import targets
from rawscan.addresses import V6
from rawscan.plan import ScanPlan
from rawscan.ranges import RangeList, pack, unpack
from rawscan.targets import TargetError, TargetSet, _merge, parse_targets, read_target_file


def words_of(text: str) -> list[str]:
    """How target files were read before: every word of every line, comments cut."""
    return [w for line in text.splitlines() for w in line.partition("#")[0].split()]


LINES = st.sampled_from([
    "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.1.7", "198.18.0.0/30", "198.18.2.1-4",
    "2001:2::1", "2001:2::2", "2001:2::1:0", "[2001:2::9]", "2001:2::/126", "  198.18.3.3  ",
    "198.18.4.4 # a comment", "# only a comment", "", "198.18.5.5\t198.18.5.6", "198.18.6.0/31",
    "2001:2::ffff:ffff:ffff:ffff", "2001:2:0:1::", "198.18.0.1\r", "198.18.7.7\x0c198.18.7.8",
])


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(LINES, max_size=40), chunk=st.integers(1, 64), newline=st.sampled_from(["\n", "\r\n"]))
def test_chunked_reading_gives_the_targets_word_reading_gave(
        tmp_path_factory: pytest.TempPathFactory, lines: list[str], chunk: int, newline: str) -> None:
    text = newline.join(lines) + newline
    path = tmp_path_factory.mktemp("t") / "targets.txt"
    path.write_bytes(text.encode())
    old = words_of(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(targets, "_CHUNK", chunk)  # lines and CRLFs split across chunks
        read = read_target_file(str(path))
    assert sorted(read) == sorted(old)
    if old:
        assert parse_targets([read]).ranges == parse_targets(old).ranges
        assert parse_targets(["198.18.0.0/22", "2001:2::/120"], exclude=[read]).ranges \
            == parse_targets(["198.18.0.0/22", "2001:2::/120"], exclude=old).ranges


def test_a_large_file_is_merged_as_word_reading_would(tmp_path: Path) -> None:
    """Past 50,000 addresses numpy sorts and merges: the same ranges as the Python merge."""
    rng = random.Random(7)
    v4 = [rng.randrange(0x0A000000, 0x0A000000 + 200_000) for _ in range(60_000)]
    v6 = [V6 | (0x20010002 << 96) | rng.randrange(1 << 70) for _ in range(60_000)]
    v6 += [V6 | (0x20010002 << 96) | (1 << 64) - 1, V6 | (0x20010002 << 96) | 1 << 64]  # a carry
    lines = [socket.inet_ntop(socket.AF_INET, a.to_bytes(4, "big")) for a in v4]
    lines += [socket.inet_ntop(socket.AF_INET6, (a - V6).to_bytes(16, "big")) for a in v6]
    rng.shuffle(lines)
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines) + "\n")
    got = parse_targets([read_target_file(str(path))], allow_large=True)
    expected = _merge([(a, a) for a in v4 + v6])
    assert tuple(got.ranges) == expected
    assert len(got) == len(set(v4)) + len(set(v6))
    for index in rng.sample(range(len(got)), 200):
        assert got.index(got.address(index)) == index
    with_ranges = parse_targets([read_target_file(str(path)), "10.0.0.0/30", "2001:2::/126"],
                                allow_large=True)
    assert tuple(with_ranges.ranges) == _merge([*expected, (0x0A000000, 0x0A000003),
                                                (V6 | 0x20010002 << 96, V6 | 0x20010002 << 96 | 3)])


def test_plain_lines_are_never_made_into_strings(tmp_path: Path) -> None:
    """300,000 address lines: the packed addresses (1.2 MB) and one chunk, not a list of
    300,000 strings (~20 MB, what the whole-file reading held)."""
    rng = random.Random(3)
    path = tmp_path / "many.txt"
    path.write_text("".join(f"198.{rng.randrange(18, 20)}.{rng.randrange(256)}.{rng.randrange(256)}\n"
                            for _ in range(300_000)))
    tracemalloc.start()
    try:
        read = read_target_file(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(read) == 300_000 and not read.words
    assert peak < 6 << 20, peak


def test_errors_and_nul_lines_survive_chunking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "_CHUNK", 5)
    path = tmp_path / "t.txt"
    path.write_bytes(b"198.18.0.1\n198.18.0.2\n\n198.18.0.\x003\n")
    with pytest.raises(TargetError, match=r"line 4: a NUL byte"):
        read_target_file(str(path))
    path.write_bytes("\ufeff198.18.0.1\n".encode())
    assert read_target_file(str(path)) == ["198.18.0.1"]
    path.write_bytes(b"198.18.0.1\n\xff\n")
    with pytest.raises(TargetError, match="not a UTF-8 text file"):
        read_target_file(str(path))
    for bad, words in (("0.0.0.0", "unspecified"), ("::", "unspecified"),
                       ("::ffff:198.18.0.2", "IPv4-mapped"), ("01.2.3.4", "leading zero")):
        path.write_text(f"198.18.0.1\n{bad}\n")
        with pytest.raises(TargetError, match=words):
            parse_targets([read_target_file(str(path))])


def test_large_target_sets_round_trip_through_a_plans_json() -> None:
    """More than 65,536 ranges could not be replayed or resumed (the sidecar's bound); packed,
    a million-line -iL's plan is a few MB and reads back equal."""
    rng = random.Random(5)
    v4 = {rng.getrandbits(32) for _ in range(70_000)} - {0}
    v6 = {V6 | 0x20010002 << 96 | rng.getrandbits(64) for _ in range(5000)}
    target_set = TargetSet([(a, a) for a in sorted(v4 | v6)])
    plan = ScanPlan(scan="syn", targets=target_set, ports=(80,), seed=1,
                    sources=(0xC6120001,), source_port=40000)
    text = plan.to_json()
    assert len(text) < 4 << 20
    back = ScanPlan.from_json(text, "x")
    assert back == plan and back.targets.ranges == target_set.ranges
    packed = pack(target_set.ranges)  # type: ignore[arg-type]
    assert unpack(packed) == target_set.ranges
    swapped = dict(packed, lo4=packed["hi4"], hi4=packed["lo4"])
    with pytest.raises(ValueError, match="not sorted"):
        unpack(swapped)
    with pytest.raises(ValueError):
        unpack(dict(packed, lo6h="!!"))


def test_range_list_lookups_match_a_list_of_tuples() -> None:
    rng = random.Random(11)
    points = sorted({rng.randrange(1 << 20) for _ in range(400)})
    v4 = [(a * 4, a * 4 + rng.randrange(3)) for a in points]
    v6 = [(V6 | a << 60, V6 | a << 60 | rng.randrange(1 << 62)) for a in points]
    ranges = RangeList.from_sorted(v4 + v6)
    plain = v4 + v6
    assert list(ranges) == plain and ranges[-1] == plain[-1] and ranges[3:7] == tuple(plain[3:7])
    assert RangeList.join([ranges.take(0, 100), ranges.take(100, 500), ranges.take(500, 800)]) == ranges
    for lo, hi in rng.sample(plain, 100):
        for addr, inside in ((lo, True), (hi, True), (hi + 1, False), (lo - 1, False)):
            i = ranges.find(addr)
            assert (i >= 0) == inside or (not inside and any(a <= addr <= b for a, b in plain))
            if i >= 0:
                assert plain[i][0] <= addr <= plain[i][1]


# --- a NUL and a byte order mark ------------------------------------------------------------


@pytest.mark.parametrize("content, words", [
    (b"198.18.0.1\n198.18.0.\x002\n", "NUL"),  # silently dropped an address
])
def test_target_files_with_a_nul_are_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    from rawscan.targets import TargetError, read_target_file

    path = tmp_path / "targets.txt"
    path.write_bytes(content)
    with pytest.raises(TargetError, match=words):
        read_target_file(str(path))


def test_a_byte_order_mark_does_not_join_the_first_name(tmp_path: Path) -> None:
    from rawscan.targets import read_target_file

    path = tmp_path / "targets.txt"
    path.write_bytes("\ufeff198.18.0.1\n198.18.0.2\n".encode())
    assert read_target_file(str(path)) == ["198.18.0.1", "198.18.0.2"]
