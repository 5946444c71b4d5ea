"""Target specifications (nmap syntax) parsed into compact sorted address ranges.

Addresses are plain ints in rawscan.addresses' tagged space (IPv4 as is, IPv6 with bit 128
set), and the set is a tuple of inclusive (lo, hi) ranges, so a /8 or an IPv6 /64 costs a
few bytes and the engine can pick the i-th address without a list. A range never spans the
two families, and every IPv4 address sorts before every IPv6 one.
"""

from __future__ import annotations

import codecs
import re
import socket
import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rawscan.addresses import IPV4_MAX, V6, V6_MASK, addr_to_str, parse_ipv4, parse_ipv6, parse_octet
from rawscan.blocklist import Blocklist, default_blocks
from rawscan.errors import RawscanError
from rawscan.limits import LARGE_SCAN_LIMIT, LARGE_V6_SCAN_LIMIT, large_address_count
from rawscan.ranges import RangeList, merge_sorted_addresses, merge_sorted_arrays

_LOW64 = (1 << 64) - 1

__all__ = [
    "FAMILIES",
    "LARGE_SCAN_LIMIT",
    "LARGE_V6_SCAN_LIMIT",
    "MAX_TARGETS",
    "TargetError",
    "TargetSet",
    "Selection",
    "TargetFile",
    "parse_targets",
    "read_target_file",
    "select_targets",
]

# Never more, even with --allow-large: hosts x 65,536 ports must fit the engine's 2**64
# probe order, and len() an index-sized int. 2**48 is an IPv6 /80.
MAX_TARGETS = 2**48
# Which answers a host name resolves to: "4" the first A (nmap's default), "6" the first
# AAAA (-6), "all" every A and AAAA (--all-families). Literal addresses of either family
# are taken whatever the family.
FAMILIES = ("4", "6", "all")
# One octet-range spec such as '*.*.*.1' can fragment into millions of ranges; cap memory.
_MAX_RANGES_PER_SPEC = 2**20
_IPV4_MAX = IPV4_MAX
_MAX_ADDR = V6 | V6_MASK  # the highest IPv6 address, tagged
# Specs made only of these characters are address patterns, anything else is a host name
# (or, with a ':' or '[', an IPv6 address: host names never hold either).
_PATTERN_CHARS = re.compile(r"[0-9.,*-]+")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # no leading zero, as parse_octet
_PLAIN_V4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")  # one address: -iL's usual line

Range = tuple[int, int]
# A resolver returns the textual addresses a name has, of any family; the parser keeps
# those the requested family allows.
Resolver = Callable[[str], list[str]]


class TargetError(RawscanError):
    """A target or exclude specification the user gave cannot be used."""


def _family_bits(addr: int) -> int:
    return 128 if addr >= V6 else 32


def _range_ok(lo: int, hi: int) -> bool:
    """Inside one family: all IPv4 or all (tagged) IPv6."""
    return 0 <= lo <= hi <= _IPV4_MAX or V6 <= lo <= hi <= _MAX_ADDR


