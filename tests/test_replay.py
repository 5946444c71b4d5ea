"""Replay every committed recording: the engine must reproduce the results recorded beside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rawscan.capture import read_ip_packets
from rawscan.engine import ScanOptions
from rawscan.plan import ScanPlan, sidecar_path
from rawscan.scan import probe_for
from rawscan.transports.replay import ReplayTransport

from tests.support.engine import run_engine
from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan_command, read_jsonl

RECORDINGS = sorted(p for p in PCAPS.glob("*.pcap") if Path(sidecar_path(str(p))).exists())


def expected_for(capture: Path) -> Path:
    return capture.with_suffix(".expected.jsonl")


def test_there_are_recordings() -> None:
    assert len(RECORDINGS) >= 2, "pcaps/ should hold the lab recordings"


@pytest.mark.parametrize("capture", RECORDINGS, ids=lambda p: p.name)
def test_replay_reproduces_recorded_results(capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "replay.jsonl"
    proc = subprocess.run([rawscan_command(), "replay", str(capture), "-oJ", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = read_jsonl(out)
    want = read_jsonl(expected_for(capture))
    key = lambda r: (r["ip"], r.get("proto"), r.get("port"))  # noqa: E731  (ping: per host)
    states = lambda records: {key(r): (r.get("state", r.get("status")), r["reason"]) for r in records}  # noqa: E731
    assert len(got) == len(states(got))  # each endpoint once
    assert states(got) == states(want)
    # every field recorded (ttl, service, ...); fields added to the format later are extra
    got_by_key = {key(r): r for r in got}
    for record in want:  # (ping's rtt_ms: the replay's virtual clock, not the live run's)
        record.pop("rtt_ms", None)
        assert {k: got_by_key[key(record)].get(k) for k in record} == record


@pytest.mark.parametrize("capture", RECORDINGS, ids=lambda p: p.name)
def test_replay_regenerates_byte_identical_probes(capture: Path) -> None:
    plan = ScanPlan.from_json(Path(sidecar_path(str(capture))).read_text(), "sidecar")
    probe = probe_for(plan)
    recording = [(p.time, p.ip) for p in read_ip_packets(str(capture))]
    recorded_probes = {ip for _t, ip in recording if (f := probe.flow(ip)) and f.is_probe}
    transport = ReplayTransport(recording, probe.flow)
    sent: list[bytes] = []
    original_send = transport.send

    def spy(packet: bytes) -> None:
        sent.append(packet)
        original_send(packet)

    transport.send = spy  # type: ignore[method-assign]
    from rawscan.discovery.run import never_sent

    done = never_sent(plan, probe, None) if plan.scan == "ping" else None
    from rawscan.shards import shard_map_for

    run_engine(transport, plan.ports, ScanOptions(plan.rate, plan.retries, plan.timeout), seed=plan.seed,
               probe=probe, targets=plan.targets, done=done, shard=shard_map_for(plan))
    if plan.scan == "ping":  # which of an up host's probes left before its answer: timing
        built = {probe.build(plan.targets.address(h), k, a) for h in range(len(plan.targets))
                 for k in plan.ports for a in range(plan.retries + 1)}
        assert recorded_probes and recorded_probes <= built and set(sent) <= built
        return
    # Same probes, byte for byte. How many retransmissions is a timing decision: replay runs
    # in virtual time without the live run's processing delays, so it may differ by a few.
    assert sent and set(sent) == recorded_probes
