"""SYN benchmark (issues 6 and 12): rawscan beside nmap, masscan and zmap on the same labs.

Run as root: python -m bench.syn [--runs N] [--cases 1,2,...] [--timeout S] [--tools TEXT]
Each tool run gets a fresh namespace lab (tests/support/lab.py) and runs inside its scanner namespace.
Every tool gets a row at its defaults, exactly as a user types it (plus the one flag that writes
a report to score: rawscan -oJ, nmap -oX, zmap -o; masscan's stdout is read), beside tuned rows.
Cases:
  1. all 65,535 ports of one host: open, closed, dropped, admin- and host-prohibited ports;
  2. port 80 across 198.19.0.0/16, routed to the target namespace and local there, with a
     listener on 0.0.0.0:80, so every address answers SYN-ACK (open);
  3. ports 1-1000 across 198.19.0.0/24 (same route; open ports listen on 0.0.0.0, the lab's
     nft rules drop or reject others on every address);
  4. case 1 with 5% of the target's replies dropped (nft numgen);
  5. rawscan's peak memory: /16 x 1 port, /16 x 10 ports, /16 x 100 ports;
  6. case 1 through a policer: over 20,000 replies/s to the scanner are dropped (nft limit);
  7. start-up: one port on loopback (this namespace: loopback only) and --help, 10+ runs;
  8. UDP, 47 ports under the kernel's default ICMP rate limit (as bench/udp.py).
Prints progress lines, then per case a markdown table: median wall time (whole process, as seen
from here; min-max when several runs), the ratio to the case's reference row, peak RSS (GNU
time's %M), accuracy against the lab's ground truth, and for rawscan the first round's send rate
and the rate the path allowed (from its summary line); then the issue's "Done when" checks.
masscan and zmap report open ports only: they are scored on those. The scanner namespace has an
empty resolv.conf: nmap's default reverse DNS finds no server (it says so) and costs nothing.
Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import socket
import sys

from bench.common import (
    SWEEP_NET, Case, Found, Interrupted, Job, Measurement, Tool, Truth, gnu_time,
    leftover_namespaces, machine_lines, rawscan_exe, read_nmap_xml, read_rawscan_jsonl,
    run_cases, sigterm_as_interrupt, tables, uniform_truth, use_rawscan,
)
from bench.udp import rate_limited_case
from tests.support.lab import TARGET_IP, LabSpec, lab_unavailable_reason
from tests.support.lab_layouts import SynLayout

HOSTS_256 = "198.19.0.0/24"
POLICER = 20_000  # replies/s to the scanner in case 6
LOSS_PERCENT = 5
MEMORY_CEILING_MIB = 100
# masscan 1.3.2 often never exits after its --wait here (masscan issue #144): its status line
# counts below zero and SIGINT does not stop it. Its stdout (line-buffered with stdbuf) is
# complete by then; wall time and peak RSS are taken at -2 s.
MASSCAN_HUNG = re.compile(r"waiting -2-secs")
MASSCAN_DEFAULT_RATE = 100  # masscan's own default, probes/s
# the /16 reference without host discovery and reverse DNS (~1 s less): the stricter one
MIN_RATE_NO_DISCOVERY = "nmap -sS -n -Pn --min-rate 10000"


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


# --- tools, as a user types them ---


def port_args(ports: str) -> list[str]:
    """nmap's and rawscan's syntax: every port is -p-."""
    return ["-p-"] if ports == "1-65535" else ["-p", ports]


def rawscan(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return [rawscan_exe(), "syn", job.targets, *port_args(job.ports), *extra,
                "-oJ", str(job.out)]

    name = "rawscan " + (" ".join(extra) if extra else "(default)")
    return Tool(name, argv, lambda job, _: read_rawscan_jsonl(job.out), rawscan=True)


def nmap(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return ["nmap", "-sS", *port_args(job.ports), *extra, "-oX", str(job.out), job.targets]

    name = "nmap -sS " + (" ".join(extra) if extra else "(default)")
    return Tool(name, argv, lambda job, _: read_nmap_xml(job.out))


def masscan(rate: int | None = None) -> Tool:
    """Only what it needs to run here: the interface and the next hop's MAC (the namespace has
    no default route to find them by)."""
    def argv(job: Job) -> list[str]:  # stdout line-buffered: see MASSCAN_HUNG
        ports = "0-65535" if job.ports == "1-65535" else job.ports
        rate_args = [] if rate is None else ["--rate", str(rate)]
        return ["stdbuf", "-oL", "masscan", f"-p{ports}", job.targets, *rate_args,
                "--interface", job.iface, "--router-mac", job.router_mac]

    def parse(_job: Job, stdout: str) -> Found:
        for port, ip in re.findall(r"Discovered open port (\d+)/tcp on (\S+)", stdout):
            yield (ip, int(port)), "open"

    name = (f"masscan (default: {MASSCAN_DEFAULT_RATE}/s)" if rate is None
            else f"masscan --rate {rate}")
    return Tool(name, argv, parse, open_only=True, hang=MASSCAN_HUNG,
                rate=MASSCAN_DEFAULT_RATE if rate is None else rate)


def zmap(rate: int | None = None, one_port: bool = True) -> Tool:
    """Only what it needs to run here: the interface, the next hop's MAC, and an empty
    blocklist (the packaged one lists 198.18.0.0/15)."""
    rate_args = [] if rate is None else ["-r", str(rate)]

    def argv(job: Job) -> list[str]:
        blocklist = job.out.with_name("zmap-blocklist")
        blocklist.write_text("")
        return ["zmap", "-p", job.ports, *rate_args, "-i", job.iface, "-G", job.router_mac,
                "-b", str(blocklist), "-o", str(job.out), job.targets]

    def parse(job: Job, _stdout: str) -> Found:
        port = int(job.ports)
        for line in job.out.read_text().splitlines():
            if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", line.strip()):
                yield (line.strip(), port), "open"

    name = "zmap " + ("(default, 8 s cooldown)" if rate is None else f"-r {rate} (8 s cooldown)")
    unsupported = "" if one_port else "not run: zmap 2.1 scans one port per run"
    return Tool(name, argv, parse, open_only=True, unsupported=unsupported, rate=rate)


def installed(tools: list[Tool]) -> list[Tool]:
    return [t for t in tools if t.name.startswith("rawscan") or shutil.which(t.name.split()[0])]


# --- start-up on loopback ---


def loopback_state(port: int) -> str:
    """What a connect() says about 127.0.0.1:port: the truth for case 7."""
    with socket.socket() as s:
        s.settimeout(2)
        return "open" if s.connect_ex(("127.0.0.1", port)) == 0 else "closed"


def reported_state(stdout: str, port: int) -> Found:
    """The port's state in nmap's or rawscan's human report (a lone closed port is listed by
    nmap, summarised by rawscan)."""
    listed = re.search(rf"^{port}/tcp\s+(\S+)", stdout, re.M)
    summed = re.search(r"^Not shown: 1 (\S+) tcp port", stdout, re.M)
    state = listed.group(1) if listed else summed.group(1) if summed else ""
    yield ("127.0.0.1", port), state


def startup_tools() -> list[Tool]:
    def fixed(name: str, *argv: str, **kw: object) -> Tool:
        def command(_job: Job) -> list[str]:  # the executable looked up at run time
            return [rawscan_exe() if argv[0] == "rawscan" else argv[0], *argv[1:]]

        return Tool(name, command, lambda _job, out: reported_state(out, 22),
                    **kw)  # type: ignore[arg-type]

    return [
        fixed("rawscan syn 127.0.0.1 -p 22", "rawscan", "syn", "127.0.0.1", "-p", "22",
              rawscan=True),
        fixed("nmap -sS -n -Pn -p22 127.0.0.1", "nmap", "-sS", "-n", "-Pn", "-p22", "127.0.0.1"),
        fixed("rawscan --help", "rawscan", "--help", scored=False),
        fixed("nmap --help", "nmap", "--help", scored=False),
    ]


# --- cases ---


def layout_truth(layout: SynLayout, net: str) -> Truth:
    return Truth(net, {p: s for p, (s, _why) in layout.expected().items()})


def cases() -> list[Case]:
    rawscans = [rawscan(), rawscan("-T4"), rawscan("-T5")]
    workers = rawscan("--workers", "2")  # issue 14: two processes, one shard each
    full_tools = [*rawscans, workers, nmap(), nmap("-T4"), nmap("-T5"), masscan(), masscan(10_000),
                  masscan(100_000), masscan(1_000_000), zmap(one_port=False)]
    sweep_tools = [*rawscans, workers, nmap(), nmap("--min-rate", "10000"),
                   nmap("-n", "-Pn", "--min-rate", "10000"), nmap("-T4"), zmap(),
                   zmap(100_000), masscan(), masscan(100_000)]
    hosts_tools = [*rawscans, nmap("-T4"), nmap("--min-rate", "10000"), masscan(100_000)]
    lossy_tools = [rawscan(), nmap(), nmap("-T4")]
    memory = rawscan("-T5")  # the highest ceiling: the largest buffers
    no_listeners = dataclasses.replace(PER_HOST.spec(), open_tcp=())  # on 0.0.0.0
    full_truth = layout_truth(FULL, f"{TARGET_IP}/32")
    sweep = uniform_truth(SWEEP_NET, range(80, 81), (80,))
    memory_case = [
        Case("5", "5: rawscan's peak memory over a /16 (80 open), rawscan -T5", LabSpec(),
             SWEEP_NET, "80" if n == 1 else f"80-{79 + n}",
             uniform_truth(SWEEP_NET, range(80, 80 + n), (80,)), "host:ports", [memory],
             any_address_tcp=(80,), label=f"/16 x {n} port{'s' if n > 1 else ''}")
        for n in (1, 10, 100)
    ]
    return [
        Case("1", "1: 65,535 ports, 1 host", FULL.spec(), TARGET_IP, "1-65535", full_truth,
             "ports", installed(full_tools), reference="nmap -sS -T4"),
        Case("2", "2: port 80, a /16 of AnyIP hosts (all open)", LabSpec(), SWEEP_NET, "80",
             sweep, "hosts", installed(sweep_tools), reference="nmap -sS --min-rate 10000",
             any_address_tcp=(80,)),
        Case("3", "3: 1,000 ports x 256 hosts", no_listeners, HOSTS_256, "1-1000",
             layout_truth(PER_HOST, HOSTS_256), "host:ports", installed(hosts_tools),
             reference="nmap -sS -T4", any_address_tcp=PER_HOST.open),
        Case("4", f"4: case 1 with {LOSS_PERCENT}% of replies dropped",
             FULL.spec(loss_percent=LOSS_PERCENT), TARGET_IP, "1-65535", full_truth, "ports",
             installed(lossy_tools), reference="nmap -sS -T4"),
        *memory_case,
        Case("6", f"6: case 1 through a {POLICER:,}/s reply policer",
             FULL.spec(reply_rate_limit=POLICER), TARGET_IP, "1-65535", full_truth, "ports",
             installed(lossy_tools), reference="nmap -sS -T4"),
        Case("7", "7: start-up, loopback", None, "127.0.0.1", "22",
             uniform_truth("127.0.0.1/32", range(22, 23), () if loopback_state(22) == "closed"
                           else (22,)),
             "port", installed(startup_tools()), reference="nmap -sS -n -Pn -p22 127.0.0.1",
             min_runs=10),
        rate_limited_case("8"),
    ]


# --- the "Done when", from this run ---


def done_when(rows: list[Measurement]) -> str:
    def row(case: str, tool: str) -> Measurement | None:
        return next((r for r in rows if r.case.key == case and r.tool.name == tool), None)

    checks: list[tuple[str, str, str]] = []

    def against(what: str, case: str, tool: str, refs: list[str], at_most: float | None) -> None:
        """tool's median over the fastest of refs (the strictest reading); at_most None: shown,
        not judged."""
        mine = row(case, tool)
        timed = [r for r in (row(case, ref) for ref in refs) if r is not None and r.median]
        if mine is None or not any(row(case, ref) for ref in refs):
            return
        if mine.median is None or not timed:
            checks.append((what, f"{mine.failure or '-'} / reference not timed", "?"))
            return
        theirs = min(timed, key=lambda r: r.median or 0.0)
        assert theirs.median is not None
        ratio = mine.median / theirs.median
        exact = mine.all_exact or not mine.tool.scored
        got = (f"{mine.median:.2f} s / {theirs.median:.2f} s ({theirs.tool.name}) = {ratio:.2f}"
               + ("" if exact else f", not exact ({' / '.join(sorted(set(mine.accuracy)))})"))
        met = "-" if at_most is None else "yes" if exact and ratio <= at_most else "no"
        checks.append((what, got, met))

    against("no flags, full-port scan: exact, <= 0.5 of nmap -T4", "1", "rawscan (default)",
            ["nmap -sS -T4"], 0.5)
    against("no flags, /16 sweep: all hosts, <= 0.5 of nmap --min-rate 10000", "2",
            "rawscan (default)", ["nmap -sS --min-rate 10000", MIN_RATE_NO_DISCOVERY], 0.5)
    against(f"{LOSS_PERCENT}% reply loss: exact, <= 1/4 of nmap -T4", "4", "rawscan (default)",
            ["nmap -sS -T4"], 0.25)
    against(f"{POLICER:,}/s policer: exact, no slower than nmap -T4", "6", "rawscan (default)",
            ["nmap -sS -T4"], 1.0)
    against("start-up, syn 127.0.0.1 -p 22: <= 2.5x nmap", "7", "rawscan syn 127.0.0.1 -p 22",
            ["nmap -sS -n -Pn -p22 127.0.0.1"], 2.5)
    against("--help (\"about 2x nmap's\" in What to build; not judged)", "7", "rawscan --help",
            ["nmap --help"], None)
    firsts = [(max(r.first_round), r) for r in rows if r.first_round and r.case.key in "123"]
    if firsts:
        best, r = max(firsts, key=lambda t: t[0])
        allowed = f", path allowed {max(r.path_allowed):,.0f}/s" if r.path_allowed else ""
        checks.append(("first round >= 200k probes/s where the path allows",
                       f"best {best:,.0f}/s ({r.case.key}: {r.tool.name}){allowed}",
                       "yes" if best >= 200_000 else "no"))
    hundred = next((r for r in rows if r.case.key == "5" and r.case.ports == "80-179"), None)
    if hundred is not None:
        peak = max(hundred.rss_kib) / 1024 if hundred.rss_kib else None
        checks.append((f"/16 x 100 ports: peak RSS < {MEMORY_CEILING_MIB} MiB",
                       f"{peak:.0f} MiB" if peak else hundred.failure or "-",
                       "yes" if peak and peak < MEMORY_CEILING_MIB else "no"))
    if (udp := row("8", "rawscan udp (default)")) is not None:
        checks.append(("UDP under the default ICMP limit keeps today's 47/47",
                       " / ".join(sorted(set(udp.accuracy))) or udp.failure,
                       "yes" if udp.all_exact else "no"))
    if not checks:
        return ""
    lines = ["**Done when (issue 12), from this run**", "", "| check | measured | met |",
             "| --- | --- | --- |"]
    lines += [f"| {what} | {got} | {met} |" for what, got, met in checks]
    lines.append("(`rawscan analyze` >= 300k packets/s: python -m rawscan.bench.analyze)")
    return "\n".join(lines)


def memory_ratios(rows: list[Measurement]) -> str:
    peaks = {r.case.label: max(r.rss_kib) for r in rows if r.case.key == "5" and r.rss_kib}
    one = peaks.pop("/16 x 1 port", None)
    return "; ".join(f"rawscan {label} uses {peak / one:.2f}x the memory of /16 x 1 port"
                     for label, peak in peaks.items()) if one else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median); default 3")
    parser.add_argument("--cases", default="1,2,3,4,5,6,7,8", help="comma separated, e.g. 1,4")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds before a tool run is killed and the tool skipped "
                             "(default 300)")
    parser.add_argument("--tools", default="", help="only tools whose name contains this text")
    parser.add_argument("--rawscan", default="",
                        help="rawscan executable to run (default: the installed console script)")
    args = parser.parse_args()
    if args.rawscan:
        use_rawscan(args.rawscan)
    wanted = set(args.cases.split(","))
    if bad := wanted - {c.key for c in cases()}:
        raise SystemExit(f"bench.syn: no such case: {', '.join(sorted(bad))}")
    if args.runs < 1 or args.timeout <= 0:
        raise SystemExit("bench.syn: --runs and --timeout must be positive")
    if reason := lab_unavailable_reason():
        raise SystemExit(f"bench.syn: cannot build the lab: {reason}")
    use_time = gnu_time()
    print("\n".join(machine_lines(use_time)), flush=True)
    print(f"command: {' '.join(sys.argv)}", flush=True)
    interrupted = False
    with sigterm_as_interrupt():
        try:
            rows = run_cases([c for c in cases() if c.key in wanted], args.runs, args.timeout,
                             args.tools, use_time)
        except Interrupted as stop:
            rows, interrupted = stop.rows, True
            print("\ninterrupted: the tables hold what was measured before it", flush=True)
    print(f"\n{args.runs} run(s) per tool (start-up: at least 10), medians\n")
    print("\n\n".join(tables(rows)))
    if ratio := memory_ratios(rows):
        print(f"\n{ratio}")
    if summary := done_when(rows):
        print(f"\n{summary}")
    missing = [t for t in ("nmap", "masscan", "zmap") if shutil.which(t) is None]
    if missing:
        print(f"(not installed, skipped: {', '.join(missing)})")
    if left := leftover_namespaces():
        print(f"warning: namespaces left behind: {', '.join(left)}")
    if interrupted:
        raise SystemExit(130)


if __name__ == "__main__":
    main()