@dataclass(frozen=True)
class TargetSet:
    """Sorted, merged, non-overlapping inclusive address ranges (IPv4 ones first, then IPv6,
    none spanning both), plus names the user gave. The ranges are kept in compact arrays
    (rawscan.ranges): a million scattered addresses cost ~24 MB, not ~150."""

    ranges: Sequence[Range]
    names: Mapping[int, str] = field(default_factory=dict, hash=False)
    _ends: array[int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Normalise so hand-built sets keep the invariants bisect relies on.
        given = self.ranges
        if isinstance(given, RangeList):
            ranges = given  # made normalised (select_targets, from_sorted of _merge's answer)
        else:
            merged = _merge(given)
            for lo, hi in merged:
                if not _range_ok(lo, hi):
                    raise ValueError(f"range {lo}-{hi} is not within one address family")
            ranges = RangeList.from_sorted(merged)
        ends = _running_totals(ranges)
        object.__setattr__(self, "ranges", ranges)
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))
        object.__setattr__(self, "_ends", ends)

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def address(self, index: int) -> int:
        """The index-th address in ascending order; negative indexes are not accepted."""
        if not 0 <= index < len(self):
            raise IndexError(f"target index {index} out of range")
        i = bisect_right(self._ends, index)
        before = self._ends[i - 1] if i else 0
        return self._range_list.low(i) + (index - before)

    def index(self, addr: int) -> int | None:
        """The position of addr in ascending order (inverse of address()), None if absent."""
        i = self._range_list.find(addr)
        if i < 0:
            return None
        before = self._ends[i - 1] if i else 0
        return before + addr - self._range_list.low(i)

    @property
    def _range_list(self) -> RangeList:
        return self.ranges  # type: ignore[return-value]  # always one after __post_init__

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def __contains__(self, addr: object) -> bool:
        return isinstance(addr, int) and self._range_list.find(addr) >= 0

    def label(self, addr: int) -> str:
        """'name (address)' for a name the user gave, else the address: nmap's report line."""
        name = self.names.get(addr)
        ip = addr_to_str(addr)
        return f"{name} ({ip})" if name else ip

    def families(self) -> tuple[int, ...]:
        """The address families present (socket.AF_INET before socket.AF_INET6)."""
        present = []
        n4 = self._range_list.v4_count
        if n4:
            present.append(socket.AF_INET)
        if len(self.ranges) > n4:
            present.append(socket.AF_INET6)
        return tuple(present)

    def first_of(self, family: int) -> int | None:
        """The lowest address of that family (socket.AF_INET or AF_INET6), None if absent."""
        ranges = self._range_list
        n4 = ranges.v4_count
        if family == socket.AF_INET6:
            return ranges.low(n4) if len(ranges) > n4 else None
        return ranges.low(0) if n4 else None


def _running_totals(ranges: RangeList) -> array[int]:
    """Addresses up to and including each range, as int64; at most MAX_TARGETS in all."""
    ends = array("q")
    if len(ranges) > 65536:  # a -iL of a million lines: numpy's cumulative sums
        import numpy as np

        parts = [_sizes_v4(ranges), _sizes_v6(ranges)]
        if all(p is not None for p in parts):
            sizes = parts[0] if not len(parts[1]) else np.concatenate(parts)
            sums = np.cumsum(sizes, out=sizes)
            if len(sums) and int(sums[-1]) > MAX_TARGETS:
                raise ValueError(f"{int(sums[-1])} addresses is more than {MAX_TARGETS}")
            ends.frombytes(sums.astype(np.int64).tobytes())
            return ends
    total = 0
    for lo, hi in ranges:
        total += hi - lo + 1
        if total > MAX_TARGETS:
            raise ValueError(f"{total} addresses is more than {MAX_TARGETS}")
        ends.append(total)
    return ends


def _sizes_v4(ranges: RangeList) -> Any:
    import numpy as np

    sizes = np.frombuffer(ranges._hi4, dtype=np.uint64).astype(np.int64)
    sizes -= np.frombuffer(ranges._lo4, dtype=np.uint64).view(np.int64)
    sizes += 1
    return sizes


def _sizes_v6(ranges: RangeList) -> Any:
    """IPv6 range sizes as int64, or None if one is too big for that (then the loop says so)."""
    import numpy as np

    if not len(ranges._lo6h):
        return np.zeros(0, dtype=np.int64)
    if ranges._lo6h != ranges._hi6h:  # a range crossing a /64 boundary: never this fast path
        return None
    low = np.frombuffer(ranges._lo6l, dtype=np.uint64)
    sizes = np.frombuffer(ranges._hi6l, dtype=np.uint64) - low
    if int(sizes.max()) >= MAX_TARGETS:
        return None
    return sizes.astype(np.int64) + 1


