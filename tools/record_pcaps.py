"""Re-record the lab scans in pcaps/ (as root: python -m tools.record_pcaps [NAME...]).

Each recording is a live scan of the namespace lab with --pcap; it is kept only when the live
result equals the lab's ground truth, and that result is written beside it as the expectation.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tests.support.lab import Lab, LabSpec, lab_unavailable_reason
from tests.support.lab_layouts import (
    SYN_SMALL, UDP_1024, UDP_RATE_LIMITED, FirewallLayout, SynLayout, UdpLayout)
from tests.support.rawscan_cli import rawscan_command, read_jsonl

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
SMALL_UDP = UdpLayout(  # UDP_1024's kinds on fewer ports, to keep the file small
    ports=tuple(range(1, 201)) + (1900, 5000), dns=True, open=(7, 1900, 5000), drop=(81, 161),
    admin=(82, 123), host=(83, 137),
)
# every reply kind of each family, ICMP port-unreachable from the firewall included
DUAL_SYN = SynLayout(ports=range(1, 101), open=(22, 80), drop=(23, 50), admin=(25, 60),
                     host=(53, 70), port=(81, 90))
DUAL_UDP = UdpLayout(ports=tuple(range(1, 61)) + (1900,), dns=True, open=(7, 1900), drop=(21, 22),
                     admin=(23, 24), host=(25, 26), port=(27, 28))
# ACK/FIN/NULL/Xmas: a stateful firewall on open and closed ports, drops and rejects
DUAL_FIREWALL = FirewallLayout(ports=range(1, 101), open=(22, 80), stateful=(80, 40, 41, 42),
                               drop=(23,), admin=(25,), port=(70,))
Layout = SynLayout | UdpLayout | FirewallLayout
# name -> command, layout, lab spec, seed, families scanned (4, 6: both in one scan)
RECORDINGS: dict[str, tuple[str, Layout, LabSpec, int, tuple[int, ...]]] = {
    "syn-every-reply-kind": ("syn", SYN_SMALL, SYN_SMALL.spec(), 1001, (4,)),
    "syn-loss10": ("syn", SYN_SMALL, SYN_SMALL.spec(loss_percent=10), 1002, (4,)),
    "udp-every-reply-kind": ("udp", SMALL_UDP, SMALL_UDP.spec(), 1003, (4,)),
    "udp-icmp-rate-limited": ("udp", UDP_RATE_LIMITED, UDP_RATE_LIMITED.spec(lift_icmp_ratelimit=False), 1004, (4,)),
    "dual-syn-every-reply-kind": ("syn", DUAL_SYN, DUAL_SYN.spec(), 1005, (4, 6)),
    "dual-udp-every-reply-kind": ("udp", DUAL_UDP, DUAL_UDP.spec(), 1006, (4, 6)),
    **{f"dual-{scan}-stateful-firewall": (scan, DUAL_FIREWALL, DUAL_FIREWALL.spec(), seed, (4, 6))
       for scan, seed in (("ack", 1007), ("fin", 1008), ("null", 1009), ("xmas", 1010))},
    "syn-shard-1-of-3": ("syn", SYN_SMALL, SYN_SMALL.spec(), 1011, (4,)),
}
SHARDED = {"syn-shard-1-of-3": (3, 1)}  # name -> --shards N --shard K: one shard recorded


def port_list(layout: Layout) -> str:
    if isinstance(layout, (SynLayout, FirewallLayout)):
        return f"{layout.ports.start}-{layout.ports.stop - 1}"
    return layout.port_list()


def expected(lab: Lab, command: str, layout: Layout,
             families: tuple[int, ...]) -> dict[tuple[str, int], tuple[str, str]]:
    """(address, port) -> (state, reason) for each family's target address."""
    address = {4: lab.target_ip, 6: lab.target_ip6}
    return {(address[f], port): v for f in families
            for port, v in (layout.expected(command, f) if isinstance(layout, FirewallLayout)
                            else layout.expected(f)).items()}


def endpoint_states(records: list[dict[str, object]]) -> dict[tuple[str, int], tuple[str, str]]:
    return {(str(r["ip"]), int(r["port"])): (str(r["state"]), str(r["reason"]))  # type: ignore[arg-type]
            for r in records}


def record(name: str, command: str, layout: Layout, spec: LabSpec, seed: int,
           families: tuple[int, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Lab(spec) as lab:
        capture, out = Path(tmp) / f"{name}.pcap", Path(tmp) / "out.jsonl"
        targets = [{4: lab.target_ip, 6: lab.target_ip6}[f] for f in families]
        shards = SHARDED.get(name)
        sharding = ["--shards", str(shards[0]), "--shard", str(shards[1])] if shards else []
        proc = lab.exec_scanner([rawscan_command(), command, *targets, "-p", port_list(layout),
                                 "--seed", str(seed), "--pcap", str(capture), "-oJ", str(out),
                                 *sharding])
        print(proc.stdout)
        want = expected(lab, command, layout, families)
        got = endpoint_states(read_jsonl(out))
        if shards:  # a shard: its part of the ground truth, and a third of it
            want = {k: v for k, v in want.items() if k in got}
            if abs(len(got) * shards[0] - len(expected(lab, command, layout, families))) > shards[0]:
                raise SystemExit(f"{name}: {len(got)} results is not this shard's share")
        if proc.returncode != 0 or got != want:
            raise SystemExit(f"{name}: live result differs from the lab's ground truth: {proc.stderr}")
        shutil.copy(capture, PCAPS / f"{name}.pcap")
        shutil.copy(f"{capture}.json", PCAPS / f"{name}.pcap.json")
        shutil.copy(out, PCAPS / f"{name}.expected.jsonl")


PING_RECORDING, PING_SEED = "ping-every-host-kind", 1007


def record_ping() -> None:
    """rawscan ping of every host of tests/support/lab_discovery.py, both families."""
    from tests.support.lab_discovery import EXPECTED, EXPECTED6, DiscoveryLab

    with tempfile.TemporaryDirectory() as tmp, DiscoveryLab() as lab:
        capture, out = Path(tmp) / f"{PING_RECORDING}.pcap", Path(tmp) / "out.jsonl"
        proc = lab.exec_scanner([rawscan_command(), "ping", *EXPECTED, *EXPECTED6, "--seed",
                                 str(PING_SEED), "--pcap", str(capture), "-oJ", str(out)])
        print(proc.stdout)
        got = {str(r["ip"]): str(r["status"]) for r in read_jsonl(out)}
        if proc.returncode != 0 or got != {ip: s for ip, (s, _r) in {**EXPECTED, **EXPECTED6}.items()}:
            raise SystemExit(f"{PING_RECORDING}: live result differs from the lab's: {proc.stderr}")
        shutil.copy(capture, PCAPS / f"{PING_RECORDING}.pcap")
        shutil.copy(f"{capture}.json", PCAPS / f"{PING_RECORDING}.pcap.json")
        shutil.copy(out, PCAPS / f"{PING_RECORDING}.expected.jsonl")


def main() -> None:
    reason = lab_unavailable_reason()
    if reason:
        raise SystemExit(f"cannot build the lab: {reason}")
    PCAPS.mkdir(exist_ok=True)
    only = set(sys.argv[1:])
    for name, (command, layout, spec, seed, families) in RECORDINGS.items():
        if not only or name in only:
            record(name, command, layout, spec, seed, families)
    if not only or PING_RECORDING in only:
        record_ping()


if __name__ == "__main__":
    main()
