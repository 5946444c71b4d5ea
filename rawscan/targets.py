"""Target specifications (nmap syntax) parsed into compact sorted address ranges.

Addresses are plain ints in rawscan.addresses' tagged space (IPv4 as is, IPv6 with bit 128
set), and the set is a tuple of inclusive (lo, hi) ranges, so a /8 or an IPv6 /64 costs a
few bytes and the engine can pick the i-th address without a list. A range never spans the
two families, and every IPv4 address sorts before every IPv6 one.
"""

from __future__ import annotations

import re
import socket
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rawscan.addresses import IPV4_MAX, V6, V6_MASK, addr_to_str
from rawscan.errors import RawscanError

__all__ = [
    "FAMILIES",
    "LARGE_SCAN_LIMIT",
    "LARGE_V6_SCAN_LIMIT",
    "MAX_TARGETS",
    "TargetError",
    "TargetSet",
    "int_to_ip",
    "ip_to_int",
    "parse_targets",
    "read_target_file",
]

# More addresses than a /8 needs --allow-large: protects against a typo such as /1 for /31.
LARGE_SCAN_LIMIT = 2**24
# The same guard for IPv6, where a /64 is routine to type: more than a /112 needs the flag.
LARGE_V6_SCAN_LIMIT = 2**16
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
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # no leading zero, as _octet
_PLAIN_V4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")  # one address: -iL's usual line

Range = tuple[int, int]
# A resolver returns the textual addresses a name has, of any family; the parser keeps
# those the requested family allows.
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
    """A tagged address int (either family) as text: '198.18.0.2', '2001:2::2'."""
    if not (0 <= n <= _IPV4_MAX or V6 <= n <= _MAX_ADDR):
        raise ValueError(f"{n} is not an address")
    return addr_to_str(n)


def _octet(text: str) -> int:
    """One decimal octet; raises ValueError with the reason."""
    if not text:
        raise ValueError("empty octet")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"octet '{text}' is not a number")
    # inet_aton would read '010' as octal 8; refuse rather than guess which host is meant.
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"octet '{text}' has a leading zero")
    if len(text) > 3 or int(text) > 255:  # length first: int() of 5,000 digits raises
        raise ValueError("octet out of range")
    return int(text)


def _family_bits(addr: int) -> int:
    return 128 if addr >= V6 else 32


def _range_ok(lo: int, hi: int) -> bool:
    """Inside one family: all IPv4 or all (tagged) IPv6."""
    return 0 <= lo <= hi <= _IPV4_MAX or V6 <= lo <= hi <= _MAX_ADDR


@dataclass(frozen=True)
class TargetSet:
    """Sorted, merged, non-overlapping inclusive address ranges (IPv4 ones first, then IPv6,
    none spanning both), plus names the user gave."""

    ranges: tuple[Range, ...]
    names: Mapping[int, str] = field(default_factory=dict, hash=False)
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Normalise so hand-built sets keep the invariants bisect relies on.
        ranges = _merge(self.ranges)
        for lo, hi in ranges:
            if not _range_ok(lo, hi):
                raise ValueError(f"range {lo}-{hi} is not within one address family")
        ends: list[int] = []
        total = 0
        for lo, hi in ranges:
            total += hi - lo + 1
            ends.append(total)
        if total > MAX_TARGETS:
            raise ValueError(f"{total} addresses is more than {MAX_TARGETS}")
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
        i = bisect_right(self.ranges, (addr, _MAX_ADDR + 1)) - 1
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
        """'name (address)' for a name the user gave, else the address: nmap's report line."""
        name = self.names.get(addr)
        ip = int_to_ip(addr)
        return f"{name} ({ip})" if name else ip

    def families(self) -> tuple[int, ...]:
        """The address families present (socket.AF_INET before socket.AF_INET6)."""
        present = []
        if self.ranges and self.ranges[0][0] <= _IPV4_MAX:
            present.append(socket.AF_INET)
        if self.ranges and self.ranges[-1][1] >= V6:
            present.append(socket.AF_INET6)
        return tuple(present)

    def first_of(self, family: int) -> int | None:
        """The lowest address of that family (socket.AF_INET or AF_INET6), None if absent."""
        if family == socket.AF_INET6:
            i = bisect_left(self.ranges, (V6, V6))  # the first IPv6 range, if any
            return self.ranges[i][0] if i < len(self.ranges) else None
        return self.ranges[0][0] if self.ranges and self.ranges[0][0] <= _IPV4_MAX else None


