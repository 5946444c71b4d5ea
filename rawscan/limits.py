"""How big a scan may be: addresses and probes past which rawscan wants --allow-large or a yes.

More than LARGE_SCAN_LIMIT IPv4 addresses (a /8) or LARGE_V6_SCAN_LIMIT IPv6 ones (a /112)
need --allow-large: that protects against a typo such as /1 for /31 (targets.py asks
large_address_count() once the targets are known).

`-p-` against a /16 is 2^32 probes: about ten days at the default rate. Typed by mistake (a /16
for a /24, -p- for -p 1-1024) it must not start unnoticed, so more than LARGE_PROBE_LIMIT
probes (hosts x ports, the first round; retries come on top) need a yes on a terminal, or
--allow-large, the flag that already guards more than 2^24 addresses. Without a terminal to
ask (cron, CI, a pipe) the scan is refused with a one-line error naming the flag.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from .errors import RawscanError

LARGE_SCAN_LIMIT = 2**24  # IPv4 addresses: a /8
LARGE_V6_SCAN_LIMIT = 2**16  # IPv6 addresses: a /112
LARGE_PROBE_LIMIT = 2**24  # the same bound as for addresses: a /8 with one port is still fine
# past these a number is a typo, not a wish: 100 Gb/s carries under 1.5e8 minimal frames a
# second, and an hour's wait after each round already outlasts any path's round trip
MAX_RATE = 1e9
MAX_TIMEOUT = 3600.0

Ask = Callable[[str], bool]  # shows a question, True for yes


def check_scan_numbers(rate: float, max_rate: float | None, timeout: float) -> None:
    """One line for a rate or timeout no scan could mean (non-finite, or past the bounds)."""
    for option, value, bound in (("--rate", rate, MAX_RATE), ("--max-rate", max_rate, MAX_RATE),
                                 ("--timeout", timeout, MAX_TIMEOUT)):
        if value is None:
            continue
        if not math.isfinite(value):  # typer lets 'inf' through min=; inf waits forever
            raise RawscanError(f"{option} must be a finite number, not {value}")
        if value > bound:
            raise RawscanError(f"{option} {value:g} is more than any scan can use (at most {bound:g})")


def large_address_count(v4_total: int, v6_total: int) -> str | None:
    """Why this many target addresses want --allow-large, or None when they do not."""
    if v4_total > LARGE_SCAN_LIMIT:
        return (f"{v4_total} addresses is more than {LARGE_SCAN_LIMIT} (a /8);"
                " pass --allow-large if you really mean to scan that many")
    if v6_total > LARGE_V6_SCAN_LIMIT:
        return (f"{v6_total} IPv6 addresses is more than {LARGE_V6_SCAN_LIMIT} (a /112);"
                " pass --allow-large if you really mean to scan that many")
    return None


def probe_count(hosts: int, ports: int) -> int:
    """Probes in the first round: one per (host, port)."""
    return hosts * ports


def is_large(hosts: int, ports: int) -> bool:
    return probe_count(hosts, ports) > LARGE_PROBE_LIMIT


def duration(seconds: float) -> str:
    """A rough human duration: '45 s', '12 min', '3.5 h', '10 days'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"


def describe(hosts: int, ports: int, rate: float, adaptive: bool = False) -> str:
    """adaptive: rate is the adaptive rate's ceiling, the fastest the scan can go."""
    probes = probe_count(hosts, ports)
    pace = f"its ceiling of {rate:g}/s" if adaptive else f"--rate {rate:g}"
    return (f"{probes:,} probes ({hosts:,} host(s) x {ports:,} port(s)), "
            f"at least {duration(probes / rate)} at {pace}")


def confirm_large_scan(hosts: int, ports: int, rate: float, allow_large: bool,
                       ask: Ask | None, adaptive: bool = False) -> None:
    """Return if the scan may start; raise RawscanError if not. `ask` is None when nobody
    can answer (stdin is not a terminal)."""
    if allow_large or not is_large(hosts, ports):
        return
    what = describe(hosts, ports, rate, adaptive)
    if ask is None:
        raise RawscanError(
            f"{what} is more than {LARGE_PROBE_LIMIT:,}; pass --allow-large if you really "
            f"mean to send that many")
    if not ask(f"This scan is {what}. Start it?"):
        raise RawscanError(f"not started: {what} (--allow-large starts it without asking)")


def terminal_ask() -> Ask | None:
    """A y/N question when someone is there to answer it (stdin and stderr are terminals),
    else None. Asked on stderr and read from stdin: typer.confirm echoes part of its prompt
    through input() to stdout, which may be carrying -oJ - records."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def ask(question: str) -> bool:
        print(f"{question} [y/N]: ", end="", file=sys.stderr, flush=True)
        try:
            answer = sys.stdin.readline()
        except KeyboardInterrupt:  # Ctrl-C at the question: no
            answer = ""
        if not answer.endswith("\n"):
            print(file=sys.stderr)  # Ctrl-D or Ctrl-C: end the question's line
        return answer.strip().lower() in ("y", "yes")

    return ask


def parse_max_targets(text: str, endpoints: int) -> int:
    """--max-targets as zmap's -n: a number of endpoints (host x port) or a percentage of this
    scan's endpoints (zmap takes a percentage of the whole IPv4 space times the ports; a
    scan's own is what it can mean for IPv6 and for a list of hosts)."""
    spec = text.strip()
    try:
        if spec.endswith("%"):
            share = float(spec[:-1])
            if not (math.isfinite(share) and 0 < share <= 100):
                raise ValueError
            count = max(1, math.floor(endpoints * share / 100))
        else:
            if not (spec.isascii() and spec.isdigit()) or len(spec) > 20:
                raise ValueError
            count = int(spec)
            if count < 1:
                raise ValueError
    except ValueError:
        raise RawscanError(f"--max-targets '{text[:40]}' is not a number of endpoints or a "
                           f"percentage (e.g. 1000 or 0.1%)") from None
    return min(count, endpoints)


def sample_bitmap(endpoints: int, keep: int, key: bytes) -> bytes:
    """One bit per endpoint (the engine's decided bits), set for each endpoint left out of a
    keyed random sample of `keep`: the first `keep` of a cyclic walk of its own key (or, for
    a sample of more than half, all but the first endpoints - keep). Deterministic, so a
    replay and every shard pick the same endpoints."""
    from .cyclic import CyclicOrder

    size = (endpoints + 7) // 8
    inverted = keep * 2 > endpoints
    walk = endpoints - keep if inverted else keep  # the fewer steps
    bits = bytearray(size) if inverted else bytearray(b"\xff") * size
    if not inverted and endpoints % 8:
        bits[-1] = (1 << (endpoints % 8)) - 1  # padding bits stay clear, as the engine's are
    order = CyclicOrder(endpoints, key)
    if walk > 4096:
        import numpy as np

        from .vector import walk_blocks

        view = np.frombuffer(bits, dtype=np.uint8)
        left = walk
        for block in walk_blocks(order):
            block = block[:left]
            masks = (1 << (block & 7)).astype(np.uint8)
            if inverted:
                np.bitwise_or.at(view, block >> 3, masks)
            else:
                np.bitwise_and.at(view, block >> 3, ~masks)
            left -= len(block)
            if not left:
                break
        return bytes(bits)
    for count, index in enumerate(order):
        if count >= walk:
            break
        if inverted:
            bits[index >> 3] |= 1 << (index & 7)
        else:
            bits[index >> 3] &= ~(1 << (index & 7)) & 0xFF
    return bytes(bits)
