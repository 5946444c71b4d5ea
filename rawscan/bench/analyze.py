"""Benchmark: rawscan analyze on a generated capture of a /16 sweep (>= 1M packets), beside
tshark -T fields reading the same file when tshark is installed.

    python -m rawscan.bench.analyze [--packets 1000000] [--keep FILE] [--ipv6] [--runs 3]

The capture: one scanner (198.18.0.1) SYN-scans 8 ports of every address in 198.19.0.0/16
at 20,000 probes/s and retransmits each unanswered probe once, as nmap does; 5% of the hosts
are up (RST from closed ports, SYN-ACK from open ones, answered by the scanner's RST), 1% sit
behind a router answering ICMP admin-prohibited, and 256 clients make ordinary HTTPS
connections throughout. Prints packets/s and peak memory (max RSS of the process) for the
analysis pass in process and for the whole command (median wall time of --runs runs).
--ipv6 makes the same capture over IPv6 (2001:2::/48 addresses, ICMPv6 1/1 for the filtered).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..addresses import V6
from .pcapgen import ACK, PSH, RST, SYN, PcapWriter, icmp_error, tcp

SCANNER = 0xC6120001  # 198.18.0.1
SWEEP = 0xC6130000  # 198.19.0.0/16
ROUTER = 0xC612FE01  # 198.18.254.1: answers for filtered hosts
CLIENTS = 0xC6120100  # 198.18.1.0/24: ordinary clients
SERVER = 0xC6120201  # 198.18.2.1:443
PORTS = (21, 22, 25, 80, 443, 3389, 8080, 8443)
OPEN_PORTS = {22, 80, 443}
SPORT = 61000
PROBE_GAP = 1 / 20000  # seconds between probes
RTT = PROBE_GAP / 3
ORDINARY_EVERY = 200  # probes between two ordinary connections
# --ipv6: the same layout in 2001:2::/48 (2001:2::1 scans 2001:2:1::/112), ICMPv6 1/1
V6_BASE = V6 | 0x20010002 << 96
V6_ADDRESSES = {SCANNER: V6_BASE | 1, SWEEP: V6_BASE | 1 << 80, ROUTER: V6_BASE | 0xFE01,
                CLIENTS: V6_BASE | 2 << 80, SERVER: V6_BASE | 0x201}


def _host_kind(index: int) -> str:
    h = (index * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash: spread, deterministic
    if h % 100 < 5:
        return "up"
    if h % 100 < 6:
        return "filtered"
    return "silent"


def _cookie(target: int, port: int) -> int:
    return (target * 0x9E3779B1 + port * 0x85EBCA77) & 0xFFFFFFFF


def _addr(addr: int, v6: bool) -> int:
    return V6_ADDRESSES[addr] if v6 else addr


def _probe_and_reply(target_index: int, port: int, t: float, v6: bool = False) -> Iterator[tuple[float, bytes]]:
    scanner = _addr(SCANNER, v6)
    target = _addr(SWEEP, v6) + target_index
    seq = _cookie(target, port)
    probe = tcp(scanner, target, SPORT, port, SYN, seq)
    yield t, probe
    kind = _host_kind(target_index)
    if kind == "up":
        if port in OPEN_PORTS:
            yield t + RTT, tcp(target, scanner, port, SPORT, SYN | ACK, seq * 7, seq + 1, ttl=57)
            yield t + 2 * RTT, tcp(scanner, target, SPORT, port, RST, seq + 1)
        else:
            yield t + RTT, tcp(target, scanner, port, SPORT, RST | ACK, 0, seq + 1, ttl=57)
    elif kind == "filtered":
        yield t + RTT, icmp_error(_addr(ROUTER, v6), probe, *((1, 1) if v6 else (3, 13)), ttl=250)


def _answered(target_index: int) -> bool:
    return _host_kind(target_index) != "silent"


def _ordinary(n: int, t: float, v6: bool = False) -> Iterator[tuple[float, bytes]]:
    client, sport = _addr(CLIENTS, v6) + n % 256, 32768 + n % 28000
    server = _addr(SERVER, v6)
    seq, sseq = n * 7919, n * 104729
    request, response = b"x" * 300, b"y" * 1200
    yield t, tcp(client, server, sport, 443, SYN, seq)
    yield t + RTT, tcp(server, client, 443, sport, SYN | ACK, sseq, seq + 1)
    yield t + 2 * RTT, tcp(client, server, sport, 443, ACK, seq + 1, sseq + 1)
    yield t + 2 * RTT, tcp(client, server, sport, 443, PSH | ACK, seq + 1, sseq + 1, request)
    yield t + 3 * RTT, tcp(server, client, 443, sport, PSH | ACK, sseq + 1, seq + 301, response)
    yield t + 3 * RTT, tcp(client, server, sport, 443, RST | ACK, seq + 301, sseq + 1201)


def generate(path: Path, packets: int, v6: bool = False) -> int:
    """Write the sweep capture, stopping once `packets` are written; returns the count."""
    # Enough hosts for `packets`: ~2 packets per (host, port) with one retransmission round.
    hosts = min(1 << 16, max(16, packets // (len(PORTS) * 2) + 1))
    endpoints = hosts * len(PORTS)
    stride = 40503  # i * stride mod n visits every index once when gcd(stride, n) == 1
    while math.gcd(stride, endpoints) != 1:
        stride += 2
    written = 0
    with open(path, "wb") as out:
        w = PcapWriter(out)
        t = 1_800_000_000.0
        for retry in (False, True):
            for i in range(endpoints):
                j = (i * stride) % endpoints
                host, port = divmod(j, len(PORTS))
                if retry and _answered(host):
                    continue
                for when, packet in _probe_and_reply(host, PORTS[port], t, v6):
                    w.write(when, packet)
                    written += 1
                if i % ORDINARY_EVERY == 0:
                    for when, packet in _ordinary(i // ORDINARY_EVERY, t + RTT, v6):
                        w.write(when, packet)
                        written += 1
                t += PROBE_GAP
                if written >= packets:
                    return written
    return written


def _measure(argv: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in bytes, exit status of argv (output discarded)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss * 1024, proc.returncode


def _in_process(path: Path) -> tuple[float, int]:
    """Seconds and packets for the analysis pass alone (read + match, no report), as the
    command reads: in batches."""
    from ..analyze.flows import FlowAnalyzer
    from ..capture import BATCH_BYTES, open_capture

    analyzer = FlowAnalyzer()
    start = time.perf_counter()
    analyzer.feed_capture(open_capture(str(path), BATCH_BYTES))
    return time.perf_counter() - start, analyzer.observations.stats.packets


def _median_run(argv: list[str], runs: int) -> tuple[float, int, int]:
    """The median wall time of `runs` runs, the largest peak RSS, the last exit status."""
    measured = [_measure(argv) for _ in range(runs)]
    return (statistics.median(m[0] for m in measured), max(m[1] for m in measured), measured[-1][2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the capture here and keep it")
    parser.add_argument("--no-tshark", action="store_true", help="skip the tshark comparison")
    parser.add_argument("--ipv6", action="store_true", help="the same sweep over IPv6")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (median shown)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "sweep.pcap"
        start = time.perf_counter()
        count = generate(path, args.packets, args.ipv6)
        size = path.stat().st_size
        print(f"capture: {count:,} packets, {size / 1e6:.0f} MB, generated in "
              f"{time.perf_counter() - start:.1f} s ({path})")

        seconds, packets = _in_process(path)
        print(f"analysis pass (read + match, in process): {seconds:.2f} s, "
              f"{packets / seconds:,.0f} packets/s")

        # The whole command, process start to exit, its report to /dev/null (what a user
        # waits for): every host's table; the same with -oJ; the summaries only with -oJ.
        out = Path(tmp) / "out.jsonl"
        rawscan = [sys.executable, "-m", "rawscan", "analyze", str(path), "-q"]
        runs: tuple[tuple[str, list[str]], ...] = (("every host's table", []), ("every host's table + -oJ", ["-oJ", str(out)]),
                ("--scanners-only + -oJ", ["--scanners-only", "-oJ", str(out)]))
        for label, extra in runs:
            seconds, rss, code = _median_run(rawscan + extra, args.runs)
            records = f" ({sum(1 for _ in out.open()):,} records)" if extra and out.exists() else ""
            print(f"rawscan analyze, {label}{records}: {seconds:.2f} s (median of {args.runs}), "
                  f"{count / seconds:,.0f} packets/s, peak RSS {rss / 2**20:.0f} MiB, exit {code}")

        tshark = shutil.which("tshark")
        if tshark and not args.no_tshark:
            fields = ["ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw",
                      "tcp.ack_raw", "icmp.type"]
            argv = [tshark, "-r", str(path), "-T", "fields", *(a for f in fields for a in ("-e", f))]
            seconds, rss, code = _measure(argv)
            print(f"tshark -r FILE -T fields ({len(fields)} fields): {seconds:.2f} s, "
                  f"{count / seconds:,.0f} packets/s, peak RSS {rss / 2**20:.0f} MiB, exit {code}")
        elif not args.no_tshark:
            print("tshark: not installed (apt-get install -y tshark) - no comparison")


if __name__ == "__main__":
    main()
