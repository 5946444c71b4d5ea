"""Replay every committed recording: the engine must reproduce the results recorded beside it."""

from __future__ import annotations

import json
import shutil
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
from tests.support.rawscan_cli import one_error_line, rawscan, rawscan_command, read_jsonl
from tests.support.result_files import open_ports, results_in
from tests.support.syn_recording import SYN

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


# --- replay validates every field of its sidecar --------------------------------------------


SIDECAR = json.loads(Path(f"{SYN}.json").read_text())
CRAFTED = [  # each was a traceback, a hang or gigabytes
    {"rate": 0}, {"rate": -1}, {"timeout": 1e300}, {"ttl": 99999}, {"ttl": 0},
    {"source_port": 70000}, {"source_port": -1}, {"retries": 10**9}, {"seed": -5},
    {"seed": 2**70}, {"sources": []}, {"sources": [2**200]}, {"sources": ["x"]},
    {"targets": []}, {"targets": [[5, 1]]}, {"targets": [["a", "b"]]}, {"targets": [[1]]},
    {"ports": ""}, {"ports": "1-4294967295"}, {"scan": "maimon"}, {"scan": ["syn"]},
    {"names": {"x": "y"}}, {"names": []}, {"payload_hex": "zz"}, {"payload_hex": 5},
    {"argv": "rawscan"}, {"argv": [1, 2]}, {"started": float("inf")}, {"max_rate": 0},
    {"fixed_source_port": "yes"}, {"rate": True}, {"timeout": "1"},
    {"targets": [[0, 2**32 - 1]], "ports": "1-65535"},  # 2^48 probes claimed
    {"targets": [[16777216, 16777216 + 2**24 - 1]], "ports": "1-2"},  # 2^25
]


def _write_sidecar(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "crafted.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("change", CRAFTED, ids=[json.dumps(c)[:50] for c in CRAFTED])
def test_a_crafted_sidecar_is_one_error_line(tmp_path: Path, change: dict[str, object]) -> None:
    sidecar = _write_sidecar(tmp_path, json.dumps({**SIDECAR, **change}))
    proc = rawscan("replay", str(SYN), "--plan", str(sidecar), "-q", timeout=30)
    one_error_line(proc, "crafted.json")


@pytest.mark.parametrize("text", [b"[" * 100000 + b"]" * 100000, b'{"format": "\xff\xfe"}',
                                  b"[]", b"null", b'{"format": "rawscan-scan/1"}'])
def test_a_sidecar_that_is_not_one_is_one_error_line(tmp_path: Path, text: bytes) -> None:
    proc = rawscan("replay", str(SYN), "--plan", str(_write_sidecar(tmp_path, text)), "-q",
                   timeout=30)
    one_error_line(proc, "crafted.json")


def test_the_recorded_sidecars_still_replay() -> None:
    from rawscan.plan import ScanPlan, check_replayable

    for sidecar in PCAPS.glob("*.pcap.json"):
        check_replayable(ScanPlan.from_json(sidecar.read_text(), str(sidecar)), str(sidecar))


# --- another scan's sidecar beside a capture ------------------------------------------------


def _with_other_seed(tmp_path: Path) -> Path:
    copy = tmp_path / SYN.name
    shutil.copy(SYN, copy)
    Path(f"{copy}.json").write_text(json.dumps({**SIDECAR, "seed": SIDECAR["seed"] + 1}))
    return copy


def test_analyze_with_another_scans_sidecar_says_so_and_goes_without_it(tmp_path: Path) -> None:
    copy = _with_other_seed(tmp_path)
    right = rawscan("analyze", str(SYN), "-q", "-oJ", str(tmp_path / "right.jsonl"))
    wrong = rawscan("analyze", str(copy), "-q", "-oJ", str(tmp_path / "wrong.jsonl"))
    assert right.returncode == 0 and wrong.returncode == 0, wrong.stderr
    assert "is not this capture's scan description" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    found = results_in(tmp_path / "wrong.jsonl")
    assert open_ports(found) == open_ports(results_in(tmp_path / "right.jsonl"))
    assert len(open_ports(found)) >= 4  # were all lost: every port filtered


def test_replay_with_another_scans_sidecar_is_refused(tmp_path: Path) -> None:
    proc = rawscan("replay", str(_with_other_seed(tmp_path)), "-q", "-oJ", str(tmp_path / "x.jsonl"))
    one_error_line(proc, "is not this capture's scan description", "--plan")