def _contains(ranges: Sequence[Range], addr: int) -> bool:
    if isinstance(ranges, RangeList):
        return ranges.find(addr) >= 0
    i = bisect_right(ranges, (addr, _MAX_ADDR + 1)) - 1
    return i >= 0 and ranges[i][0] <= addr <= ranges[i][1]


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sort and merge overlapping or adjacent ranges."""
    if isinstance(ranges, RangeList):
        return tuple(ranges)
    ranges = tuple(ranges)
    if _normalised(ranges):  # merged already (a TargetSet made from parse_targets' answer)
        return ranges
    out: list[Range] = []
    append = out.append  # -iL of a million lines: the running range in locals (README, Design figures)
    cur_lo = cur_hi = -2
    for lo, hi in sorted(ranges):
        if lo > hi:
            raise ValueError(f"empty range {lo}-{hi}")
        if lo <= cur_hi + 1:
            if hi > cur_hi:
                cur_hi = hi
        else:
            if cur_hi >= 0:
                append((cur_lo, cur_hi))
            cur_lo, cur_hi = lo, hi
    if cur_hi >= 0:
        append((cur_lo, cur_hi))
    return tuple(out)


def _normalised(ranges: tuple[Range, ...]) -> bool:
    """Sorted, each non-empty, none overlapping or adjacent: what _merge makes."""
    previous = -2
    for lo, hi in ranges:
        if lo <= previous + 1 or lo > hi:
            return False
        previous = hi
    return True


def _subtract(keep: RangeList, drop: Sequence[Range]) -> RangeList:
    """keep minus drop; both sorted and merged. Only the keep ranges a drop range reaches are
    looked at (bisected) and the rest is copied as array slices, so a few excludes cost
    little against a million targets."""
    if not drop or not len(keep):
        return keep  # no copy of a million ranges when nothing is excluded
    parts: list[RangeList] = []
    cut: list[Range] = []  # pieces of keep ranges a drop range reached
    done, n = 0, len(keep)
    pending: Range | None = None  # what is left of a keep range past the last drop range

    def copy_to(first: int) -> None:
        if first > done:
            if cut:
                parts.append(RangeList.from_sorted(cut))
                cut.clear()
            parts.append(keep.take(done, first))

    for dlo, dhi in drop:
        if pending is not None:
            plo, phi = pending
            if phi < dlo:
                cut.append(pending)
                pending = None
            else:
                if plo < dlo:
                    cut.append((plo, dlo - 1))
                pending = (dhi + 1, phi) if phi > dhi else None
                if pending is not None:
                    continue
        first = bisect_left(keep, dlo, lo=done, key=_high)  # the first keep range ending >= dlo
        copy_to(first)
        done = max(done, first)
        while done < n:
            lo, hi = keep[done]
            if lo > dhi:
                break
            done += 1
            if lo < dlo:
                cut.append((lo, dlo - 1))
            if hi > dhi:
                pending = (dhi + 1, hi)
                break
        if done >= n and pending is None:
            break
    if pending is not None:
        cut.append(pending)
    copy_to(n)
    if cut:
        parts.append(RangeList.from_sorted(cut))
    return RangeList.join(parts)


def _high(r: Range) -> int:
    return r[1]


def _octet_set(text: str) -> list[Range]:
    """nmap octet syntax: '5', '1-20', '-20', '200-', '-', '*', comma lists of those."""
    runs: list[Range] = []
    for item in text.split(","):
        if item in ("*", "-"):
            runs.append((0, 255))
        elif "-" in item:
            a, sep, b = item.partition("-")
            if "-" in b:
                raise ValueError(f"bad octet range '{item}'")
            lo = parse_octet(a) if a else 0
            hi = parse_octet(b) if b else 255
            if lo > hi:
                raise ValueError(f"reversed octet range '{item}'")
            runs.append((lo, hi))
        else:
            v = parse_octet(item)
            runs.append((v, v))
    return list(_merge(runs))


def _octet_pattern(spec: str) -> list[Range]:
    """Cross product of per-octet sets, built from the last octet up so that whole
    lower octets collapse into one range (10.0-3.*.* is 1 range, not 1024)."""
    parts = spec.split(".")
    if len(parts) != 4:
        raise ValueError("expected four dot-separated octets")
    sets = [_octet_set(p) for p in parts]
    ranges: list[Range] = sets[3]
    width = 8  # bits covered by `ranges`
    for octet_runs in reversed(sets[:3]):
        full = (0, (1 << width) - 1)
        if ranges == [full]:
            ranges = [(a << width, (b << width) | full[1]) for a, b in octet_runs]
        else:
            count = sum(b - a + 1 for a, b in octet_runs) * len(ranges)
            if count > _MAX_RANGES_PER_SPEC:
                raise ValueError(
                    f"expands to {count} separate ranges (limit {_MAX_RANGES_PER_SPEC});"
                    " use CIDR blocks or fewer octet ranges"
                )
            ranges = [
                ((v << width) | lo, (v << width) | hi)
                for a, b in octet_runs
                for v in range(a, b + 1)
                for lo, hi in ranges
            ]
        width += 8
    return ranges


_GAI_FAMILY = {"4": socket.AF_INET, "6": socket.AF_INET6, "all": socket.AF_UNSPEC}


def _system_resolver(family: str) -> Resolver:
    def resolve(name: str) -> list[str]:
        infos = socket.getaddrinfo(name, None, _GAI_FAMILY[family], socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]

    return resolve


class _Parser:
    """Parses many specs, resolving each host name once and remembering it for labels."""

    def __init__(self, resolve: Resolver, family: str) -> None:
        self._resolve = resolve
        self._family = family
        self._resolved: dict[str, list[int]] = {}
        self.names: dict[int, str] = {}

    def spec(self, spec: str, what: str) -> list[Range]:
        try:
            return self._spec(spec)
        except ValueError as e:  # UnicodeError too, from odd text reaching inet_pton
            raise TargetError(f"invalid {what} '{spec}': {e}") from None

    def _spec(self, spec: str) -> list[Range]:
        ranges = self._ranges(spec)
        if ranges in ([(0, 0)], [(V6, V6)]):  # nmap too gets nothing useful from these
            raise ValueError("the unspecified address means 'any', not a host (for this host "
                             "scan 127.0.0.1 or ::1)")
        return ranges

    def _ranges(self, spec: str) -> list[Range]:
        if _PLAIN_V4.fullmatch(spec):  # the pattern parser's answer, faster (README, Design figures)
            addr = parse_ipv4(spec)
            return [(addr, addr)]
        if "/" in spec:
            return self._prefix(spec)
        if _looks_v6(spec):
            if "-" in spec:
                first, _, last = spec.partition("-")
                if not (_looks_v6(first) and _looks_v6(last)):
                    raise ValueError("both ends of an IPv6 range must be full IPv6 addresses")
                lo, hi = _v6_target(first), _v6_target(last)
                if lo > hi:
                    raise ValueError("range start is after its end")
                return [(lo, hi)]
            addr = _v6_target(spec)
            return [(addr, addr)]
        if not _PATTERN_CHARS.fullmatch(spec):
            return [(addr, addr) for addr in self._host(spec)]
        halves = spec.split("-")
        if len(halves) == 2 and halves[0].count(".") == 3 and halves[1].count(".") == 3:
            lo, hi = parse_ipv4(halves[0]), parse_ipv4(halves[1])
            if lo > hi:
                raise ValueError("range start is after its end")
            return [(lo, hi)]
        return _octet_pattern(spec)

    def _prefix(self, spec: str) -> list[Range]:
        base, _, prefix_text = spec.partition("/")
        # The family bounds the length: a literal's is plain; a name's is known once it is
        # resolved (checked per answer below), so only -6/--all-families allow up to 128.
        is_name = bool(base) and not _looks_v6(base) and not _PATTERN_CHARS.fullmatch(base)
        limit = 128 if _looks_v6(base) or (is_name and self._family != "4") else 32
        if not (prefix_text.isascii() and prefix_text.isdigit()) or len(prefix_text) > 3 \
                or int(prefix_text) > limit:
            raise ValueError(f"prefix length must be 0-{limit}")
        prefix = int(prefix_text)
        if not base:
            raise ValueError("missing address before '/'")
        if _looks_v6(base):
            addrs = [_v6_target(base)]
        elif _PATTERN_CHARS.fullmatch(base):
            addrs = [parse_ipv4(base)]
        else:
            addrs = self._host(base)
        out = []
        for addr in addrs:
            bits = _family_bits(addr)
            if prefix > bits:
                raise ValueError(f"prefix length must be 0-{bits} for {addr_to_str(addr)}")
            size = 1 << (bits - prefix)
            lo = addr & ~(size - 1)  # host bits set are fine, as in nmap; keeps the V6 tag
            out.append((lo, lo + size - 1))
        return out

    def _host(self, name: str) -> list[int]:
        if name not in self._resolved:
            self._resolved[name] = self._lookup(name)
            for addr in self._resolved[name]:
                self.names.setdefault(addr, name)
        return self._resolved[name]

    def _lookup(self, name: str) -> list[int]:
        try:
            answers = self._resolve(name)
        except (OSError, UnicodeError, ValueError):
            answers = []
        found: list[int] = []
        for answer in answers:
            try:
                addr = _v6_target(answer) if ":" in answer else parse_ipv4(answer)
            except ValueError:
                continue  # e.g. a scoped link-local answer
            wanted = {"4": addr <= _IPV4_MAX, "6": addr >= V6, "all": True}[self._family]
            if wanted and addr not in found:
                found.append(addr)
        if not found:
            which = {"4": "", "6": " to an IPv6 address", "all": ""}[self._family]
            raise TargetError(f"cannot resolve host '{name}'{which}")
        # nmap scans a name's first address of the family, and says so; --all-families scans
        # them all.
        if self._family == "all":
            return found
        if len(found) > 1:
            import sys

            print(f"rawscan: warning: other addresses for {name} (not scanned): "
                  f"{', '.join(addr_to_str(a) for a in found[1:])} (--all-families scans every one)",
                  file=sys.stderr)
        return found[:1]


def _looks_v6(text: str) -> bool:
    return ":" in text or text.startswith("[")


def _v6_target(text: str) -> int:
    """An IPv6 literal as a target: an IPv4-mapped one is refused (the kernel refuses to
    send to it), saying which IPv4 address to scan instead."""
    addr = parse_ipv6(text)
    if addr >> 32 == (V6 | 0xFFFF << 32) >> 32:  # ::ffff:a.b.c.d
        raise ValueError(f"an IPv4-mapped IPv6 address is not sent to as such: scan "
                         f"{addr_to_str(addr & IPV4_MAX)}")
    return addr


def _count(ranges: Iterable[Range]) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


class TargetFile:
    """The specs of a -iL or --excludefile file, compactly: the lines that are one plain
    address each packed as in a packet header (4 or 16 bytes an address), and the words of
    every other line. Iterates as the specs' text (addresses first), and equals that list."""

    def __init__(self, path: str, v4: bytes, v6: bytes, words: list[str]) -> None:
        self.path, self.v4, self.v6, self.words = path, v4, v6, words

    def __len__(self) -> int:
        return len(self.v4) // 4 + len(self.v6) // 16 + len(self.words)

    def __iter__(self) -> Iterator[str]:
        for i in range(0, len(self.v4), 4):
            yield socket.inet_ntop(socket.AF_INET, self.v4[i:i + 4])
        for i in range(0, len(self.v6), 16):
            yield socket.inet_ntop(socket.AF_INET6, self.v6[i:i + 16])
        yield from self.words

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, TargetFile)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as the list it stands for

    def __repr__(self) -> str:
        return f"TargetFile({self.path!r}, {len(self)} specs)"


