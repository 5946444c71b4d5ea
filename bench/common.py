"""What the benchmark scripts (bench/syn.py, bench/udp.py) share: a case is a lab, a ground
truth and the tools run on it; each tool run gets a fresh lab, runs inside its scanner namespace
bounded in time (its process group killed by PID on timeout or Ctrl-C), and is scored against
the truth; medians go into one markdown table per case.

Not a test: numbers, not assertions.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tests.support.lab import SERVICES, TARGET_IP, Lab, LabSpec, lab_unavailable_reason, target_mac
from tests.support.rawscan_cli import rawscan_command

GNU_TIME = "/usr/bin/time"
SWEEP_NET = "198.19.0.0/16"  # inside 198.18.0.0/15: made local in the target namespace
LAB_PREFIXES = ("198.18.", "198.19.", "2001:2:")  # never scanned from the root namespace
FIRST_ROUND = re.compile(r"first round sent at ([\d,]+) probes/s")
PATH_ALLOWED = re.compile(r"the path allowed about ([\d,]+) probes/s")

_RAWSCAN: list[str] = []  # --rawscan: another rawscan executable than the installed one

Key = tuple[str, int]  # (address, port)
Found = Iterable[tuple[Key, str]]  # what a tool reported: (address, port) -> state


def use_rawscan(path: str) -> None:
    """Run this rawscan executable instead of the installed console script (e.g. a wrapper
    around another checkout)."""
    resolved = shutil.which(path)
    if resolved is None:
        raise SystemExit(f"--rawscan {path}: not an executable")
    _RAWSCAN[:] = [resolved]


def rawscan_exe() -> str:
    return _RAWSCAN[0] if _RAWSCAN else rawscan_command()


# --- what a tool run needs, and what it gives back ---


@dataclass(frozen=True)
class Job:
    targets: str
    ports: str  # nmap syntax, e.g. 1-65535 or 80
    out: Path  # the tool's result file
    iface: str  # scanner side of the veth
    router_mac: str  # target side of the veth: every lab address is behind it


@dataclass(frozen=True)
class Tool:
    name: str  # unique within a case: the table's row
    argv: Callable[[Job], list[str]]
    parse: Callable[[Job, str], Found]  # (job, stdout) -> what it found
    open_only: bool = False  # reports open ports only: scored on those
    hang: re.Pattern[str] | None = None  # stderr text of a finished tool that did not exit
    rawscan: bool = False  # its summary line carries the rates
    unsupported: str = ""  # why this tool cannot run the case (a row says so)
    rate: int | None = None  # its fixed send rate, when known: a timeout then says why
    scored: bool = True  # False: only time and memory (e.g. --help)


@dataclass(frozen=True)
class Truth:
    """The lab's ground truth: the same state per port at every address of net."""

    net: str
    per_port: dict[int, str]  # every port asked for -> its state

    @functools.cached_property
    def position(self) -> dict[int, int]:
        return {p: i for i, p in enumerate(sorted(self.per_port))}

    @property
    def addresses(self) -> int:
        return ipaddress.ip_network(self.net).num_addresses

    @property
    def size(self) -> int:
        return self.addresses * len(self.per_port)

    @property
    def open_count(self) -> int:
        return self.addresses * sum(s == "open" for s in self.per_port.values())

    def host_index(self, address: str) -> int | None:
        """Position of an address in net, or None when it was not asked for."""
        try:
            host = int(ipaddress.ip_address(address)) - int(ipaddress.ip_network(self.net)[0])
        except ValueError:
            return None
        return host if 0 <= host < self.addresses else None


def uniform_truth(net: str, ports: Iterable[int], open_ports: Iterable[int] = (),
                  default: str = "closed") -> Truth:
    opened = set(open_ports)
    return Truth(net, {p: "open" if p in opened else default for p in ports})


@dataclass(frozen=True)
class Case:
    key: str  # what --cases selects
    title: str
    spec: LabSpec | None  # None: no lab, the root namespace, loopback targets only
    targets: str
    ports: str
    truth: Truth | None
    unit: str  # what accuracy counts
    tools: list[Tool]
    reference: str = ""  # the tool the ratio column divides by
    any_address_tcp: tuple[int, ...] = ()  # listeners on 0.0.0.0 (with the SWEEP_NET route)
    min_runs: int = 1  # e.g. start-up: at least 10
    label: str = ""  # the row's name instead of the tool's (cases sharing a key: one table)


