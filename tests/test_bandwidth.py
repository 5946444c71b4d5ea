"""--bandwidth (bits per second on the wire, zmap's -B) and --max-targets (zmap's -n)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rawscan.addresses import parse_addr
from rawscan.bandwidth import batch_bits, frame_bits, parse_bandwidth
from rawscan.cookies import derive_key
from rawscan.engine import ScanOptions
from rawscan.errors import RawscanError
from rawscan.limits import parse_max_targets, sample_bitmap
from rawscan.pacing import Pacer
from rawscan.plan import ScanPlan
from rawscan.scan import probe_for, run_scan, sampled
from rawscan.targets import TargetSet

from tests.support.rawscan_cli import one_error_line, rawscan_command
from tests.support.simnet import SimulatedNetwork
from tests.support.engine import run_engine

SRC, DST = parse_addr("198.18.0.1"), parse_addr("198.18.0.2")



@pytest.mark.parametrize("text, bits", [("10M", 1e7), ("1.5G", 1.5e9), ("500k", 5e5),
                                        ("64000", 64e3), ("2.5 Mbps", 2.5e6), ("1e6", 1e6)])
def test_bandwidths_read_as_zmap_reads_them(text: str, bits: float) -> None:
    assert parse_bandwidth(text) == bits


@pytest.mark.parametrize("text", ["10X", "-1M", "0", "inf", "nan", "", "M", "2T", "1"])
def test_a_bandwidth_that_is_none_is_one_line(text: str) -> None:
    with pytest.raises(RawscanError, match="--bandwidth"):
        parse_bandwidth(text)


def test_a_probe_costs_its_ethernet_frame() -> None:
    assert frame_bits(40) == 672  # a SYN: the 64-byte minimum frame + preamble and gap
    assert frame_bits(60) == 784  # an IPv6 SYN: 60 + 14 + 4 + 20 bytes
    assert frame_bits(1500) == 1538 * 8
    assert batch_bits([b"x" * 40, b"x" * 60, b"x" * 300]) == 672 + 784 + 338 * 8
    np = pytest.importorskip("numpy")
    assert batch_bits(np.zeros((5, 40), dtype=np.uint8)) == 5 * 672


@pytest.mark.parametrize("sizes", [[40], [60, 300, 40, 1200]])
def test_the_pacer_holds_bits_on_the_wire_to_the_bandwidth(sizes: list[int]) -> None:
    """Batches as the engine sends them, each charged its frames: over 10 virtual seconds the
    wire carries the bandwidth (the probe rate, far higher, does not limit)."""
    bandwidth = 2e6
    pacer = Pacer(1e6, 0.0, bandwidth)
    now, bits = 0.0, 0
    batch = [b"\0" * size for size in sizes] * 8
    while now < 10.0:
        now = max(now, pacer.next_slot())
        cost = batch_bits(batch)
        pacer.take(now, len(batch), cost)
        bits += cost
    assert abs(bits / now - bandwidth) / bandwidth < 0.01
    slow = Pacer(100.0, 0.0, 1e9)  # a probe rate far below the bandwidth still rules
    now = 0.0
    for _ in range(200):
        now = max(now, slow.next_slot())
        slow.take(now, 1, 672)
    assert 1.98 <= now <= 2.0


def test_a_scan_at_a_bandwidth_takes_its_bits_time(hot_path: str) -> None:
    """600 SYNs of 672 bits at 403,200 bit/s: 1 s of sending, whatever the (adaptive) rate."""
    net = SimulatedNetwork({22: "open"}, rtt=0.001)
    results, engine = run_engine(net, range(1, 601), ScanOptions(rate=5000.0, max_rate=300_000.0,
                                                          bandwidth=403_200.0, timeout=0.0))
    assert len(results) == 600
    assert 0.97 <= engine.stats.elapsed <= 1.1, engine.stats.elapsed


def test_rate_and_bandwidth_together_are_refused_as_zmap_does() -> None:
    proc = subprocess.run([rawscan_command(), "syn", "127.0.0.1", "-p", "22", "--rate", "100",
                           "--bandwidth", "10M"], capture_output=True, text=True, timeout=60)
    one_error_line(proc, "--rate", "--bandwidth", "not both")
    proc = subprocess.run([rawscan_command(), "syn", "127.0.0.1", "-p", "22", "--bandwidth",
                           "fast"], capture_output=True, text=True, timeout=60)
    one_error_line(proc, "--bandwidth 'fast'")
    proc = subprocess.run([rawscan_command(), "syn", "127.0.0.1", "-p", "22", "--max-targets",
                           "ten"], capture_output=True, text=True, timeout=60)
    one_error_line(proc, "--max-targets 'ten'")


@pytest.mark.parametrize("text, endpoints, count", [("1000", 65536, 1000), ("0.1%", 65536, 65),
                                                    ("50%", 7, 3), ("100%", 9, 9),
                                                    ("99999", 10, 10), ("0.0001%", 10, 1)])
def test_max_targets_is_a_number_or_a_share(text: str, endpoints: int, count: int) -> None:
    assert parse_max_targets(text, endpoints) == count


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "0%", "101%", "x%", "1e3", ""])
def test_a_max_targets_that_is_none_is_one_line(text: str) -> None:
    with pytest.raises(RawscanError, match="--max-targets"):
        parse_max_targets(text, 100)


@pytest.mark.parametrize("endpoints, keep", [(1, 1), (10, 3), (10, 7), (9000, 100),
                                             (9000, 8999), (70001, 5000), (70001, 40000)])
def test_the_sample_is_exact_and_keyed(endpoints: int, keep: int) -> None:
    bits = sample_bitmap(endpoints, keep, b"key")
    left_out = {i for i in range(endpoints) if bits[i >> 3] >> (i & 7) & 1}
    assert len(left_out) == endpoints - keep
    assert all(not bits[i >> 3] >> (i & 7) & 1 for i in range(endpoints, len(bits) * 8))
    assert sample_bitmap(endpoints, keep, b"key") == bits
    if 1 < keep < endpoints - 1:
        assert sample_bitmap(endpoints, keep, b"other") != bits


def test_a_scan_with_max_targets_probes_and_reports_only_its_sample(hot_path: str) -> None:
    """1,000 of 64 hosts x 64 ports: exactly those are probed and reported, and the same
    plan (a replay, a resume) picks the same ones."""
    plan = ScanPlan(scan="syn", targets=TargetSet(((DST, DST + 63),)), ports=tuple(range(1, 65)),
                    seed=9, sources=(SRC,), source_port=40000, rate=1e5, timeout=0.01,
                    retries=1, max_targets=1000)
    reported: list[tuple[str, int]] = []

    class Collect:
        def write(self, result: object) -> None:
            reported.append((result.ip, result.port))  # type: ignore[attr-defined]

        def close(self, summary: object = None) -> None:
            pass

    net = SimulatedNetwork({22: "open"}, rtt=0.001)
    outcome = run_scan(plan, probe_for(plan), net, [Collect()])  # type: ignore[list-item]
    assert len(reported) == len(set(reported)) == 1000
    assert len(net.sent) == outcome.stats.sent and outcome.stats.probes == 1000
    probed = {(p[16:20], int.from_bytes(p[22:24], "big")) for p in net.packets}
    assert len(probed) == 1000
    again = sampled(plan)  # what a replay or a resume of this plan leaves out
    chosen = {i for i in range(4096) if not again[i >> 3] >> (i & 7) & 1}
    assert {plan.targets.index(parse_addr(ip)) * 64 + port - 1 for ip, port in reported} == chosen
    assert ScanPlan.from_json(plan.to_json(), "x").max_targets == 1000
    assert derive_key(plan.seed, "sample") != derive_key(plan.seed, "order")


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="a live loopback scan needs raw sockets (root)")
def test_resume_and_replay_keep_the_sample(tmp_path: Path) -> None:
    """A --max-targets scan stopped by SIGTERM, then resumed: the two runs are the sample, no
    endpoint twice; its recording replays to the same endpoints (loopback only)."""
    import json
    import signal
    import time

    exe = rawscan_command()
    scan = subprocess.Popen([exe, "syn", "127.0.0.1", "-p", "1-20000", "--max-targets", "5000",
                             "--rate", "2000", "-q", "-oJ", "a.jsonl", "--pcap", "a.pcap"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and scan.poll() is None:
            if (tmp_path / "a.jsonl").exists() and (tmp_path / "a.jsonl").stat().st_size > 20_000:
                break
            time.sleep(0.02)
        scan.send_signal(signal.SIGTERM)
        assert scan.wait(timeout=30) == 130, scan.stderr.read() if scan.stderr else ""
    finally:
        if scan.poll() is None:
            scan.kill()
            scan.wait()
    resumed = subprocess.run([exe, "resume", "rawscan.resume", "-oJ", "b.jsonl", "-q"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert "Max targets: 5,000 of 20,000 endpoints" in resumed.stdout

    def ports(name: str) -> list[int]:
        return [json.loads(line)["port"] for line in (tmp_path / name).read_text().splitlines()]

    first, second = ports("a.jsonl"), ports("b.jsonl")
    assert first and second and len(first) + len(second) == len(set(first + second)) == 5000
    replay = subprocess.run([exe, "replay", "a.pcap", "-oJ", "c.jsonl", "-q"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    assert set(ports("c.jsonl")) == set(first + second)


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="a live loopback scan needs raw sockets (root)")
def test_a_live_scan_stays_under_its_bandwidth(tmp_path: Path) -> None:
    """-T5 would start at 20,000 probes/s; --bandwidth 2M allows 2,976 SYN frames a second: the
    recorded probes never carry more than the bandwidth (a loaded machine only goes slower)."""
    import struct

    proc = subprocess.run([rawscan_command(), "syn", "127.0.0.1", "-p", "1-6000", "-T5",
                           "--bandwidth", "2M", "-q", "--pcap", "bw.pcap", "-oJ", "/dev/null"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "bw.pcap").read_bytes()
    scale = 1e-9 if data[:4] == b"\x4d\x3c\xb2\xa1" else 1e-6
    offset, times, bits = 24, [], 0
    while offset + 16 <= len(data):
        seconds, fraction, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        if packet[9] == 6 and packet[33] & 0x12 == 0x02:  # a SYN without ACK: our probe
            times.append(seconds + fraction * scale)
            bits += frame_bits(len(packet))
    assert len(times) == 6000
    # the bucket may start with its burst credit (10 ms); past that, bits / time <= bandwidth
    assert bits / (times[-1] - times[0] + 0.01) <= 2e6 * 1.02, bits / (times[-1] - times[0])


@pytest.mark.parametrize("shards", [2, 3])
def test_shards_of_a_sampled_plan_scan_its_sample_between_them(shards: int) -> None:
    """--max-targets with --shards N: each shard probes its own endpoints of the one keyed
    sample; together exactly the sample a single machine would have probed."""
    import dataclasses

    whole = ScanPlan(scan="syn", targets=TargetSet(((DST, DST + 15),)), ports=tuple(range(1, 33)),
                     seed=4, sources=(SRC,), source_port=40000, rate=1e5, timeout=0.01,
                     retries=0, max_targets=100)

    def scan(plan: ScanPlan) -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []

        class Collect:
            def write(self, result: object) -> None:
                seen.append((result.ip, result.port))  # type: ignore[attr-defined]

            def close(self, summary: object = None) -> None:
                pass

        outcome = run_scan(plan, probe_for(plan), SimulatedNetwork({}, rtt=0.001),
                           [Collect()])  # type: ignore[list-item]
        assert outcome.stats.probes == len(seen)
        return seen

    single = scan(whole)
    parts = [scan(dataclasses.replace(whole, shards=shards, shard=k)) for k in range(shards)]
    joined = [e for part in parts for e in part]
    assert len(single) == 100 and len(joined) == len(set(joined)) == 100
    assert set(joined) == set(single)
    from rawscan.shards import fingerprint

    assert fingerprint(dataclasses.replace(whole, shards=shards)) != fingerprint(
        dataclasses.replace(whole, shards=shards, max_targets=99))


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="a live loopback scan needs raw sockets (root)")
def test_sampled_shards_merge_whole(tmp_path: Path) -> None:
    """--max-targets 100 --shards 2: each shard's record says its part of the sample, so
    merge finds the set whole, and it equals --workers 2 and a single run (loopback only)."""
    import json

    exe = rawscan_command()
    common = ["syn", "127.0.0.1", "-p", "1-1000", "--max-targets", "100", "--seed", "5", "-q"]

    def ports(name: str) -> set[int]:
        return {json.loads(line)["port"] for line in (tmp_path / name).read_text().splitlines()
                if '"port"' in line}

    for k in (0, 1):
        run = subprocess.run([exe, *common, "--shards", "2", "--shard", str(k), "-oJ", f"s{k}.jsonl",
                              "--resume-file", f"r{k}"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
    merged = subprocess.run([exe, "merge", "s0.jsonl", "s1.jsonl", "-oJ", "m.jsonl"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert merged.returncode == 0, merged.stderr
    for extra, name in ((["--workers", "2"], "w.jsonl"), ([], "one.jsonl")):
        run = subprocess.run([exe, *common, *extra, "-oJ", name, "--resume-file", "r"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
    assert len(ports("m.jsonl")) == 100 and ports("m.jsonl") == ports("w.jsonl") == ports("one.jsonl")
    assert ports("s0.jsonl").isdisjoint(ports("s1.jsonl"))
