"""Target specifications (nmap syntax) parsed into compact sorted address ranges.

Addresses are plain ints and the set is a tuple of inclusive (lo, hi) ranges, so a /8 or
even /0 costs a few bytes and the engine can pick the i-th address without a list.
Only IPv4 for now; IPv6 can reuse the same range representation with 128-bit ints.
"""

from __future__ import annotations

import re
import socket
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rawscan.errors import RawscanError

__all__ = [
    "LARGE_SCAN_LIMIT",
    "TargetError",
    "TargetSet",
    "int_to_ip",
    "ip_to_int",
    "parse_targets",
    "read_target_file",
]

# More addresses than a /8 needs --allow-large: protects against a typo such as /1 for /31.
LARGE_SCAN_LIMIT = 2**24
# One octet-range spec such as '*.*.*.1' can fragment into millions of ranges; cap memory.
_MAX_RANGES_PER_SPEC = 2**20
_IPV4_MAX = 2**32 - 1
# Specs made only of these characters are address patterns, anything else is a host name.
_PATTERN_CHARS = re.compile(r"[0-9.,*-]+")

Range = tuple[int, int]
Resolver = Callable[[str], list[str]]


class TargetError(RawscanError):
    """A target or exclude specification the user gave cannot be used."""


def ip_to_int(s: str) -> int:
    """Strict dotted-quad IPv4 to int (no '127.1' shorthand, no leading zeros)."""
    parts = s.split(".")
    if len(parts) != 4:
        raise TargetError(f"invalid IPv4 address '{s}'")
    n = 0
    for part in parts:
        try:
            octet = _octet(part)
        except ValueError:
            raise TargetError(f"invalid IPv4 address '{s}'") from None
        n = (n << 8) | octet
    return n


def int_to_ip(n: int) -> str:
    if not 0 <= n <= _IPV4_MAX:
        raise ValueError(f"{n} is not an IPv4 address")
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _octet(text: str) -> int:
    """One decimal octet; raises ValueError with the reason."""
    if not text:
        raise ValueError("empty octet")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"octet '{text}' is not a number")
    # inet_aton would read '010' as octal 8; refuse rather than guess which host is meant.
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"octet '{text}' has a leading zero")
    value = int(text)
    if value > 255:
        raise ValueError("octet out of range")
    return value


@dataclass(frozen=True)
class TargetSet:
    """Sorted, merged, non-overlapping inclusive IPv4 ranges, plus names the user gave."""

    ranges: tuple[Range, ...]
    names: Mapping[int, str] = field(default_factory=dict, hash=False)
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Normalise so hand-built sets keep the invariants bisect relies on.
        ranges = _merge(self.ranges)
        for lo, hi in ranges:
            if lo < 0 or hi > _IPV4_MAX:
                raise ValueError(f"range {lo}-{hi} is outside IPv4")
        ends: list[int] = []
        total = 0
        for lo, hi in ranges:
            total += hi - lo + 1
            ends.append(total)
        object.__setattr__(self, "ranges", ranges)
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))
        object.__setattr__(self, "_ends", tuple(ends))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def address(self, index: int) -> int:
        """The index-th address in ascending order; negative indexes are not accepted."""
        if not 0 <= index < len(self):
            raise IndexError(f"target index {index} out of range")
        i = bisect_right(self._ends, index)
        before = self._ends[i - 1] if i else 0
        return self.ranges[i][0] + (index - before)

    def index(self, addr: int) -> int | None:
        """The position of addr in ascending order (inverse of address()), None if absent."""
        i = bisect_right(self.ranges, (addr, _IPV4_MAX + 1)) - 1
        if i < 0 or not self.ranges[i][0] <= addr <= self.ranges[i][1]:
            return None
        before = self._ends[i - 1] if i else 0
        return before + addr - self.ranges[i][0]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def __contains__(self, addr: object) -> bool:
        return isinstance(addr, int) and _contains(self.ranges, addr)

    def label(self, addr: int) -> str:
        name = self.names.get(addr)
        ip = int_to_ip(addr)
        return f"{name} ({ip})" if name else ip