@dataclass
class Outcome:
    wall: float
    rss_kib: int | None  # None: not measurable
    stdout: str
    stderr: str
    note: str = ""  # e.g. how a hung tool was stopped


@dataclass
class Sample:
    outcome: Outcome
    accuracy: str
    exact: bool


@dataclass
class Measurement:
    case: Case
    tool: Tool
    command: str = ""
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    accuracy: list[str] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    first_round: list[float] = field(default_factory=list)
    path_allowed: list[float] = field(default_factory=list)
    failure: str = ""
    notes: set[str] = field(default_factory=set)

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def all_exact(self) -> bool:
        return bool(self.exact) and all(self.exact) and not self.failure


class ToolFailed(RuntimeError):
    pass


# --- running one tool, bounded ---


def gnu_time() -> bool:
    if not os.access(GNU_TIME, os.X_OK):
        return False
    r = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True, check=False)
    return "GNU" in r.stdout + r.stderr


def run_tool(argv: list[str], ns: str | None, timeout: float, use_time: bool, cwd: str,
             hang: re.Pattern[str] | None = None) -> Outcome:
    """Run argv in namespace ns (None: this one, for loopback only). On timeout or any
    exception (Ctrl-C) kill its process group (ours, by PID); when stderr matches hang (a tool
    that finished but does not exit), kill it and note it."""
    if ns is None and any(a.startswith(LAB_PREFIXES) for a in argv):
        raise ValueError(f"lab addresses are scanned from the scanner namespace only: {argv}")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        rss_file, out_file, err_file = (Path(tmp, n) for n in ("rss", "stdout", "stderr"))
        wrap = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] if use_time else []
        enter = ["ip", "netns", "exec", ns] if ns else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with out_file.open("w") as out, err_file.open("w") as err:
            began = time.monotonic()
            proc = subprocess.Popen([*enter, *wrap, *argv], stdout=out, stderr=err, text=True,
                                    cwd=cwd, start_new_session=True)
            try:
                wall, note, hung_rss = _wait(proc, began, timeout, err_file, hang, use_time)
            finally:
                if proc.poll() is None:
                    _kill_group(proc)
        stdout = out_file.read_text(errors="replace")
        stderr = err_file.read_text(errors="replace")
        if proc.returncode != 0 and not note:
            last = (stderr.strip().splitlines() or stdout.strip().splitlines() or ["?"])[-1]
            raise ToolFailed(f"failed (exit {proc.returncode}): {last[:100]}")
        rss: int | None
        if hung_rss is not None:
            rss = hung_rss
        elif use_time and rss_file.read_text().strip():
            rss = int(rss_file.read_text().split()[-1])
        elif use_time:
            rss = None  # killed before GNU time could report
        else:  # max over all children so far: only meaningful when it grew
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rss = after if after > before else None
        return Outcome(wall, rss, stdout, stderr, note)


def _wait(proc: subprocess.Popen[str], began: float, timeout: float, err_file: Path,
          hang: re.Pattern[str] | None, use_time: bool) -> tuple[float, str, int | None]:
    while proc.poll() is None:
        elapsed = time.monotonic() - began
        if elapsed > timeout:
            _kill_group(proc)
            raise ToolFailed(f"timed out (> {timeout:.0f} s)")
        if hang and hang.search(_tail(err_file)):
            rss = _peak_rss(_child(proc.pid) if use_time else proc.pid)
            _kill_group(proc)
            return elapsed, "hung after its wait, killed", rss
        time.sleep(0.01)
    return time.monotonic() - began, "", None


def _child(pid: int) -> int:
    """The tool GNU time runs."""
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(children[0]) if children else pid
    return pid