_ARRAY_MERGE_MIN = 50_000  # more addresses than this from files: sorted and merged by numpy


def _build(ranges: list[Range], files: Sequence[TargetFile]) -> RangeList:
    """Merge ranges and the files' packed addresses into a RangeList."""
    packed4 = b"".join(f.v4 for f in files)
    packed6 = b"".join(f.v6 for f in files)
    if len(packed4) // 4 + len(packed6) // 16 <= _ARRAY_MERGE_MIN:
        every = list(ranges)
        every += ((a, a) for (a,) in struct.iter_unpack(">I", packed4))
        every += ((V6 | h << 64 | lo, V6 | h << 64 | lo) for h, lo in struct.iter_unpack(">QQ", packed6))
        return RangeList.from_sorted(_merge(every))
    import numpy as np

    r4 = [r for r in ranges if r[1] <= _IPV4_MAX]
    r6 = [r for r in ranges if r[0] >= V6]
    addrs = np.frombuffer(packed4, dtype=">u4").astype(np.int64)
    if r4:
        starts = np.concatenate([addrs, np.array([lo for lo, _ in r4], dtype=np.int64)])
        ends = np.concatenate([addrs, np.array([hi for _, hi in r4], dtype=np.int64)])
        order = np.argsort(starts, kind="stable")
        v4 = merge_sorted_arrays(starts[order], ends[order])
    else:  # addresses only (one a line): runs of consecutive ones, in little memory
        addrs.sort()
        v4 = merge_sorted_addresses(addrs)
    if r6 or not packed6:  # a few IPv6 ranges beside many addresses: merged in Python
        every6 = r6 + [(V6 | h << 64 | lo, V6 | h << 64 | lo)
                       for h, lo in struct.iter_unpack(">QQ", packed6)]
        v6 = RangeList.from_sorted(_merge(every6))
    else:
        v6 = _merge_v6(np.frombuffer(packed6, dtype=">u8").reshape(-1, 2).astype(np.uint64))
    return RangeList.join([v4, v6])


