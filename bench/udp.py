"""UDP benchmark: rawscan against nmap -sU on the same namespace lab, ICMP rate limit on and off.

Run as root: python -m bench.udp [--runs N] [--cases 1,2] [--timeout S]. Each tool run gets
a fresh lab and runs inside its scanner namespace (bench/common.py). Prints median wall
times, peak RSS and accuracy (ports whose state matches the lab's ground truth). Case 1 (47
ports under the kernel's default ICMP limit) is also case 8 of bench/syn.py, so one run of
that checks UDP keeps its accuracy. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import shutil

from bench.common import (
    Case, Interrupted, Job, Tool, Truth, gnu_time, leftover_namespaces, machine_lines,
    rawscan_exe, read_nmap_xml, read_rawscan_jsonl, run_cases, sigterm_as_interrupt, tables,
    use_rawscan,
)
from tests.support.lab import TARGET_IP, lab_unavailable_reason
from tests.support.lab_layouts import UDP_1024, UDP_RATE_LIMITED, UdpLayout

EXTRA_SOURCES = tuple(f"198.18.0.{i}" for i in range(3, 10))


def rawscan_udp(*extra: str) -> Tool:
    def argv(job: Job) -> list[str]:
        return [rawscan_exe(), "udp", job.targets, "-p", job.ports, *extra,
                "-oJ", str(job.out)]

    name = "rawscan udp " + (" ".join(extra) if extra else "(default)")
    return Tool(name, argv, lambda job, _: read_rawscan_jsonl(job.out), rawscan=True)


def nmap_udp(job: Job) -> list[str]:
    return ["nmap", "-sU", "-p", job.ports, "-oX", str(job.out), job.targets]


NMAP_UDP = Tool("nmap -sU (default)", nmap_udp, lambda job, _: read_nmap_xml(job.out))


def compact_ports(ports: tuple[int, ...]) -> str:
    """nmap syntax with runs collapsed (7,53,81-84,100-139,1900): the same ports, a readable
    command line."""
    runs: list[list[int]] = []
    for p in sorted(set(ports)):
        if runs and runs[-1][1] == p - 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def udp_truth(layout: UdpLayout) -> Truth:
    return Truth(f"{TARGET_IP}/32", {p: s for p, (s, _why) in layout.expected().items()})


def rate_limited_case(key: str, with_sources: bool = False) -> Case:
    """47 ports, the target's kernel at its default ICMP rate limit."""
    tools = [rawscan_udp()]
    if with_sources:
        tools += [rawscan_udp("-S", "198.18.0.1,198.18.0.3-9"),
                  rawscan_udp("--defeat-icmp-ratelimit")]
    tools += [NMAP_UDP] if shutil.which("nmap") else []
    spec = UDP_RATE_LIMITED.spec(lift_icmp_ratelimit=False, scanner_extra_ips=EXTRA_SOURCES)
    return Case(key, f"{key}: UDP, {len(UDP_RATE_LIMITED.ports)} ports, kernel's default ICMP "
                "rate limit", spec, TARGET_IP, compact_ports(UDP_RATE_LIMITED.ports),
                udp_truth(UDP_RATE_LIMITED), "ports", tools, reference=NMAP_UDP.name)


def lifted_case(key: str) -> Case:
    tools = [rawscan_udp(), rawscan_udp("--rate", "20000")]
    tools += [NMAP_UDP] if shutil.which("nmap") else []
    return Case(key, f"{key}: UDP, {len(UDP_1024.ports)} ports, ICMP rate limit lifted",
                UDP_1024.spec(), TARGET_IP, compact_ports(UDP_1024.ports), udp_truth(UDP_1024), "ports",
                tools, reference=NMAP_UDP.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default="1,2", help="comma separated")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per tool run")
    parser.add_argument("--tools", default="", help="only tools whose name contains this text")
    parser.add_argument("--rawscan", default="",
                        help="rawscan executable to run (default: the installed console script)")
    args = parser.parse_args()
    if args.rawscan:
        use_rawscan(args.rawscan)
    if reason := lab_unavailable_reason():
        raise SystemExit(f"bench.udp: cannot build the lab: {reason}")
    use_time = gnu_time()
    print("\n".join(machine_lines(use_time)), flush=True)
    wanted = set(args.cases.split(","))
    chosen = [c for c in (rate_limited_case("1", with_sources=True), lifted_case("2"))
              if c.key in wanted]
    interrupted = False
    with sigterm_as_interrupt():
        try:
            rows = run_cases(chosen, args.runs, args.timeout, args.tools, use_time)
        except Interrupted as stop:
            rows, interrupted = stop.rows, True
            print("\ninterrupted: the tables hold what was measured before it", flush=True)
    print(f"\n{args.runs} run(s) per tool, medians\n")
    print("\n\n".join(tables(rows)))
    if shutil.which("nmap") is None:
        print("(nmap is not installed: apt-get install nmap to compare)")
    if left := leftover_namespaces():
        print(f"warning: namespaces left behind: {', '.join(left)}")
    if interrupted:
        raise SystemExit(130)


if __name__ == "__main__":
    main()
