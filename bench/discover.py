"""--discover benchmark (issue 15): a port scan of a mostly empty network, with host discovery,
beside nmap's default (which discovers hosts first) and rawscan without discovery (nmap -Pn).

Run as root: python -m bench.discover [--runs N] [--timeout S]
One lab (tests/support/lab_discovery.py: up and down hosts of every kind, IPv4) plus SPARSE, a
/22 routed to the target: its first /26 local there (AnyIP: up, 443 open, other ports closed),
the rest blackholed by the target (silent: down), 60 addresses of it rejected by the target
with ICMP host unreachable. Commands run interleaved at their defaults. Prints per command
the median wall time (min-max), the hosts it reported and whether its port states equal
nmap's for every host nmap found up. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import cast
from pathlib import Path

from bench.common import runs_and_timeout, timed_command, without_resolver
from tests.support.lab_discovery import EXPECTED, DiscoveryLab
from tests.support.rawscan_cli import rawscan_command

SPARSE, SPARSE_UP, SPARSE_REJECTED = "198.18.32.0/22", "198.18.32.0/26", "198.18.33.0/26"
PORTS = "22,80,443"
UP_HOSTS = 64 + sum(1 for status, _why in EXPECTED.values() if status == "up")
TARGETS = [SPARSE, *EXPECTED]

States = dict[tuple[str, int], str]


def build_sparse(lab: DiscoveryLab) -> None:
    s, t = lab.scanner_ns, lab.target_ns
    steps = [["ip", "-n", s, "route", "add", SPARSE, "via", lab.target_ip],
             ["ip", "-n", t, "route", "add", "local", SPARSE_UP, "dev", "lo"],
             ["ip", "-n", t, "route", "add", "blackhole", SPARSE],
             ["ip", "-n", t, "route", "add", "unreachable", SPARSE_REJECTED]]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode:
            raise SystemExit(f"{' '.join(argv)}: {done.stderr.strip()}")


def rawscan_states(out: Path) -> States:
    found: States = {}
    for line in out.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if "port" in rec:
                found[(str(rec["ip"]), int(rec["port"]))] = str(rec["state"])
    return found


def nmap_states(out: Path) -> States:
    found: States = {}
    for host in ET.parse(out).getroot().iter("host"):
        status = host.find("status")
        address = host.find("address")
        if status is None or address is None or status.get("state") != "up":
            continue
        for port in host.iter("port"):
            state = port.find("state")
            if state is not None:
                found[(str(address.get("addr")), int(str(port.get("portid"))))] = str(state.get("state"))
    return found


Command = tuple[Callable[[Path], list[str]], Callable[[Path], States]]
COMMANDS: dict[str, Command] = {
    f"rawscan syn --discover -p {PORTS} (defaults)":
        (lambda out: [rawscan_command(), "syn", "--discover", "-p", PORTS, "-q", "--force",
                      "--resume-file", str(out) + ".resume", "-oJ", str(out), *TARGETS],
         rawscan_states),
    f"nmap -sS -n -p {PORTS} (defaults: discovery first)":
        (lambda out: ["nmap", "-sS", "-n", "-p", PORTS, "-oX", str(out), *TARGETS], nmap_states),
    f"rawscan syn -p {PORTS} (defaults: every host, nmap -Pn)":
        (lambda out: [rawscan_command(), "syn", "-p", PORTS, "-q", "--force",
                      "--resume-file", str(out) + ".resume", "-oJ", str(out), *TARGETS],
         rawscan_states),
}


def run_once(lab: DiscoveryLab, name: str, timeout: float, tmp: str) -> tuple[float, States]:
    make_argv, read = COMMANDS[name]
    out = Path(tmp) / "out"
    out.unlink(missing_ok=True)
    elapsed, r = timed_command(lab, name, make_argv(out), timeout, tmp)
    if r is None:
        return elapsed, {}
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("Discovery (")), "")
    print(f"  {name}: {elapsed:.2f} s {line}", flush=True)
    return elapsed, read(out)


def main() -> None:
    rounds, timeout = runs_and_timeout(300.0)
    results: dict[str, list[tuple[float, States]]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as tmp, DiscoveryLab() as built:
        lab = cast(DiscoveryLab, built)
        without_resolver(lab)
        build_sparse(lab)
        for _ in range(rounds):  # interleaved: machine load hits every command alike
            for name in COMMANDS:
                results[name].append(run_once(lab, name, timeout, tmp))
    nmap_name = next(n for n in COMMANDS if n.startswith("nmap"))
    reference = [states for _t, states in results[nmap_name]]
    print(f"\n{len(TARGETS)} target specs, {1024 + len(EXPECTED)} addresses, {UP_HOSTS} up; "
          f"load {open('/proc/loadavg').read().split()[0]} at the end")
    print("| command | median wall time (min-max) | hosts with ports reported | port states as nmap's |")
    print("| --- | --- | --- | --- |")
    medians = {}
    for name, runs in results.items():
        times = [t for t, _s in runs]
        medians[name] = statistics.median(times)
        hosts = sorted({len({ip for ip, _p in states}) for _t, states in runs})
        same = sum(1 for (_t, states), ref in zip(runs, reference)
                   if ref and all(states.get(k) == v for k, v in ref.items()))
        print(f"| `{name}` | {medians[name]:.2f} s ({min(times):.2f}-{max(times):.2f}) | "
              f"{'/'.join(map(str, hosts))} | {same} of {len(runs)} runs |")
    ours, nmap = medians[next(iter(COMMANDS))], medians[nmap_name]
    print(f"\nrawscan --discover / nmap: {ours / nmap:.2f}x the time")


if __name__ == "__main__":
    main()
