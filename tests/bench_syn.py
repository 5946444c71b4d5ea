"""SYN benchmark (issue 6): rawscan against nmap, masscan and zmap on the same namespace lab.

Run as root: python tests/bench_syn.py [--runs N] [--cases 1,2,3,4,5] [--timeout S].
Each measurement gets a fresh lab (tests/lab.py). Cases:
  1. all 65,535 ports of one host: open, closed, dropped, admin- and host-prohibited ports;
  2. port 80 across 198.19.0.0/16, routed to the target namespace and local there, with a
     listener on 0.0.0.0:80, so every address answers SYN-ACK (open);
  3. ports 1-1000 across 198.19.0.0/24 (same route; open ports listen on 0.0.0.0, the lab's
     nft rules drop or reject others on every address);
  4. case 1 with 5% of the target's replies dropped;
  5. rawscan's memory over /16 x 1 port against /16 x 10 ports (80-89).
Prints per-run progress and a markdown table: median wall time (whole process, as seen from
here), peak memory (max RSS of the tool, GNU time's %M when installed), accuracy against the
lab's ground truth, and rawscan's send rate (probes sent / its own elapsed time). masscan and
zmap report only open ports: they are scored on open ports only. Not a test: numbers, not
assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lab import SERVICES, TARGET_IP, Lab, LabSpec, lab_unavailable_reason  # noqa: E402
from lab_layouts import SynLayout  # noqa: E402
from rawscan_cli import rawscan_command, read_jsonl  # noqa: E402
from rawscan.plan import expand_ports  # noqa: E402

SWEEP_NET = "198.19.0.0/16"  # inside 198.18.0.0/15: made local in the target namespace
HOSTS_256 = "198.19.0.0/24"
GNU_TIME = "/usr/bin/time"
# masscan 1.3.2 often never exits after its --wait here (masscan issue #144): its status line
# counts below zero and SIGINT does not stop it, so its -oL file is never flushed. Its stdout
# (line-buffered with stdbuf) is complete by then; wall time and peak RSS are taken at -2 s.
MASSCAN_HUNG = re.compile(r"waiting -2-secs")

Key = tuple[str, int]  # (address, port)
States = dict[Key, str]


def _spread(start: int, step: int, stop: int = 65536) -> tuple[int, ...]:
    return tuple(range(start, stop, step))


# 53 open, 50 dropped, 50 admin-prohibited, 25 host-prohibited, the rest closed
FULL = SynLayout(ports=range(1, 65536), open=(22, 80, 443) + _spread(1000, 1300),
                 drop=_spread(1433, 1300), admin=_spread(1866, 1300), host=_spread(1217, 2600))
# per host of case 3: every reply kind within 1-1000
PER_HOST = SynLayout(ports=range(1, 1001), open=(22, 80, 443) + _spread(100, 97, 1001),
                     drop=(23, 445) + _spread(111, 151, 1001),
                     admin=(25, 139) + _spread(113, 173, 1001),
                     host=(53,) + _spread(117, 199, 1001))


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
    name: str
    argv: Callable[[Job], list[str]]
    parse: Callable[[Job, str], States]  # (job, stdout) -> states
    open_only: bool = False  # reports open ports only: scored on those
    hang: re.Pattern[str] | None = None  # stderr text of a finished tool that did not exit


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    spec: LabSpec
    targets: str
    ports: str
    truth: Callable[[], States]
    unit: str  # what accuracy counts
    tools: list[Tool]
    any_address_tcp: tuple[int, ...] = ()  # listeners on 0.0.0.0 (with the SWEEP_NET route)


@dataclass
class Outcome:
    wall: float
    rss_kib: int | None  # None: not measurable
    stdout: str
    note: str = ""  # e.g. how a hung tool was stopped


@dataclass
class Row:
    case: Case
    tool: Tool
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    accuracy: list[str] = field(default_factory=list)
    send_rates: list[float] = field(default_factory=list)
    failure: str = ""
    notes: set[str] = field(default_factory=set)


class ToolFailed(RuntimeError):
    pass


# --- tools ---


def rawscan(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return [rawscan_command(), "syn", job.targets, "-p", job.ports, "-oJ", str(job.out), "-q",
                *extra]

    def parse(job: Job, _stdout: str) -> States:
        return {(str(r["ip"]), int(r["port"])): str(r["state"])  # type: ignore[arg-type]
                for r in read_jsonl(job.out)}

    return Tool(" ".join(["rawscan syn", *extra]), argv, parse)


def nmap(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return ["nmap", "-sS", "-n", "-Pn", "-p", job.ports, *extra, "-oX", str(job.out),
                job.targets]

    return Tool(" ".join(["nmap -sS", *extra]), argv, lambda job, _: parse_nmap_xml(job.out))


def parse_nmap_xml(path: Path) -> States:
    states: States = {}
    for host in ET.parse(path).iter("host"):
        addr = next(a.get("addr", "") for a in host.iter("address") if a.get("addrtype") == "ipv4")
        for port in host.iter("port"):
            state = port.find("state")
            key = (addr, int(port.get("portid", 0)))
            states[key] = "" if state is None else state.get("state", "")
        for extra in host.iter("extraports"):  # ports nmap folded into one line
            for reason in extra.iter("extrareasons"):
                for p in expand_ports(reason.get("ports", "")):
                    states[addr, p] = extra.get("state", "")
    return states



def masscan(rate: int) -> Tool:
    def argv(job: Job) -> list[str]:  # stdout line-buffered: see MASSCAN_HUNG
        return ["stdbuf", "-oL", "masscan", job.targets, "-p", job.ports, "--rate", str(rate),
                "--interface", job.iface, "--router-mac", job.router_mac]

    def parse(_job: Job, stdout: str) -> States:
        found = re.findall(r"Discovered open port (\d+)/tcp on (\S+)", stdout)
        return {(ip, int(port)): "open" for port, ip in found}

    return Tool(f"masscan --rate {rate}", argv, parse, open_only=True, hang=MASSCAN_HUNG)


def zmap(rate: int | None = None) -> Tool:
    rate_args = [] if rate is None else ["-r", str(rate)]

    def argv(job: Job) -> list[str]:
        blocklist = job.out.with_name("zmap-blocklist")  # the packaged one lists 198.18.0.0/15
        blocklist.write_text("")
        return ["zmap", "-p", job.ports, "-i", job.iface, "-G", job.router_mac, *rate_args,
                "-b", str(blocklist), "-o", str(job.out), "-q", "--disable-syslog", job.targets]

    def parse(job: Job, _stdout: str) -> States:
        port = int(job.ports)
        return {(line.strip(), port): "open" for line in job.out.read_text().splitlines()
                if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", line.strip())}

    name = "zmap" + ("" if rate is None else f" -r {rate}") + " (default cooldown 8 s)"
    return Tool(name, argv, parse, open_only=True)


def installed(tools: list[Tool]) -> list[Tool]:
    return [t for t in tools if t.name.startswith("rawscan") or shutil.which(t.name.split()[0])]


# --- ground truth and scoring ---


def layout_truth(layout: SynLayout, addresses: list[str]) -> Callable[[], States]:
    def truth() -> States:
        per_port = {p: s for p, (s, _reason) in layout.expected().items()}
        return {(a, p): s for a in addresses for p, s in per_port.items()}

    return truth


def sweep_truth(net: str, ports: range, open_ports: tuple[int, ...]) -> Callable[[], States]:
    def truth() -> States:
        return {(str(a), p): "open" if p in open_ports else "closed"
                for a in ipaddress.ip_network(net) for p in ports}

    return truth


def score(tool: Tool, truth: States, found: States) -> str:
    if tool.open_only:
        want = {k for k, s in truth.items() if s == "open"}
        got = {k for k, s in found.items() if s == "open"}
        wrong = len(got - want)
        return f"{len(got & want)}/{len(want)} open only" + (f", {wrong} false" if wrong else "")
    correct = sum(found.get(k) == s for k, s in truth.items())
    extra = len(found.keys() - truth.keys())
    return f"{correct}/{len(truth)}" + (f", {extra} unasked" if extra else "")


# --- running ---


def gnu_time() -> bool:
    if not os.access(GNU_TIME, os.X_OK):
        return False
    r = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True, check=False)
    return "GNU" in r.stdout + r.stderr


def run_in(ns: str, argv: list[str], timeout: float, use_time: bool,
           hang: re.Pattern[str] | None = None) -> Outcome:
    """Run argv in namespace ns. On timeout kill its process group (ours, by PID); when stderr
    matches hang (a tool that finished but does not exit), kill it and note it."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file, out_file, err_file = (Path(tmp, n) for n in ("rss", "stdout", "stderr"))
        wrap = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] if use_time else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        began = time.monotonic()
        with out_file.open("w") as out, err_file.open("w") as err:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, *wrap, *argv], stdout=out,
                                    stderr=err, text=True, start_new_session=True)
            wall, note, hung_rss = _wait(proc, began, timeout, err_file, hang, use_time)
        if proc.returncode != 0 and not note:
            last = (err_file.read_text(errors="replace").strip().splitlines() or ["?"])[-1]
            raise ToolFailed(f"failed (exit {proc.returncode}): {last[:80]}")
        if hung_rss is not None:
            rss: int | None = hung_rss
        elif use_time and rss_file.read_text().strip():
            rss = int(rss_file.read_text().split()[-1])
        elif use_time:
            rss = None  # killed before GNU time could report
        else:  # max over all children so far: only meaningful when it grew
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rss = after if after > before else None
        return Outcome(wall, rss, out_file.read_text(errors="replace"), note)


