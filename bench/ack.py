"""ACK scan benchmark (issue 15): rawscan ack beside nmap -sA on the same lab.

Run as root: python -m bench.ack [--runs N] [--timeout S] [--tools TEXT]
One case, as bench/syn.py runs its cases (a fresh namespace lab per tool run, each tool at
its defaults plus the flag that writes a report: rawscan -oJ, nmap -oX): all 65,535 ports of one
host behind a stateful nftables firewall (tests/support/lab.py's stateful_tcp: unsolicited ACKs dropped
on 100 ports, some with listeners), 50 dropped, 50 admin-prohibited, 25 port-unreachable ports,
the rest unfiltered. Prints a markdown table: median wall time, the ratio to nmap -sA -T4, peak
RSS, accuracy against the lab's ground truth. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import (
    Case, Job, Tool, Truth, gnu_time, leftover_namespaces, machine_lines, rawscan_exe,
    read_nmap_xml, read_rawscan_jsonl, run_cases, tables, use_rawscan,
)
from bench.syn import installed
from tests.support.lab import TARGET_IP, lab_unavailable_reason
from tests.support.lab_layouts import FirewallLayout


def _spread(start: int, step: int) -> tuple[int, ...]:
    return tuple(range(start, 65536, step))


FULL = FirewallLayout(ports=range(1, 65536), open=(22, 80, 443) + _spread(1000, 1300),
                      stateful=(80, 443) + _spread(700, 670)[:98], drop=_spread(1433, 1300),
                      admin=_spread(1866, 1300), port=_spread(1217, 2600))


def rawscan(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return [rawscan_exe(), "ack", job.targets, "-p-", *extra, "-oJ", str(job.out)]

    return Tool("rawscan ack " + (" ".join(extra) or "(default)"), argv,
                lambda job, _: read_rawscan_jsonl(job.out), rawscan=True)


def nmap(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return ["nmap", "-sA", "-p-", *extra, "-oX", str(job.out), job.targets]

    return Tool("nmap -sA " + (" ".join(extra) or "(default)"), argv,
                lambda job, _: read_nmap_xml(job.out))


def cases() -> list[Case]:
    truth = Truth(f"{TARGET_IP}/32", {p: s for p, (s, _why) in FULL.expected("ack").items()})
    tools = [rawscan(), rawscan("-T4"), nmap(), nmap("-T4")]
    return [Case("1", "1: ACK scan, 65,535 ports, 1 host behind a stateful firewall", FULL.spec(),
                 TARGET_IP, "1-65535", truth, "ports", installed(tools),
                 reference="nmap -sA -T4")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median); default 3")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per tool run")
    parser.add_argument("--tools", default="", help="only tools whose name contains this text")
    parser.add_argument("--rawscan", default="", help="rawscan executable to run")
    args = parser.parse_args()
    if args.rawscan:
        use_rawscan(args.rawscan)
    if args.runs < 1 or args.timeout <= 0:
        raise SystemExit("bench.ack: --runs and --timeout must be positive")
    if reason := lab_unavailable_reason():
        raise SystemExit(f"bench.ack: cannot build the lab: {reason}")
    use_time = gnu_time()
    print("\n".join(machine_lines(use_time)), flush=True)
    print(f"command: {' '.join(sys.argv)}", flush=True)
    rows = run_cases(cases(), args.runs, args.timeout, args.tools, use_time)
    print(f"\n{args.runs} run(s) per tool, medians\n")
    print("\n\n".join(tables(rows)))
    if left := leftover_namespaces():
        print(f"warning: namespaces left behind: {', '.join(left)}")


if __name__ == "__main__":
    main()