def _contains(ranges: tuple[Range, ...], addr: int) -> bool:
    i = bisect_right(ranges, (addr, _MAX_ADDR + 1)) - 1
    return i >= 0 and ranges[i][0] <= addr <= ranges[i][1]


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sort and merge overlapping or adjacent ranges."""
    ranges = tuple(ranges)
    if _normalised(ranges):  # merged already (a TargetSet made from parse_targets' answer)
        return ranges
    out: list[Range] = []
    append = out.append  # -iL of a million lines: the running range in locals, 2x faster
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


def _subtract(keep: tuple[Range, ...], drop: tuple[Range, ...]) -> tuple[Range, ...]:
    """keep minus drop; both sorted and merged. One linear sweep."""
    if not drop:
        return keep  # no copy of a million ranges when nothing is excluded
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
        if _PLAIN_V4.fullmatch(spec):  # the pattern parser's answer, 30x faster
            addr = int.from_bytes(socket.inet_aton(spec), "big")
            return [(addr, addr)]
        if "/" in spec:
            return self._prefix(spec)
        if _looks_v6(spec):
            if "-" in spec:
                first, _, last = spec.partition("-")
                if not (_looks_v6(first) and _looks_v6(last)):
                    raise ValueError("both ends of an IPv6 range must be full IPv6 addresses")
                lo, hi = _v6_addr(first), _v6_addr(last)
                if lo > hi:
                    raise ValueError("range start is after its end")
                return [(lo, hi)]
            addr = _v6_addr(spec)
            return [(addr, addr)]
        if not _PATTERN_CHARS.fullmatch(spec):
            return [(addr, addr) for addr in self._host(spec)]
        halves = spec.split("-")
        if len(halves) == 2 and halves[0].count(".") == 3 and halves[1].count(".") == 3:
            lo, hi = _single(halves[0]), _single(halves[1])
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
            addrs = [_v6_addr(base)]
        elif _PATTERN_CHARS.fullmatch(base):
            addrs = [_single(base)]
        else:
            addrs = self._host(base)
        out = []
        for addr in addrs:
            bits = _family_bits(addr)
            if prefix > bits:
                raise ValueError(f"prefix length must be 0-{bits} for {int_to_ip(addr)}")
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
                addr = _v6_addr(answer) if ":" in answer else ip_to_int(answer)
            except (TargetError, ValueError):
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
                  f"{', '.join(int_to_ip(a) for a in found[1:])} (--all-families scans every one)",
                  file=sys.stderr)
        return found[:1]


def _looks_v6(text: str) -> bool:
    return ":" in text or text.startswith("[")


def _v6_addr(text: str) -> int:
    """An IPv6 literal, bracketed or not, as a tagged int; ValueError saying why not."""
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError("unbalanced '[' or ']'")
        text = text[1:-1]
        if ":" not in text:
            raise ValueError("brackets are for IPv6 addresses only")
    if "%" in text:
        raise ValueError("scoped IPv6 addresses (with %zone) are not supported")
    try:
        raw = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        raise ValueError(f"'{text}' is not an IPv6 address") from None
    if raw[:12] == b"\0" * 10 + b"\xff\xff":  # ::ffff:a.b.c.d: the kernel refuses to send to it
        v4 = socket.inet_ntop(socket.AF_INET, raw[12:])
        raise ValueError(f"an IPv4-mapped IPv6 address is not sent to as such: scan {v4}")
    return V6 | int.from_bytes(raw, "big")


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


def _count(ranges: Iterable[Range]) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def parse_targets(
    specs: Iterable[str],
    *,
    exclude: Iterable[str] = (),
    resolve: Resolver | None = None,
    allow_large: bool = False,
    family: str = "4",
) -> TargetSet:
    """Parse nmap-style target specs minus excludes into a TargetSet. `family` says what
    host names resolve to (see FAMILIES); literal addresses of both families always count."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    parser = _Parser(resolve or _system_resolver(family), family)
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
    v4_total = _count(r for r in ranges if r[1] <= _IPV4_MAX)
    v6_total = _count(r for r in ranges if r[0] >= V6)
    if v4_total + v6_total > MAX_TARGETS:
        raise TargetError(
            f"{v4_total + v6_total} addresses is more than rawscan can scan at once"
            " (at most 2^48, an IPv6 /80)"
        )
    if not allow_large:
        if v4_total > LARGE_SCAN_LIMIT:
            raise TargetError(
                f"{v4_total} addresses is more than {LARGE_SCAN_LIMIT} (a /8);"
                " pass --allow-large if you really mean to scan that many"
            )
        if v6_total > LARGE_V6_SCAN_LIMIT:
            raise TargetError(
                f"{v6_total} IPv6 addresses is more than {LARGE_V6_SCAN_LIMIT} (a /112);"
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
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark (Windows editors) is no name
    if "\0" in text:  # a NUL would split a name unseen, or hide an address
        line = text[:text.index("\0")].count("\n") + 1
        raise TargetError(f"file '{path}' line {line}: a NUL byte; target files are text")
    return [word for line in text.splitlines() for word in line.partition("#")[0].split()]
