"""Host discovery benchmark (issue 15): rawscan ping over a /16 of AnyIP addresses (all up),
beside rawscan's SYN sweep of one port over it and nmap -sn.

Run as root: python -m bench.ping [--runs N] [--timeout S]
Each run gets a fresh lab (tests/support/lab.py): SWEEP_NET local in the target and routed there, a
listener on 0.0.0.0:80 and 443 (so the SYN sweep finds every address open). Prints, per
command, the median wall time (whole process; min-max of the runs) and how many hosts it found
up, then the issue's checks. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.common import SWEEP_NET, every_address_answers, runs_and_timeout, timed_command, without_resolver
from tests.support.lab import Lab, LabSpec
from tests.support.rawscan_cli import rawscan_command

HOSTS = 65536


def _count_jsonl(path: Path, field: str, value: str) -> int:
    return sum(1 for line in path.read_text().splitlines()
               if line.strip() and json.loads(line).get(field) == value)


def _count_xml_up(path: Path) -> int:
    root = ET.parse(path).getroot()
    return sum(1 for h in root.iter("host") if h.find("status").get("state") == "up")  # type: ignore[union-attr]


COMMANDS = {
    "rawscan ping 198.19.0.0/16 (no flags)":
        (lambda out: [rawscan_command(), "ping", SWEEP_NET, "-q", "-oJ", str(out)],
         lambda out: _count_jsonl(out, "status", "up")),
    "rawscan syn 198.19.0.0/16 -p 80 (no flags)":
        (lambda out: [rawscan_command(), "syn", SWEEP_NET, "-p", "80", "-q", "-oJ", str(out)],
         lambda out: _count_jsonl(out, "state", "open")),
    "nmap -sn -n --min-rate 10000":
        (lambda out: ["nmap", "-sn", "-n", "--min-rate", "10000", "-oX", str(out), SWEEP_NET],
         _count_xml_up),
}


def run_once(name: str, timeout: float) -> tuple[float, int]:
    make_argv, count = COMMANDS[name]
    with tempfile.TemporaryDirectory() as tmp, Lab(LabSpec(ipv6=False)) as lab, \
            every_address_answers(lab, (80, 443)):
        without_resolver(lab)
        out = Path(tmp) / "out"
        elapsed, r = timed_command(lab, name, make_argv(out), timeout, tmp)
        if r is None:
            return elapsed, 0
        if "rawscan" in name:
            rate = [ln for ln in r.stdout.splitlines() if ln.startswith("Rate:")]
            print(f"  {name}: {elapsed:.2f} s; {rate[0] if rate else ''}", flush=True)
        return elapsed, count(out)


def main() -> None:
    rounds, timeout = runs_and_timeout(120.0)
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):  # interleaved: machine load hits every command alike
        for name in COMMANDS:
            results[name].append(run_once(name, timeout))
    print("\n| command | median wall time (min-max) | hosts up |\n| --- | --- | --- |")
    medians = {}
    for name, runs in results.items():
        times = [t for t, _n in runs]
        medians[name] = statistics.median(times)
        found = sorted({n for _t, n in runs})
        print(f"| `{name}` | {medians[name]:.2f} s ({min(times):.2f}-{max(times):.2f}) | "
              f"{'/'.join(map(str, found))} of {HOSTS} |")
    ping, syn, nmap = (medians[n] for n in COMMANDS)
    print(f"\nping at least as fast as the SYN sweep: {'yes' if ping <= syn else 'no'} "
          f"({ping:.2f} s vs {syn:.2f} s); faster than nmap -sn --min-rate 10000: "
          f"{'yes' if ping < nmap else 'no'} ({ping:.2f} s vs {nmap:.2f} s)")


if __name__ == "__main__":
    main()
