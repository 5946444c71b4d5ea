"""Network faults for the live lab, driven from outside tests/support/lab.py: extra nftables tables in
a running lab's target namespace, helper processes started there and stopped by PID, a scan
runner that keeps the summary line's figures, and the time bound every scan must end within.

Fault rules live in their own tables (`rawscan_fault_N`, hooks at priority -10, so they run
before the lab's own `rawscan_lab` rules and see every packet): a fault can be added part way
through a scan without touching what the lab set up.
"""

from __future__ import annotations

import itertools
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rawscan.timing import DEFAULT_TEMPLATE, TEMPLATES

from tests.support.lab import Lab
from tests.support.lab_layouts import SynLayout, UdpLayout
from tests.support.rawscan_cli import port_states, rawscan_command, read_jsonl

TESTS = Path(__file__).parent
SPRAY = TESTS / "forged_traffic.py"
FAULT_TRANSPORT = TESTS / "fault_transport.py"

# 300 ports with every reply kind (15 open, 8 dropped, 8 admin- and 7 host-prohibited, the rest
# closed): each residue mod 20 is one kind, so the kinds are spread over the whole range.
FAULT_SYN = SynLayout(
    ports=range(1, 301),
    open=tuple(range(3, 300, 20)),
    drop=tuple(range(8, 300, 40)),
    admin=tuple(range(13, 300, 40)),
    host=tuple(range(18, 300, 40)),
)

# The same ports, other kinds: FAULT_SYN's open ports reject (host-prohibited), its dropped ones
# are open, its rejecting ones drop, and some of its closed ones are open or admin-prohibited.
# Replies recorded on one layout would change results on the other if they were ever believed.
FAULT_SYN_SHIFTED = SynLayout(
    ports=range(1, 301),
    open=FAULT_SYN.drop + tuple(range(5, 300, 40)),
    drop=FAULT_SYN.admin + FAULT_SYN.host,
    admin=tuple(range(25, 300, 40)),
    host=FAULT_SYN.open,
)

# UDP, the ICMP limit lifted: echo responders, drops, rejects, the rest closed (port unreachable)
FAULT_UDP = UdpLayout(
    ports=tuple(range(1, 151)),
    dns=False,
    open=(7, 20, 45, 70, 99, 120, 149),
    drop=(30, 60, 90, 140),
    admin=(40, 80, 130),
    host=(50, 110, 145),
)

EVERY_OTHER_SYN = "tcp flags & (syn | ack) == syn numgen inc mod 2 == 1 drop"

_tables = itertools.count()


def add_fault_rules(lab: Lab, *, input: Sequence[str] = (), output: Sequence[str] = ()) -> str:
    """Load a new nftables table with these input/output hook rules into the lab's target."""
    name = f"rawscan_fault_{next(_tables)}"
    chains = []
    for hook, rules in (("input", input), ("output", output)):
        if rules:
            body = "\n".join(f"    {r}" for r in rules)
            chains.append(f"  chain {hook} {{\n    type filter hook {hook} priority -10; "
                          f"policy accept;\n{body}\n  }}")
    ruleset = f"table inet {name} {{\n" + "\n".join(chains) + "\n}\n"
    r = lab.exec_target(["nft", "-f", "-"], input=ruleset, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"nft rejected a fault table: {r.stderr.strip()}\n{ruleset}")
    return name


def silence_target(lab: Lab) -> None:
    """The target stops answering the scanner at all, from now on (a host gone silent)."""
    add_fault_rules(lab, input=[f"ip saddr {lab.scanner_ip} drop"],
                    output=[f"ip daddr {lab.scanner_ip} drop"])


@dataclass(frozen=True)
class Summary:
    """The figures of rawscan's closing lines."""

    sent: int
    retransmitted: int
    rounds: int
    matched: int
    duplicate: int
    stray: int
    never_answered: int | None  # the "Unanswered:" line's count (the line is left out at 0)
    tries: int | None  # ... "got no reply to up to R tries"
    loss_seen: float | None  # its estimate of the reply loss in retries, percent
    expected_missed: float | None  # ... "about X answering port(s) are among them"
    no_reply_at_all: bool  # ... or "no reply came at all" instead of those two
    not_sent: int | None  # the "Not sent:" line's count (probes the scanner's host refused)
    unverified: int | None  # the "Unverified:" line's count (bare RSTs / SYNs)
    rate_limited: bool  # "ICMP rate limiting seen"
    elapsed: float

    @classmethod
    def parse(cls, stdout: str) -> Summary:
        def figure(pattern: str) -> int | None:
            found = re.search(pattern, stdout)
            return int(found.group(1)) if found else None

        def must(pattern: str) -> int:
            value = figure(pattern)
            assert value is not None, f"no /{pattern}/ in rawscan's output:\n{stdout[-2000:]}"
            return value

        def real(pattern: str) -> float | None:
            found = re.search(pattern, stdout)
            return float(found.group(1)) if found else None

        elapsed = real(r"scanned in ([0-9.]+) seconds")
        assert elapsed is not None, f"no 'scanned in' line:\n{stdout[-2000:]}"
        return cls(
            sent=must(r"Probes: (\d+) sent"), retransmitted=must(r"(\d+) retransmitted"),
            rounds=must(r"in (\d+) round"), matched=must(r"(\d+) replies matched"),
            duplicate=must(r"(\d+) duplicate"), stray=must(r"(\d+) stray or forged dropped"),
            never_answered=figure(r"Unanswered: (\d+) port"),
            tries=figure(r"got no reply to up to (\d+) tr"),
            loss_seen=real(r"reply loss seen ([0-9.]+)%"),
            expected_missed=real(r"about ([0-9.e+-]+) answering port"),
            no_reply_at_all="no reply came at all" in stdout,
            not_sent=figure(r"Not sent: (\d+) probe"),
            unverified=figure(r"Unverified: (\d+) bare"),
            rate_limited="ICMP rate limiting seen" in stdout, elapsed=elapsed,
        )