def _peak_rss(pid: int) -> int | None:
    """VmHWM (peak RSS, KiB) of a live process."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def _tail(path: Path, size: int = 300) -> str:
    with path.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - size))
        return f.read().decode(errors="replace")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the process group we created (start_new_session), by its leader's PID."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


# --- the lab around a run ---


def without_resolver(lab: Lab) -> None:
    """An empty resolv.conf in the scanner namespace (`ip netns exec` mounts /etc/netns/NS/*
    over /etc): a tool's reverse DNS finds no server at once, instead of trying the host's
    (which the namespace cannot reach anyway). Deleted with the namespace."""
    etc = Path("/etc/netns", lab.scanner_ns)
    with contextlib.suppress(OSError):
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("")


@contextlib.contextmanager
def every_address_answers(lab: Lab, tcp_ports: tuple[int, ...]) -> Iterator[None]:
    """Make SWEEP_NET local in the target, route it there, and listen on 0.0.0.0 on tcp_ports."""
    if not tcp_ports:
        yield
        return
    for argv in (["ip", "-n", lab.target_ns, "route", "add", "local", SWEEP_NET, "dev", "lo"],
                 ["ip", "-n", lab.scanner_ns, "route", "add", SWEEP_NET, "via", TARGET_IP]):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    serve = [sys.executable, str(SERVICES), "serve", "--addr", "0.0.0.0",
             "--tcp", ",".join(map(str, tcp_ports))]
    helper = subprocess.Popen(["ip", "netns", "exec", lab.target_ns, *serve],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert helper.stdout is not None
        line = helper.stdout.readline()  # "ready", or an error and EOF
        if line.strip() != "ready":
            raise RuntimeError(f"listener on 0.0.0.0 did not start: {line.strip()}")
        yield
    finally:
        helper.terminate()  # by PID: `ip netns exec` execs the helper itself
        try:
            helper.wait(5)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait(5)
        if helper.stdout is not None:
            helper.stdout.close()


# --- scoring ---


def score(tool: Tool, truth: Truth | None, found: Found) -> tuple[str, bool]:
    """(accuracy text, exact). Streams what was found: a /16 x 100 ports is 6.5M entries."""
    if truth is None or not tool.scored:
        return "-", True
    hosts: dict[str, int | None] = {}  # address -> its index, parsed once
    seen = bytearray(truth.size)
    nports, position = len(truth.per_port), truth.position
    correct = unasked = twice = false_open = 0
    for (address, port), state in found:
        if tool.open_only and state != "open":
            continue
        host = hosts[address] if address in hosts else hosts.setdefault(
            address, truth.host_index(address))
        if host is None or port not in position:
            unasked += 1
            continue
        i = host * nports + position[port]
        if seen[i]:
            twice += 1
            continue
        seen[i] = 1
        right = truth.per_port[port] == state
        correct += right
        false_open += tool.open_only and not right
    extra = [f"{n} {what}" for n, what in ((unasked, "unasked"), (twice, "twice"),
                                           (false_open, "false")) if n]
    tail = f", {', '.join(extra)}" if extra else ""
    if tool.open_only:  # never exact: closed and filtered ports go unreported
        return f"{correct}/{truth.open_count} open only{tail}", False
    return f"{correct}/{truth.size}{tail}", correct == truth.size and not extra


# --- parsing tools' reports ---


def read_rawscan_jsonl(path: Path) -> Found:
    with path.open() as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                yield (str(r["ip"]), int(r["port"])), str(r["state"])


def nmap_port_list(text: str) -> Iterator[int]:
    """nmap XML's extrareasons port list ("1-21,23,25-79"), parsed here so the benchmark does
    not import the rawscan it measures."""
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        yield from range(int(low), int(high or low) + 1)


def read_nmap_xml(path: Path) -> Found:
    for host in ET.parse(path).iter("host"):
        addr = next((a.get("addr", "") for a in host.iter("address")
                     if a.get("addrtype") in ("ipv4", "ipv6")), "")
        for port in host.iter("port"):
            state = port.find("state")
            yield (addr, int(port.get("portid", 0))), "" if state is None else state.get("state", "")
        for extra in host.iter("extraports"):  # ports nmap folded into one line
            for reason in extra.iter("extrareasons"):
                for p in nmap_port_list(reason.get("ports", "")):
                    yield (addr, p), extra.get("state", "")


def rawscan_rates(text: str) -> tuple[float | None, float | None]:
    """(first round's send rate, the rate the path allowed) from rawscan's summary line."""
    def number(pattern: re.Pattern[str]) -> float | None:
        m = pattern.search(text)
        return float(m.group(1).replace(",", "")) if m else None

    return number(FIRST_ROUND), number(PATH_ALLOWED)


# --- measuring ---


def shown_command(argv: list[str], tmp: str, job: Job, ns: str | None) -> str:
    """The command as a user would type it; the run's own paths and MAC as placeholders."""
    text = " ".join(shlex.quote(a) for a in argv).replace(tmp, "$OUT")
    if job.router_mac:
        text = text.replace(job.router_mac, "$TARGET_MAC")
    return f"ip netns exec SCANNER_NS {text}" if ns else text


def measure_once(case: Case, tool: Tool, timeout: float, use_time: bool,
                 on_command: Callable[[str], None]) -> Sample:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "result"
        if case.spec is None:  # loopback, this namespace
            job = Job(case.targets, case.ports, out, "lo", "")
            argv, ns = tool.argv(job), None
            on_command(shown_command(argv, tmp, job, ns))
            outcome = run_tool(argv, ns, timeout, use_time, tmp, tool.hang)
        else:
            with Lab(case.spec) as lab, every_address_answers(lab, case.any_address_tcp):
                without_resolver(lab)
                job = Job(case.targets, case.ports, out, lab.scanner_iface, target_mac(lab))
                argv, ns = tool.argv(job), lab.scanner_ns
                on_command(shown_command(argv, tmp, job, ns))
                outcome = run_tool(argv, ns, timeout, use_time, tmp, tool.hang)
        try:
            accuracy, exact = score(tool, case.truth, tool.parse(job, outcome.stdout))
        except (OSError, ValueError, ET.ParseError) as exc:
            raise ToolFailed(f"its report could not be read: {exc}") from exc
        return Sample(outcome, accuracy, exact)


def measure(case: Case, tool: Tool, runs: int, timeout: float, use_time: bool) -> Measurement:
    row = Measurement(case, tool)
    name = case.label or tool.name
    if tool.unsupported:
        row.failure = tool.unsupported
        print(f"  {name}: {tool.unsupported}", flush=True)
        return row
    runs = max(runs, case.min_runs)
    def first_command(command: str) -> None:
        if not row.command:
            row.command = command
            print(f"  {name}: $ {command}", flush=True)

    for n in range(1, runs + 1):
        try:
            sample = measure_once(case, tool, timeout, use_time, first_command)
        except ToolFailed as exc:
            row.failure = str(exc)
            if tool.rate and case.truth and str(exc).startswith("timed out"):
                needs = case.truth.size / tool.rate
                row.failure += f"; {case.truth.size:,} probes at {tool.rate:,}/s need {needs:,.0f} s"
            print(f"  {name}: run {n}/{runs}: {row.failure}", flush=True)
            break
        o = sample.outcome
        row.times.append(o.wall)
        row.accuracy.append(sample.accuracy)
        row.exact.append(sample.exact)
        if o.note:
            row.notes.add(o.note)
        if o.rss_kib is not None:
            row.rss_kib.append(o.rss_kib)
        rates = ""
        if tool.rawscan:
            first, allowed = rawscan_rates(o.stdout + o.stderr)
            if first is not None:
                row.first_round.append(first)
            if allowed is not None:
                row.path_allowed.append(allowed)
            rates = f", first round {_rate(first)}, path allowed {_rate(allowed)}"
        mem = f"{o.rss_kib / 1024:.0f} MiB" if o.rss_kib else "? MiB"
        note = f" ({o.note})" if o.note else ""
        print(f"  {name}: run {n}/{runs}: {o.wall:.2f} s, {mem}, {sample.accuracy} "
              f"{case.unit}{rates}{note}", flush=True)
    return row


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


# --- report ---


def case_table(rows: list[Measurement]) -> str:
    case = rows[0].case
    ref = next((r for r in rows if r.tool.name == case.reference and r.median), None)
    # (rows of one key share the title and reference of the first)
    ratio_head = f"÷ {case.reference}" if case.reference else "ratio"
    lines = [f"**{case.title}**", "",
             f"| tool | median wall time | {ratio_head} | peak RSS | accuracy ({case.unit}) "
             "| first round | path allowed |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.median is not None:
            wall = f"{r.median:.2f} s"
            if len(r.times) > 1:
                wall += f" ({min(r.times):.2f}-{max(r.times):.2f})"
            if r.failure:
                wall += f", then {r.failure}"
        else:
            wall = r.failure or "-"
        wall += "".join(f" ({n})" for n in sorted(r.notes))
        ratio = f"{r.median / ref.median:.2f}" if ref and ref.median and r.median else "-"
        mem = f"{max(r.rss_kib) / 1024:.0f} MiB" if r.rss_kib else "-"
        acc = " / ".join(sorted(set(r.accuracy))) if r.accuracy else "-"
        if r.tool.rawscan:
            first = _rate(statistics.median(r.first_round)) if r.first_round else "-"
            allowed = _rate(statistics.median(r.path_allowed)) if r.path_allowed else "-"
        else:
            first = allowed = ""
        name = r.case.label or r.tool.name
        lines.append(f"| {name} | {wall} | {ratio} | {mem} | {acc} | {first} | {allowed} |")
    commands = [f"- {r.case.label or r.tool.name}: `{r.command}`" for r in rows if r.command]
    return "\n".join(lines + ([""] + commands if commands else []))


def machine_lines(use_time: bool) -> list[str]:
    def first_line(argv: list[str]) -> str:
        if shutil.which(argv[0]) is None:
            return "not installed"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            return next((ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()), "?")
        return "?"

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "?")
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %cI"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "rawscan"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start",
        f"python {platform.python_version()}; {first_line([rawscan_exe(), '--version'])} "
        f"at {rawscan_exe()} (this checkout: commit {commit or '?'}"
        f"{', rawscan/ modified' if dirty else ''})",
        f"nmap: {first_line(['nmap', '--version'])}; masscan: "
        f"{first_line(['masscan', '--version'])}; zmap: {first_line(['zmap', '--version'])}",
        f"peak RSS: {'GNU time %M (largest of the process and its children)' if use_time else 'RUSAGE_CHILDREN (- when not above earlier runs)'}",
    ]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every lab is deleted and every tool killed."""
    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def leftover_namespaces() -> list[str]:
    """Namespaces this process made and did not delete (there should be none)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=False).stdout
    mine = (f"rs-scan-{os.getpid()}-", f"rs-tgt-{os.getpid()}-")
    return [ln.split()[0] for ln in listed.splitlines() if ln.startswith(mine)]


def run_cases(cases: list[Case], runs: int, timeout: float, tool_filter: str,
              use_time: bool) -> list[Measurement]:
    """Every selected case's tools in turn; on Ctrl-C what was measured so far."""
    rows: list[Measurement] = []
    try:
        for i, case in enumerate(cases):
            if i == 0 or cases[i - 1].key != case.key:  # cases sharing a key: one title
                print(case.title, flush=True)
            for tool in (t for t in case.tools if tool_filter in t.name):
                rows.append(measure(case, tool, runs, timeout, use_time))
    except KeyboardInterrupt:
        raise Interrupted(rows) from None
    return rows


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) during run_cases: rows holds what was measured before it."""

    def __init__(self, rows: list[Measurement]) -> None:
        super().__init__("interrupted")
        self.rows = rows


def tables(rows: list[Measurement]) -> list[str]:
    by_case: dict[str, list[Measurement]] = {}
    for r in rows:
        by_case.setdefault(r.case.key, []).append(r)
    return [case_table(group) for group in by_case.values()]


def timed_command(lab: Lab, name: str, argv: list[str], timeout: float, cwd: str,
                  ) -> tuple[float, subprocess.CompletedProcess[str] | None]:
    """Run argv in the lab's scanner namespace: its wall time, and the finished process (None,
    said on stdout, when it failed)."""
    began = time.monotonic()
    r = lab.exec_scanner(argv, timeout=timeout, cwd=cwd)
    elapsed = time.monotonic() - began
    if r.returncode != 0:
        print(f"  {name}: exit {r.returncode}: {r.stderr.strip()[-300:]}", flush=True)
        return elapsed, None
    return elapsed, r


def runs_and_timeout(timeout: float) -> tuple[int, float]:
    """The simple benchmarks' --runs and --timeout, once the lab is known to be buildable."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=timeout)
    args = parser.parse_args()
    if reason := lab_unavailable_reason():
        raise SystemExit(f"cannot build the lab: {reason}")
    return args.runs, args.timeout
