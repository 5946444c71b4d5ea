"""UDP benchmark: rawscan against nmap -sU on the same namespace lab, ICMP rate limit on and off.

Run as root: python tests/bench_udp.py [--runs N]. Prints median wall times and accuracy
(ports whose state matches the lab's ground truth). Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lab import Lab, LabSpec, lab_unavailable_reason  # noqa: E402
from lab_layouts import UDP_1024, UDP_RATE_LIMITED, UdpLayout  # noqa: E402
from rawscan_cli import rawscan_command, read_jsonl  # noqa: E402
from analyze_tools import nmap_xml_states  # noqa: E402

EXTRA_SOURCES = tuple(f"198.18.0.{i}" for i in range(3, 10))
Runner = Callable[[Lab, UdpLayout, Path], dict[int, str]]


def rawscan_runner(*extra: str) -> Runner:
    def run(lab: Lab, layout: UdpLayout, out: Path) -> dict[int, str]:
        jsonl = out / "rawscan.jsonl"
        proc = lab.exec_scanner([rawscan_command(), "udp", lab.target_ip, "-p", layout.port_list(),
                                 "-oJ", str(jsonl), *extra], timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"rawscan failed: {proc.stderr}")
        return {int(r["port"]): str(r["state"]) for r in read_jsonl(jsonl)}  # type: ignore[arg-type]

    return run


def nmap_runner(lab: Lab, layout: UdpLayout, out: Path) -> dict[int, str]:
    xml = out / "nmap.xml"
    proc = lab.exec_scanner(["nmap", "-n", "-Pn", "-sU", "-p", layout.port_list(), "-oX", str(xml),
                             lab.target_ip], timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"nmap failed: {proc.stderr}")
    return {port: state for (_proto, port), (state, _why) in nmap_xml_states(xml).items()}



def measure(name: str, runner: Runner, layout: UdpLayout, spec: LabSpec, runs: int) -> tuple[str, float, str]:
    truth = {p: s for p, (s, _reason) in layout.expected().items()}
    times, correct = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp, Lab(spec) as lab:
            began = time.monotonic()
            states = runner(lab, layout, Path(tmp))
            times.append(time.monotonic() - began)
            correct.append(sum(states.get(p) == s for p, s in truth.items()))
    accuracy = f"{min(correct)}/{len(truth)}" + ("" if min(correct) == max(correct) else f" to {max(correct)}")
    print(f"  {name}: median {statistics.median(times):.2f} s over {runs} runs, correct {accuracy}", flush=True)
    return name, statistics.median(times), accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if reason := lab_unavailable_reason():
        raise SystemExit(f"cannot build the lab: {reason}")
    have_nmap = shutil.which("nmap") is not None
    limited = UDP_RATE_LIMITED.spec(lift_icmp_ratelimit=False, scanner_extra_ips=EXTRA_SOURCES)
    cases = [
        (f"{len(UDP_RATE_LIMITED.ports)} ports, kernel's default ICMP rate limit", UDP_RATE_LIMITED, limited, [
            ("rawscan udp", rawscan_runner()),
            ("rawscan udp -S (8 source addresses)", rawscan_runner("-S", "198.18.0.1,198.18.0.3-9")),
            ("rawscan udp --defeat-icmp-ratelimit", rawscan_runner("--defeat-icmp-ratelimit")),
        ] + ([("nmap -sU", nmap_runner)] if have_nmap else [])),
        (f"{len(UDP_1024.ports)} ports, ICMP rate limit lifted", UDP_1024, UDP_1024.spec(), [
            ("rawscan udp --rate 20000", rawscan_runner("--rate", "20000")),
        ] + ([("nmap -sU", nmap_runner)] if have_nmap else [])),
    ]
    rows = []
    for title, layout, spec, runners in cases:
        print(title, flush=True)
        for name, runner in runners:
            rows.append((title, *measure(name, runner, layout, spec, args.runs)))
    print("\n| case | tool | median wall time | correct ports |\n| --- | --- | --- | --- |")
    for title, name, seconds, accuracy in rows:
        print(f"| {title} | {name} | {seconds:.2f} s | {accuracy} |")
    if not have_nmap:
        print("(nmap is not installed: apt-get install nmap to compare)")


if __name__ == "__main__":
    main()
