"""Benchmark (numbers, not a test): how long a million-line -iL takes before the first probe,
and the peak memory by then.

    sudo .venv/bin/python -m bench.target_files [--runs 3] [--lines 1000000]

Two measurements per run, medians printed:
- parse: `rawscan syn -iL FILE -p 1 --allow-large --rate 1e300` under GNU time, with FILE a
  million random IPv4 addresses. The absurd rate is refused right after the targets are read,
  before any socket exists: nothing is sent, so any addresses will do.
- first probe (root): a million scattered addresses of 2001:2::/48, scanned inside a network
  namespace of this script whose only link is a veth pair with both ends in it (neighbour
  discovery off on the sending end, so the other end drops every probe), with --pcap: the first probe's pcap timestamp minus the start of the process is the time to the
  first probe, and VmHWM then the peak memory. The process is killed by PID once it has sent.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.rawscan_cli import rawscan_command

GNU_TIME = "/usr/bin/time"


def write_v4(path: Path, lines: int) -> None:
    rng = random.Random(1)
    with path.open("w") as f:
        for _ in range(lines):
            n = rng.getrandbits(32)
            f.write(f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}\n")


def write_v6(path: Path, lines: int) -> None:
    with path.open("w") as f:  # every third address: a million separate ranges
        for i in range(lines):
            f.write(f"2001:2::{(3 * i) >> 16:x}:{(3 * i) & 0xFFFF:x}\n")


def parse_run(exe: str, path: Path) -> tuple[float, float]:
    out = subprocess.run([GNU_TIME, "-f", "%e %M", exe, "syn", "-iL", str(path), "-p", "1",
                          "--allow-large", "--rate", "1e300"],
                         capture_output=True, text=True, timeout=600)
    seconds, kb = out.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024


def first_probe_run(exe: str, path: Path, work: Path) -> tuple[float, float]:
    ns = f"rsiL{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        # a veth pair whose both ends are in this namespace; no neighbour discovery on the
        # sending end, so every probe leaves for a MAC address the other end drops
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", "rsbench0", "type", "veth", "peer", "name", "rsbench1"],
                    ["link", "set", "rsbench0", "arp", "off", "up"], ["link", "set", "rsbench1", "up"],
                    ["addr", "add", "2001:2::1/48", "dev", "rsbench0", "nodad"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        pcap = work / "first.pcap"
        for stale in (pcap, work / "first.pcap.json"):
            stale.unlink(missing_ok=True)
        started = time.time()
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, exe, "syn", "-iL", str(path), "-p", "1",
             "--allow-large", "-q", "--pcap", str(pcap), "--resume-file",
             str(work / "r.resume"), "-oJ", "/dev/null", "--force", "--rate", "2000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            peak, first = 0.0, None
            deadline = started + 120
            while first is None and time.time() < deadline and proc.poll() is None:
                peak = max(peak, _hwm(proc.pid))
                first = _first_timestamp(pcap)
                time.sleep(0.01)
            if first is None:
                err = proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else ""
                raise SystemExit(f"no probe recorded within 120 s {err}")
            return first - started, peak
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # our own child's group, by PID
            proc.wait()
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def _hwm(pid: int) -> float:
    """VmHWM (MiB) of the process or of its child (ip netns exec runs rawscan in its place)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _first_timestamp(pcap: Path) -> float | None:
    try:
        data = pcap.read_bytes()[:40]
    except OSError:
        return None
    if len(data) < 40:
        return None
    magic = struct.unpack("<I", data[:4])[0]
    fmt = "<II" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">II"
    seconds, fraction = struct.unpack(fmt, data[24:32])
    scale = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
    return seconds + fraction * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rawscan", default=rawscan_command())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        v4, v6 = work / "v4.txt", work / "v6.txt"
        write_v4(v4, args.lines)
        write_v6(v6, args.lines)
        parse = [parse_run(args.rawscan, v4) for _ in range(args.runs)]
        print(f"parse, {args.lines:,} IPv4 lines: {statistics.median(p[0] for p in parse):.2f} s, "
              f"{statistics.median(p[1] for p in parse):.0f} MiB peak (median of {args.runs}; "
              f"{', '.join(f'{s:.2f}' for s, _ in parse)} s)")
        if os.geteuid() != 0:
            print("first probe: skipped (needs root for its network namespace)")
            return
        first = [first_probe_run(args.rawscan, v6, work) for _ in range(args.runs)]
        print(f"first probe, {args.lines:,} IPv6 lines: "
              f"{statistics.median(f[0] for f in first):.2f} s, "
              f"{statistics.median(f[1] for f in first):.0f} MiB peak (median of {args.runs}; "
              f"{', '.join(f'{s:.2f}' for s, _ in first)} s)")


if __name__ == "__main__":
    main()
