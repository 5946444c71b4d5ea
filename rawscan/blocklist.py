"""Addresses a wide scan must not probe: the IANA special-purpose registries, and the user's own
--blocklist file.

The default table is written from the IANA IPv4 Special-Purpose Address Registry
(https://www.iana.org/assignments/iana-ipv4-special-registry/) and the IANA IPv6
Special-Purpose Address Registry
(https://www.iana.org/assignments/iana-ipv6-special-registry/), which RFC 6890 set up and
RFC 8190 updated, plus the multicast blocks (RFC 5771 for IPv4, RFC 4291 for IPv6), which no
unicast probe should reach. A block the registry marks globally reachable (anycast services,
AS112, AMT, ORCHIDv2 ...) is a real service on the Internet and is left scannable, also where
it sits inside a larger reserved block (192.0.0.9 inside 192.0.0.0/24). Deprecated blocks
with nothing that should answer (6to4 relay anycast, ORCHID) are blocked; Teredo and 6to4
(2001::/32, 2002::/16) are real hosts' addresses and are not.

The default applies only to a target that reaches past a reserved block: a target wholly inside
one (the lab's 198.18.0.0/15, 127.0.0.0/8, one private address) is what the user asked for
(see targets.select_targets). A --blocklist file always applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .addresses import V6
from .errors import RawscanError

Range = tuple[int, int]

# (block, blocked, registry name and its RFC); blocked False: globally reachable, carved out of
# any blocked block around it
SPECIAL_PURPOSE: tuple[tuple[str, bool, str], ...] = (
    # IPv4 Special-Purpose Address Registry
    ("0.0.0.0/8", True, '"This network", RFC 791'),
    ("10.0.0.0/8", True, "Private-Use, RFC 1918"),
    ("100.64.0.0/10", True, "Shared Address Space, RFC 6598"),
    ("127.0.0.0/8", True, "Loopback, RFC 1122"),
    ("169.254.0.0/16", True, "Link Local, RFC 3927"),
    ("172.16.0.0/12", True, "Private-Use, RFC 1918"),
    ("192.0.0.0/24", True, "IETF Protocol Assignments, RFC 6890"),
    ("192.0.0.9/32", False, "Port Control Protocol Anycast, RFC 7723"),
    ("192.0.0.10/32", False, "Traversal Using Relays around NAT Anycast, RFC 8155"),
    ("192.0.2.0/24", True, "Documentation (TEST-NET-1), RFC 5737"),
    ("192.31.196.0/24", False, "AS112-v4, RFC 7535"),
    ("192.52.193.0/24", False, "AMT, RFC 7450"),
    ("192.88.99.0/24", True, "Deprecated (6to4 Relay Anycast), RFC 7526"),
    ("192.168.0.0/16", True, "Private-Use, RFC 1918"),
    ("192.175.48.0/24", False, "Direct Delegation AS112 Service, RFC 7534"),
    ("198.18.0.0/15", True, "Benchmarking, RFC 2544"),
    ("198.51.100.0/24", True, "Documentation (TEST-NET-2), RFC 5737"),
    ("203.0.113.0/24", True, "Documentation (TEST-NET-3), RFC 5737"),
    ("224.0.0.0/4", True, "Multicast, RFC 5771 (IPv4 Multicast Address Space Registry)"),
    ("240.0.0.0/4", True, "Reserved, RFC 1112"),
    ("255.255.255.255/32", True, "Limited Broadcast, RFC 919 and RFC 8190"),
    # IPv6 Special-Purpose Address Registry
    ("::/128", True, "Unspecified Address, RFC 4291"),
    ("::1/128", True, "Loopback Address, RFC 4291"),
    ("::ffff:0:0/96", True, "IPv4-mapped Address, RFC 4291"),
    ("64:ff9b::/96", False, "IPv4-IPv6 Translation, RFC 6052"),
    ("64:ff9b:1::/48", True, "IPv4-IPv6 Translation (local use), RFC 8215"),
    ("100::/64", True, "Discard-Only Address Block, RFC 6666"),
    ("2001::/23", True, "IETF Protocol Assignments, RFC 2928"),
    ("2001::/32", False, "TEREDO, RFC 4380 and RFC 8190"),
    ("2001:1::1/128", False, "Port Control Protocol Anycast, RFC 7723"),
    ("2001:1::2/128", False, "Traversal Using Relays around NAT Anycast, RFC 8155"),
    ("2001:1::3/128", False, "DNS-SD Service Registration Protocol Anycast, RFC 9665"),
    ("2001:2::/48", True, "Benchmarking, RFC 5180"),
    ("2001:3::/32", False, "AMT, RFC 7450"),
    ("2001:4:112::/48", False, "AS112-v6, RFC 7535"),
    ("2001:10::/28", True, "Deprecated (previously ORCHID), RFC 4843"),
    ("2001:20::/28", False, "ORCHIDv2, RFC 7343"),
    ("2001:30::/28", False, "Drone Remote ID Protocol Entity Tags, RFC 9374"),
    ("2001:db8::/32", True, "Documentation, RFC 3849"),
    ("2620:4f:8000::/48", False, "Direct Delegation AS112 Service, RFC 7534"),
    ("3fff::/20", True, "Documentation, RFC 9637"),
    ("5f00::/16", True, "Segment Routing (SRv6) SIDs, RFC 9602"),
    ("fc00::/7", True, "Unique-Local, RFC 4193 and RFC 8190"),
    ("fe80::/10", True, "Link-Local Unicast, RFC 4291"),
    ("ff00::/8", True, "Multicast, RFC 4291"),
)


def cidr_range(text: str) -> Range:
    """'198.18.0.0/15' or an address of either family as a range of tagged ints; ValueError
    saying why not. Host bits set are refused: in a blocklist they are a typo."""
    from .addresses import parse_addr

    base, slash, length = text.partition("/")
    addr = parse_addr(base)
    bits = 128 if addr >= V6 else 32
    if not slash:
        return addr, addr
    if not (length.isascii() and length.isdigit()) or len(length) > 3 or int(length) > bits:
        raise ValueError(f"prefix length must be 0-{bits}")
    size = 1 << (bits - int(length))
    if addr & (size - 1):
        raise ValueError(f"host bits are set (the block is {_base(addr, size)}/{length})")
    return addr, addr + size - 1


def _base(addr: int, size: int) -> str:
    from .addresses import addr_to_str

    return addr_to_str(addr & ~(size - 1))


def _merge(ranges: list[Range]) -> list[Range]:
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def subtract(keep: list[Range], drop: list[Range]) -> list[Range]:
    """keep minus drop, both merged (small lists: the tables here)."""
    out: list[Range] = []
    for lo, hi in keep:
        for dlo, dhi in drop:
            if dhi < lo or dlo > hi:
                continue
            if dlo > lo:
                out.append((lo, dlo - 1))
            lo = max(lo, dhi + 1)
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return out


def default_blocks() -> tuple[Range, ...]:
    """The reserved blocks as merged ranges, the globally reachable ones carved out."""
    blocked = _merge([cidr_range(b) for b, is_blocked, _ in SPECIAL_PURPOSE if is_blocked])
    reachable = _merge([cidr_range(b) for b, is_blocked, _ in SPECIAL_PURPOSE if not is_blocked])
    return tuple(subtract(blocked, reachable))


@dataclass(frozen=True)
class Blocklist:
    """What select_targets takes out: the default table unless turned off (only from targets
    that reach past a reserved block), and the user's ranges (from every target)."""

    default: bool = True
    user: tuple[Range, ...] = ()
    user_file: str | None = None


def read_blocklist(path: str) -> tuple[Range, ...]:
    """--blocklist FILE: one address or CIDR block per line, '#' starts a comment; merged."""
    try:
        with open(path, "rb") as f:
            data = f.read(64 << 20)
    except OSError as exc:
        raise RawscanError(f"cannot read blocklist '{path}': {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise RawscanError(f"cannot read blocklist '{path}': not a UTF-8 text file") from None
    ranges: list[Range] = []
    for number, line in enumerate(text.splitlines(), 1):
        for word in line.partition("#")[0].split():
            try:
                ranges.append(cidr_range(word))
            except (ValueError, UnicodeError) as exc:  # UnicodeError: odd text in inet_pton
                raise RawscanError(f"blocklist '{path}' line {number}: '{word[:60]}' is not an "
                                   f"address or CIDR block ({exc})") from None
    return tuple(_merge(ranges))
