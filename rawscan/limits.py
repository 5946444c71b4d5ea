"""How big a scan may be before rawscan asks first.

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