def _merge_v6(halves: Any) -> RangeList:
    """IPv6 addresses (rows of high and low 64-bit halves) into runs of consecutive ones."""
    import numpy as np

    high, low = halves[:, 0], halves[:, 1]
    order = np.lexsort((low, high))
    high, low = high[order], low[order]
    keep = np.ones(len(high), dtype=bool)
    keep[1:] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
    high, low = high[keep], low[keep]
    top = np.uint64(_LOW64)
    follows = np.zeros(len(high), dtype=bool)  # the address right after the one before
    follows[1:] = (((high[1:] == high[:-1]) & (low[1:] == low[:-1] + np.uint64(1)))
                   | ((high[1:] == high[:-1] + np.uint64(1)) & (low[:-1] == top)
                      & (low[1:] == 0)))
    first = np.flatnonzero(~follows)
    last = np.append(first[1:] - 1, len(high) - 1)
    out = [array("Q") for _ in range(4)]
    for slot, values in zip(out, (high[first], low[first], high[last], low[last])):
        slot.frombytes(values.astype(np.uint64).tobytes())
    return RangeList(None, None, *out)


@dataclass(frozen=True)
class Selection:
    """What select_targets chose: the targets, and how many addresses the blocklists took out
    of them (beyond the excludes)."""

    targets: TargetSet
    blocked: int = 0
    blocked_default: int = 0  # of those, by the IANA special-purpose table