def _contains(ranges: tuple[Range, ...], addr: int) -> bool:
    i = bisect_right(ranges, (addr, _IPV4_MAX + 1)) - 1
    return i >= 0 and ranges[i][0] <= addr <= ranges[i][1]


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sort and merge overlapping or adjacent ranges."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if lo > hi:
            raise ValueError(f"empty range {lo}-{hi}")
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _subtract(keep: tuple[Range, ...], drop: tuple[Range, ...]) -> tuple[Range, ...]:
    """keep minus drop; both sorted and merged. One linear sweep."""
    out: list[Range] = []
    j = 0
    for lo, hi in keep:
        while j < len(drop) and drop[j][1] < lo:
            j += 1
        k = j
        while lo <= hi and k < len(drop) and drop[k][0] <= hi:
            dlo, dhi = drop[k]
            if dlo > lo:
                out.append((lo, dlo - 1))
            lo = max(lo, dhi + 1)
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


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
            lo = _octet(a) if a else 0
            hi = _octet(b) if b else 255
            if lo > hi:
                raise ValueError(f"reversed octet range '{item}'")
            runs.append((lo, hi))
        else:
            v = _octet(item)
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


def _default_resolve(name: str) -> list[str]:
    infos = socket.getaddrinfo(name, None, socket.AF_INET)
    return [str(info[4][0]) for info in infos]


class _Parser:
    """Parses many specs, resolving each host name once and remembering it for labels."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve
        self._resolved: dict[str, int] = {}
        self.names: dict[int, str] = {}

    def spec(self, spec: str, what: str) -> list[Range]:
        try:
            return self._spec(spec)
        except ValueError as e:
            raise TargetError(f"invalid {what} '{spec}': {e}") from None

    def _spec(self, spec: str) -> list[Range]:
        if "/" in spec:
            base, _, prefix_text = spec.partition("/")
            if not (prefix_text.isascii() and prefix_text.isdigit()) or int(prefix_text) > 32:
                raise ValueError("prefix length must be 0-32")
            prefix = int(prefix_text)
            if not base:
                raise ValueError("missing address before '/'")
            if _PATTERN_CHARS.fullmatch(base):
                addr = _single(base)
            else:
                addr = self._host(base)
            size = 1 << (32 - prefix)
            lo = addr & ~(size - 1) & _IPV4_MAX  # host bits set are fine, as in nmap
            return [(lo, lo + size - 1)]
        if not _PATTERN_CHARS.fullmatch(spec):
            addr = self._host(spec)
            return [(addr, addr)]
        halves = spec.split("-")
        if len(halves) == 2 and halves[0].count(".") == 3 and halves[1].count(".") == 3:
            lo, hi = _single(halves[0]), _single(halves[1])
            if lo > hi:
                raise ValueError("range start is after its end")
            return [(lo, hi)]
        return _octet_pattern(spec)

    def _host(self, name: str) -> int:
        if name not in self._resolved:
            self._resolved[name] = self._lookup(name)
            self.names.setdefault(self._resolved[name], name)
        return self._resolved[name]

    def _lookup(self, name: str) -> int:
        try:
            answers = self._resolve(name)
        except (OSError, UnicodeError, ValueError):
            answers = []
        for answer in answers:
            try:
                return ip_to_int(answer)
            except TargetError:
                continue  # e.g. an IPv6 answer from a custom resolver
        raise TargetError(f"cannot resolve host '{name}'")


def _single(text: str) -> int:
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError("expected four dot-separated octets")
    n = 0
    for part in parts:
        n = (n << 8) | _octet(part)
    return n


def _split(specs: Iterable[str]) -> list[str]:
    # A single string may hold several whitespace-separated specs (e.g. from a file).
    return [word for spec in specs for word in spec.split()]


def parse_targets(
    specs: Iterable[str],
    *,
    exclude: Iterable[str] = (),
    resolve: Resolver | None = None,
    allow_large: bool = False,
) -> TargetSet:
    """Parse nmap-style target specs minus excludes into a TargetSet."""
    parser = _Parser(resolve or _default_resolve)
    include: list[Range] = []
    given = _split(specs)
    for spec in given:
        include.extend(parser.spec(spec, "target"))
    drop: list[Range] = []
    for spec in _split(exclude):
        drop.extend(parser.spec(spec, "exclude"))
    ranges = _subtract(_merge(include), _merge(drop))
    if not ranges:
        if not given:
            raise TargetError("no targets to scan: give at least one target")
        raise TargetError("no targets to scan: every target is excluded")
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if total > LARGE_SCAN_LIMIT and not allow_large:
        raise TargetError(
            f"{total} addresses is more than {LARGE_SCAN_LIMIT} (a /8);"
            " pass --allow-large if you really mean to scan that many"
        )
    names = {addr: name for addr, name in parser.names.items() if _contains(ranges, addr)}
    return TargetSet(ranges, names)


def read_target_file(path: str) -> list[str]:
    """Specs from a file for -iL/--excludefile: whitespace separated, '#' starts a comment."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise TargetError(f"cannot read file '{path}': {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise TargetError(f"cannot read file '{path}': not a UTF-8 text file") from None
    return [word for line in text.splitlines() for word in line.partition("#")[0].split()]
