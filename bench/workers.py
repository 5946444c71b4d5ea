"""--workers benchmark (issue 14): one process against --workers N on the same lab, interleaved.

Run as root: python -m bench.workers [--runs N] [--workers 2] [--cases full,sweep]
  full:  all 65,535 ports of one host (bench/syn.py's case 1 layout);
  sweep: port 80 over a /16 of AnyIP hosts (bench/syn.py's case 2).
--evenness: instead, each case as 4 shards (--shards 4 --shard K, one after another), with
each shard's first-round share of the endpoints from its --metadata-file.
Each case builds one lab and alternates the variants run by run (which goes first alternates
too), so load from other work on the machine falls on both alike. Every variant is at default
settings, as a user types it (no --rate; plus -oJ to score it). Prints per variant the median
wall time (whole process, min-max), its ratio to one process's median (issue 14's bar:
--workers 2 not above 1.00), accuracy against the lab's ground truth, the summed first-round
rate, and the load average (1 minute) before and after the case's runs. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SWEEP_NET, every_address_answers, machine_lines, rawscan_exe, without_resolver
from bench.syn import FULL
from tests.support.lab import TARGET_IP, Lab, LabSpec, lab_unavailable_reason

FIRST_ROUND = re.compile(r"first round sent at ([\d,]+) probes/s")


def run_once(lab: Lab, argv: list[str], out: Path,
             env: dict[str, str]) -> tuple[float, dict[tuple[str, int], str], str]:
    start = time.monotonic()
    proc = lab.exec_scanner(argv + ["-q", "-oJ", str(out), "--force"], timeout=300,
                            env={**os.environ, **env})
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench.workers: {' '.join(argv)} failed: {proc.stderr.strip()}")
    states = {}
    for line in out.read_text().splitlines():
        r = json.loads(line)
        if "port" in r:
            states[(str(r["ip"]), int(r["port"]))] = str(r["state"])
    rate = FIRST_ROUND.search(proc.stdout)
    return wall, states, rate.group(1) if rate else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", default="full,sweep")
    parser.add_argument("--evenness", action="store_true",
                        help="the 4-shard first-round shares instead of the timing")
    parser.add_argument("--one-thread", action="store_true",
                        help="also --workers with each worker sending from its engine's thread")
    args = parser.parse_args()
    if reason := lab_unavailable_reason():
        raise SystemExit(f"bench.workers: cannot build the lab: {reason}")
    print("\n".join(machine_lines(False)), flush=True)
    print(f"command: {' '.join(sys.argv)}", flush=True)
    exe = rawscan_exe()
    cases = {
        "full": (FULL.spec(), [exe, "syn", TARGET_IP, "-p-"],
                 {(TARGET_IP, p): s for p, (s, _why) in FULL.expected().items()}, ()),
        "sweep": (LabSpec(), [exe, "syn", SWEEP_NET, "-p", "80"], None, (80,)),
    }
    workers = ["--workers", str(args.workers)]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "one process (default)": ([], {}), f"--workers {args.workers}": (workers, {})}
    if args.one_thread:  # each worker sends from its engine's thread (no sending thread)
        variants[f"--workers {args.workers}, RAWSCAN_SEND_THREAD=0"] = (workers, {"RAWSCAN_SEND_THREAD": "0"})
    rows = []
    if args.evenness:
        evenness(cases, args.cases.split(","))
        return
    for name in args.cases.split(","):
        spec, argv, truth, any_address = cases[name]
        walls: dict[str, list[float]] = {v: [] for v in variants}
        right: dict[str, list[str]] = {v: [] for v in variants}
        rates: dict[str, list[str]] = {v: [] for v in variants}
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp, Lab(spec) as lab, \
                every_address_answers(lab, any_address):
            without_resolver(lab)
            for i in range(args.runs):
                order = list(variants) if i % 2 == 0 else list(reversed(variants))
                for variant in order:
                    extra, env = variants[variant]
                    wall, states, rate = run_once(lab, argv + extra, Path(tmp) / "out.jsonl", env)
                    want = truth if truth is not None else {
                        (f"198.19.{h >> 8}.{h & 255}", 80): "open" for h in range(65536)}
                    good = sum(states.get(k) == v for k, v in want.items())
                    walls[variant].append(wall)
                    right[variant].append(f"{good}/{len(want)}")
                    rates[variant].append(rate)
                    print(f"  {name} {variant}: run {i + 1}: {wall:.2f} s, {good}/{len(want)}, "
                          f"first round {rate}/s", flush=True)
        load = f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}"
        one = statistics.median(walls[next(iter(variants))])
        for variant in variants:
            w = walls[variant]
            rows.append(f"| {name} | {variant} | {statistics.median(w):.2f} s ({min(w):.2f}-{max(w):.2f}) "
                        f"| {statistics.median(w) / one:.2f} "
                        f"| {', '.join(sorted(set(right[variant])))} | {statistics.median_low(rates[variant])}/s "
                        f"| {load} |")
    print(f"\n{args.runs} runs per variant, interleaved, medians\n")
    print("| case | variant | median wall time | / one process | accuracy | first round (median) | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


def evenness(cases: dict[str, Any], names: list[str], shards: int = 4) -> None:
    print(f"\n| case | shard | endpoints | first round sent | share (1/{shards} = {1 / shards:.4f}) |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        spec, argv, _truth, any_address = cases[name]
        with tempfile.TemporaryDirectory() as tmp, Lab(spec) as lab, \
                every_address_answers(lab, any_address):
            for k in range(shards):
                meta = Path(tmp) / f"m{k}.json"
                proc = lab.exec_scanner(argv + ["-q", "-oJ", "/dev/null", "--shards", str(shards),
                                                "--shard", str(k), "--metadata-file", str(meta)],
                                        timeout=300)
                if proc.returncode != 0:
                    raise SystemExit(f"bench.workers: shard {k} failed: {proc.stderr.strip()}")
                m = json.loads(meta.read_text())
                print(f"| {name} | {k} | {m['endpoints']:,} | {m['first_round_sent']:,} "
                      f"| {m['first_round_share']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