def parse_targets(
    specs: Iterable[str | TargetFile],
    *,
    exclude: Iterable[str | TargetFile] = (),
    resolve: Resolver | None = None,
    allow_large: bool = False,
    family: str = "4",
) -> TargetSet:
    """Parse nmap-style target specs minus excludes into a TargetSet. `family` says what
    host names resolve to (see FAMILIES); literal addresses of both families always count."""
    return select_targets(specs, exclude=exclude, resolve=resolve, allow_large=allow_large,
                          family=family).targets


def select_targets(
    specs: Iterable[str | TargetFile],
    *,
    exclude: Iterable[str | TargetFile] = (),
    resolve: Resolver | None = None,
    allow_large: bool = False,
    family: str = "4",
    blocklist: Blocklist | None = None,
) -> Selection:
    """parse_targets, and the blocklist taken out: the default (IANA special-purpose) blocks
    from every target spec that reaches past one (a spec wholly inside a reserved block is
    the user's clear intent), the user's blocks from all."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    parser = _Parser(resolve or _system_resolver(family), family)
    blocks = default_blocks() if blocklist is not None and blocklist.default else ()
    exempt: list[Range] = []  # what the default blocklist leaves alone
    subject: list[Range] = []  # target specs it applies to
    files: list[TargetFile] = []
    given = False
    for spec in specs:
        words = _words(spec, files)
        given = given or bool(words) or (isinstance(spec, TargetFile) and len(spec) > 0)
        for word in words:
            ranges = parser.spec(word, "target")
            (subject if blocks and not _inside_one(ranges, blocks) else exempt).extend(ranges)
    drop_files: list[TargetFile] = []
    drop: list[Range] = []
    for spec in exclude:
        for word in _words(spec, drop_files):
            drop.extend(parser.spec(word, "exclude"))
    chosen = _subtract(_build(exempt + subject, files), _build(drop, drop_files))
    if not len(chosen):
        if not given:
            raise TargetError("no targets to scan: give at least one target")
        raise TargetError("no targets to scan: every target is excluded")
    cut: Sequence[Range] = ()
    if subject:
        cut = _intersect(_merge(subject), blocks)
        if cut:  # what was also named on its own (or wholly inside a block) stays
            cut = _subtract(RangeList.from_sorted(cut), _build(exempt, files))
    user = blocklist.user if blocklist is not None else ()
    final = _subtract(chosen, _merge([*cut, *user])) if user else _subtract(chosen, cut)
    if not len(final):
        raise TargetError("no targets to scan: every target is in the blocklist"
                          + (" (the IANA special-purpose ranges: --no-default-blocklist "
                             "scans them)" if cut else ""))
    try:
        target_set = TargetSet(final)
    except ValueError:
        raise TargetError(f"{_count(final)} addresses is more than rawscan can scan at once"
                          " (at most 2^48, an IPv6 /80)") from None
    v4_total = target_set._ends[final.v4_count - 1] if final.v4_count else 0
    v6_total = len(target_set) - v4_total
    too_large = None if allow_large else large_address_count(v4_total, v6_total)
    if too_large:
        raise TargetError(too_large)
    if parser.names:
        names = {addr: name for addr, name in parser.names.items() if final.find(addr) >= 0}
        target_set = TargetSet(final, names)
    blocked = _total(chosen) - len(target_set)
    by_default = min(blocked, _total(_subtract(RangeList.from_sorted(cut), _merge(user)))
                     if cut else 0)
    return Selection(target_set, blocked, by_default)


def _words(spec: str | TargetFile, files: list[TargetFile]) -> list[str]:
    """A spec's words (a string may hold several, whitespace separated); a file's packed
    addresses go to `files`."""
    if isinstance(spec, TargetFile):
        files.append(spec)
        return spec.words
    return spec.split()


def _total(ranges: Sequence[Range]) -> int:
    if isinstance(ranges, RangeList) and len(ranges) > 65536:
        return len(TargetSet(ranges))
    return _count(ranges)


def _inside_one(ranges: Sequence[Range], blocks: Sequence[Range]) -> bool:
    """Does one block hold all of these ranges (one spec's)? Then nothing is removed."""
    if not ranges:
        return True
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    i = bisect_right(blocks, (lo, _MAX_ADDR + 1)) - 1
    return i >= 0 and blocks[i][0] <= lo and hi <= blocks[i][1]


def _intersect(a: Sequence[Range], b: Sequence[Range]) -> list[Range]:
    """Both merged and small: the ranges in both."""
    out: list[Range] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


_CHUNK = 1 << 18  # bytes of a target file read at a time: ~18,000 lines
_ZERO4, _ZERO6 = bytes(4), bytes(16)
_MAPPED = bytes(10) + b"\xff\xff"


def read_target_file(path: str) -> TargetFile:
    """Specs from a file for -iL/--excludefile: whitespace separated, '#' starts a comment.
    Read a chunk at a time; a line that is one plain address (what a million-line -iL holds)
    is packed by inet_pton, never made into a spec string."""
    try:
        if path == "-":
            binary = getattr(sys.stdin, "buffer", None)
            if binary is None:  # a text stream put in its place (tests, embedding)
                return _read_targets(iter([sys.stdin.read(), ""]), path)
            return _read_targets(_decoded(binary), path)
        with open(path, "rb") as f:
            return _read_targets(_decoded(f), path)
    except OSError as e:
        raise TargetError(f"cannot read file '{path}': {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise TargetError(f"cannot read file '{path}': not a UTF-8 text file") from None


def _decoded(f: Any) -> Iterator[str]:
    """The file's text a chunk at a time, ending with ''."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    while True:
        raw = f.read(_CHUNK)
        yield decoder.decode(raw, final=not raw)
        if not raw:
            return


def _read_targets(chunks: Iterator[str], path: str) -> TargetFile:
    v4, v6 = bytearray(), bytearray()
    words: list[str] = []
    pending, newlines, first = "", 0, True
    for text in chunks:
        final = not text
        if first and text:
            text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark (Windows editors) is no name
            first = False
        if "\0" in text:  # a NUL would split a name unseen, or hide an address
            line = newlines + text[:text.index("\0")].count("\n") + 1
            raise TargetError(f"file '{path}' line {line}: a NUL byte; target files are text")
        text = pending + text
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        pending = "" if final else lines.pop()
        newlines += len(lines)
        _take_lines(lines, v4, v6, words)
        if final:
            break
    return TargetFile(path, bytes(v4), bytes(v6), words)


def _take_lines(lines: list[str], v4: bytearray, v6: bytearray, words: list[str]) -> None:
    pton, inet, inet6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6
    for line in lines:
        if ":" in line:
            try:
                packed = pton(inet6, line)
            except OSError:
                pass
            else:
                if packed != _ZERO6 and packed[:12] != _MAPPED:  # those get their error
                    v6 += packed
                    continue
        else:
            try:
                packed = pton(inet, line)  # strict dotted quad: no '127.1', no leading zeros
            except OSError:
                pass
            else:
                if packed != _ZERO4:  # the parser says why 0.0.0.0 is no host
                    v4 += packed
                    continue
        if line:
            for part in line.splitlines():  # \r, \v, \f ... end lines too, as before
                words.extend(part.partition("#")[0].split())