def _wait(proc: subprocess.Popen[str], began: float, timeout: float, err_file: Path,
          hang: re.Pattern[str] | None, use_time: bool) -> tuple[float, str, int | None]:
    while proc.poll() is None:
        elapsed = time.monotonic() - began
        if elapsed > timeout:
            _kill_group(proc)
            raise ToolFailed(f"skipped: over {timeout:.0f} s")
        if hang and hang.search(_tail(err_file)):
            rss = _peak_rss(_child(proc.pid) if use_time else proc.pid)
            _kill_group(proc)
            return elapsed, "hung after its wait, killed", rss
        time.sleep(0.05)
    return time.monotonic() - began, "", None


def _child(pid: int) -> int:
    """The tool GNU time runs."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else pid


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
    proc.wait(5)


def target_mac(lab: Lab) -> str:
    r = subprocess.run(["ip", "-n", lab.target_ns, "-j", "link", "show", "dev", lab.target_iface],
                       capture_output=True, text=True, check=True)
    return str(json.loads(r.stdout)[0]["address"])


@contextlib.contextmanager
def every_address_answers(lab: Lab, tcp_ports: tuple[int, ...]) -> Iterator[None]:
    """Make SWEEP_NET local in the target, route it there, and listen on 0.0.0.0 on tcp_ports."""
    if not tcp_ports:
        yield
        return
    for argv in (["ip", "-n", lab.target_ns, "route", "add", "local", SWEEP_NET, "dev", "lo"],
                 ["ip", "-n", lab.scanner_ns, "route", "add", SWEEP_NET, "via", TARGET_IP]):
        subprocess.run(argv, check=True, capture_output=True)
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


def measure_once(case: Case, tool: Tool, truth: States, timeout: float,
                 use_time: bool) -> tuple[Outcome, str]:
    with tempfile.TemporaryDirectory() as tmp, Lab(case.spec) as lab, \
            every_address_answers(lab, case.any_address_tcp):
        job = Job(case.targets, case.ports, Path(tmp) / "result", lab.scanner_iface,
                  target_mac(lab))
        outcome = run_in(lab.scanner_ns, tool.argv(job), timeout, use_time, tool.hang)
        return outcome, score(tool, truth, tool.parse(job, outcome.stdout))


def send_rate(stdout: str) -> float | None:
    """rawscan's sustained send rate: its first round's probes over the time it took to send
    them (the summary line), else probes sent over its whole elapsed time."""
    sustained = re.search(r"first round sent at ([\d,]+) probes/s", stdout)
    if sustained:
        return float(sustained.group(1).replace(",", ""))
    sent = re.search(r"Probes: (\d+) sent", stdout)
    took = re.search(r"scanned in ([\d.]+) seconds", stdout)
    if not sent or not took or float(took.group(1)) <= 0:
        return None
    return int(sent.group(1)) / float(took.group(1))


def measure(case: Case, tool: Tool, truth: States, runs: int, timeout: float,
            use_time: bool) -> Row:
    row = Row(case, tool)
    for n in range(1, runs + 1):
        try:
            outcome, accuracy = measure_once(case, tool, truth, timeout, use_time)
        except ToolFailed as exc:
            row.failure = str(exc)
            print(f"  {tool.name}: run {n}: {exc}", flush=True)
            break
        row.times.append(outcome.wall)
        row.accuracy.append(accuracy)
        if outcome.note:
            row.notes.add(outcome.note)
        if outcome.rss_kib is not None:
            row.rss_kib.append(outcome.rss_kib)
        if (rate := send_rate(outcome.stdout)) is not None:
            row.send_rates.append(rate)
        mem = f"{outcome.rss_kib / 1024:.0f} MB" if outcome.rss_kib else "?"
        extra = f", {rate:,.0f} probes/s" if rate else ""
        note = f" ({outcome.note})" if outcome.note else ""
        print(f"  {tool.name}: run {n}: {outcome.wall:.2f} s, {mem}, {accuracy} {case.unit}{extra}"
              f"{note}", flush=True)
    return row


# --- cases ---


def cases() -> list[Case]:
    # rawscan's default rate (5,000/s, nmap -T3's pace) only measures the pacer: the cases run
    # it at the rates of -T4 (50,000/s) and -T5 (200,000/s)
    fast = [rawscan("--rate", "50000"), rawscan("--rate", "200000")]
    full_tools = [*fast, nmap("-T4"), nmap("--min-rate", "10000"),
                  masscan(10_000), masscan(100_000), masscan(1_000_000)]
    sweep_tools = [*fast, nmap("--min-rate", "10000"), zmap(), zmap(100_000), masscan(100_000)]
    hosts_tools = [*fast, nmap("-T4"), nmap("--min-rate", "10000"), masscan(100_000)]
    lossy_tools = [*fast, nmap("-T4")]
    no_listeners = dataclasses.replace(PER_HOST.spec(), open_tcp=())  # they listen on 0.0.0.0
    hosts_256 = [str(a) for a in ipaddress.ip_network(HOSTS_256)]
    memory_tools = [rawscan("--rate", "50000")]
    return [
        Case("1", "1: 65,535 ports, 1 host", FULL.spec(), TARGET_IP, "1-65535",
             layout_truth(FULL, [TARGET_IP]), "ports", full_tools),
        Case("2", "2: port 80, /16 (all open)", LabSpec(), SWEEP_NET, "80",
             sweep_truth(SWEEP_NET, range(80, 81), (80,)), "hosts", sweep_tools, (80,)),
        Case("3", "3: 1,000 ports, 256 hosts", no_listeners, HOSTS_256, "1-1000",
             layout_truth(PER_HOST, hosts_256), "host:ports", hosts_tools, PER_HOST.open),
        Case("4", "4: case 1, 5% reply loss", FULL.spec(loss_percent=5), TARGET_IP, "1-65535",
             layout_truth(FULL, [TARGET_IP]), "ports", lossy_tools),
        Case("5", "5: /16 x 1 port (80)", LabSpec(), SWEEP_NET, "80",
             sweep_truth(SWEEP_NET, range(80, 81), (80,)), "host:ports", memory_tools, (80,)),
        Case("5", "5: /16 x 10 ports (80-89)", LabSpec(), SWEEP_NET, "80-89",
             sweep_truth(SWEEP_NET, range(80, 90), (80,)), "host:ports", memory_tools, (80,)),
    ]


# --- report ---


def table(rows: list[Row]) -> str:
    lines = ["| case | tool | median wall time | peak memory | accuracy | rawscan send rate |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        wall = f"{statistics.median(r.times):.2f} s" if r.times else r.failure
        if r.failure and r.times:
            wall += f" ({r.failure})"
        if r.notes:
            wall += "".join(f" ({n})" for n in sorted(r.notes))
        mem = f"{max(r.rss_kib) / 1024:.0f} MB" if r.rss_kib else "?"
        acc = " / ".join(sorted(set(r.accuracy))) + f" {r.case.unit}" if r.accuracy else "-"
        rate = f"{statistics.median(r.send_rates):,.0f} probes/s" if r.send_rates else ""
        lines.append(f"| {r.case.title} | {r.tool.name} | {wall} | {mem} | {acc} | {rate} |")
    return "\n".join(lines)


def memory_ratio(rows: list[Row]) -> str | None:
    peaks = [max(r.rss_kib) for r in rows if r.case.key == "5" and r.rss_kib]
    if len(peaks) != 2:
        return None
    return f"rawscan /16 x 10 ports uses {peaks[1] / peaks[0]:.2f}x the memory of /16 x 1 port"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs per tool (median); default 1")
    parser.add_argument("--cases", default="1,2,3,4,5", help="comma separated, e.g. 1,4")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds before a tool run is killed and the tool skipped")
    parser.add_argument("--tools", default="", help="only tools whose name contains this text")
    args = parser.parse_args()
    if reason := lab_unavailable_reason():
        raise SystemExit(f"cannot build the lab: {reason}")
    use_time = gnu_time()
    wanted = set(args.cases.split(","))
    rows: list[Row] = []
    for case in (c for c in cases() if c.key in wanted):
        print(case.title, flush=True)
        truth = case.truth()
        for tool in (t for t in installed(case.tools) if args.tools in t.name):
            rows.append(measure(case, tool, truth, args.runs, args.timeout, use_time))
    how = "GNU time %M" if use_time else "RUSAGE_CHILDREN max RSS (?: not above earlier runs)"
    print(f"\n{args.runs} run(s) per tool; peak memory: {how}")
    print(table(rows))
    if ratio := memory_ratio(rows):
        print(ratio)
    missing = [t for t in ("nmap", "masscan", "zmap") if shutil.which(t) is None]
    if missing:
        print(f"(not installed, skipped: {', '.join(missing)})")


if __name__ == "__main__":
    main()