@dataclass
class ScanRun:
    returncode: int
    records: list[dict[str, object]]  # the -oJ lines
    stdout: str
    stderr: str
    wall: float  # seconds, process start to exit

    @property
    def states(self) -> dict[int, tuple[str, str]]:
        """port -> (state, reason), for a scan of one host."""
        return port_states(self.records)

    @property
    def summary(self) -> Summary:
        return Summary.parse(self.stdout)


def scanner_argv(lab: Lab, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", lab.scanner_ns, *argv]


def run_rawscan(lab: Lab, out: Path, kind: str, target: str, *extra: str, timeout: float = 120,
                program: Sequence[str] | None = None) -> ScanRun:
    """rawscan KIND TARGET EXTRA... -oJ OUT -q in the scanner namespace (program: a driver
    taking rawscan's arguments, such as fault_transport.py, instead of the rawscan command)."""
    argv = [*(program or [rawscan_command()]), kind, target, *extra, "-oJ", str(out), "-q"]
    began = time.monotonic()
    proc = lab.exec_scanner(argv, timeout=timeout)
    wall = time.monotonic() - began
    records = read_jsonl(out) if proc.returncode == 0 and out.exists() else []
    return ScanRun(proc.returncode, records, proc.stdout, proc.stderr, wall)


def wrong_ports(states: dict[int, tuple[str, str]], expected: dict[int, tuple[str, str]]
                ) -> dict[int, tuple[tuple[str, str] | None, tuple[str, str]]]:
    """port -> (what rawscan said, the truth), for every port it got wrong, left out or made up."""
    wrong = {p: (states.get(p), truth) for p, truth in expected.items() if states.get(p) != truth}
    extra = {p: (got, ("not scanned", "")) for p, got in states.items() if p not in expected}
    return wrong | extra


RATE_FLOOR = 1000.0  # retry rounds slow down after losses: never below min(rate, max(rate/16, this))
ENGINE_SLACK = 0.5  # what scheduling on a 2-core machine shared with other work adds to a bound


def time_bound(endpoints: int, rate: float, retries: int, timeout: float) -> float:
    """The longest a scan's engine may run: at most retries + 1 rounds; the first sends every
    endpoint at --rate, each retry round at most every endpoint at no less than the retry
    floor min(rate, max(rate / 16, 1000)), and each round then waits at most --timeout.
    Not covered: rounds past --retries while ICMP errors trickle in as from a rate-limited
    host; the summary then says "ICMP rate limiting seen"."""
    floor = min(rate, max(rate / 16, RATE_FLOOR))
    return endpoints / rate + endpoints * retries / floor + (retries + 1) * timeout


def check_time_bound(run: ScanRun, endpoints: int, rate: float, retries: int | None = None,
                     timeout: float | None = None) -> float:
    """Assert the scan kept to the time bound (and so to retries + 1 rounds), given what it
    was run with (None: rawscan's default). Not checked once "ICMP rate limiting seen" is
    reported: rounds then go on while the ICMP trickle lasts. Returns the bound."""
    default = TEMPLATES[DEFAULT_TEMPLATE]
    retries = default.retries if retries is None else retries
    timeout = default.timeout if timeout is None else timeout
    bound = time_bound(endpoints, rate, retries, timeout)
    s = run.summary
    if not s.rate_limited:
        assert s.rounds <= retries + 1, f"{s.rounds} rounds with --retries {retries}"
        assert s.elapsed <= bound + ENGINE_SLACK, f"engine {s.elapsed} s, bound {bound:.2f} s"
    return bound


def start_in_target(lab: Lab, argv: Sequence[str]) -> subprocess.Popen[str]:
    """Start a helper in the target namespace; `ip netns exec` execs it, so the PID is its own."""
    return subprocess.Popen(["ip", "netns", "exec", lab.target_ns, *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen[str], want: str, seconds: float = 60) -> None:
    """Read the helper's output until it prints `want`; stop it and raise if it never does."""
    assert proc.stdout is not None
    end = time.monotonic() + seconds
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := end - time.monotonic()) > 0:
            if sel.select(left):
                line = proc.stdout.readline()
                if line.strip() == want:
                    return
                if not line:
                    break
    if proc.poll() is None:
        proc.terminate()
    try:
        _out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    raise RuntimeError(f"helper never said {want!r}: {err.strip()}")


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a helper we started, by its PID; safe to call on one that has exited."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def spray_argv(lab: Lab, report: Path, mode: str, *extra: str) -> list[str]:
    """tests/support/forged_traffic.py in MODE (forge, replay) aimed at this lab's scanner."""
    return [sys.executable, str(SPRAY), "--iface", lab.target_iface, "--scanner", lab.scanner_ip,
            "--target", lab.target_ip, "--report", str(report), *extra, mode]
