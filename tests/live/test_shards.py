"""Shards in the live lab: 4 shards at once from 4 scanner namespaces (each its own address, as
4 pods on 4 nodes), K from JOB_COMPLETION_INDEX; merged, they are a single-machine scan port
for port (ndiff finds no state difference, the XML validates); a shard killed and resumed still
merges whole; shards of another plan are refused; a recorded shard replays to its own result;
--workers 2 is exact, and resumes after SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import SYN_2000
from tests.support.rawscan_cli import one_error_line, port_states, rawscan_command, read_jsonl
from tests.support.xml_checks import assert_valid_against_dtd, ndiff_state_differences

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

SHARDS = 4
PORTS = "1-2000"
ENV = {**os.environ, "SUDO_UID": ""}  # stays root: writes into tmp_path


def _shard_argv(lab: Lab, base: Path, *extra: str) -> list[str]:
    return [rawscan_command(), "syn", lab.target_ip, "-p", PORTS, "--shards", str(SHARDS), "-q",
            "-oA", str(base), "--metadata-file", f"{base}.meta.json", *extra]


def _rawscan(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), *argv], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=ENV)


def test_four_shards_from_four_machines_merge_into_the_single_machine_scan(tmp_path: Path) -> None:
    expected = SYN_2000.expected()
    with Lab(SYN_2000.spec()) as lab:
        machines = [lab.add_scanner(k) for k in range(SHARDS)]
        procs = []
        for k, (ns, _address) in enumerate(machines):  # all four at once
            extra = ("--pcap", str(tmp_path / "s1.pcap")) if k == 1 else ()
            if k == 2:  # the one to kill: slow enough to be cut short
                extra = ("--rate", "1000", "--resume-file", str(tmp_path / "s2.resume"))
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, *_shard_argv(lab, tmp_path / f"s{k}", *extra)],
                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**ENV, "JOB_COMPLETION_INDEX": str(k)}))
        first = tmp_path / "s2.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(first.read_text().splitlines()
                                                  if first.exists() else []) < 50:
            time.sleep(0.01)
        procs[2].send_signal(signal.SIGTERM)  # a pod evicted mid-scan
        outs = [p.communicate(timeout=120) for p in procs]
        for k, (p, (out, err)) in enumerate(zip(procs, outs)):
            assert p.returncode == (130 if k == 2 else 0), err
            assert f"Shard {k} of {SHARDS} (from JOB_COMPLETION_INDEX)" in out
        # the pod comes back with the same index and resumes its shard
        resumed = subprocess.run(["ip", "netns", "exec", machines[2][0], rawscan_command(),
                                  "resume", str(tmp_path / "s2.resume"), "-q", "-oJ",
                                  str(tmp_path / "s2b.jsonl")],
                                 capture_output=True, text=True, timeout=120, cwd=tmp_path, env=ENV)
        assert resumed.returncode == 0, resumed.stderr
        single = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", PORTS, "-q",
                                   "-oA", str(tmp_path / "single")], env=ENV, cwd=tmp_path)
        assert single.returncode == 0, single.stderr
        other = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", "1-1999", "-q",
                                  "--shards", str(SHARDS), "--shard", "0", "-oJ",
                                  str(tmp_path / "other.jsonl")], env=ENV, cwd=tmp_path)
        assert other.returncode == 0, other.stderr

    metadata = [json.loads((tmp_path / f"s{k}.meta.json").read_text()) for k in range(SHARDS)]
    assert len({m["fingerprint"] for m in metadata}) == 1 and len({m["seed"] for m in metadata}) == 1
    for k, m in enumerate(metadata):
        assert m["shard"] == k and m["exit"] == ("interrupted" if k == 2 else "done")
        if k != 2:  # even: each shard's first round sent a quarter of the endpoints
            assert 0.95 / SHARDS <= m["first_round_share"] <= 1.05 / SHARDS, m
    shard_states = [port_states(read_jsonl(tmp_path / f"s{k}.jsonl")) for k in range(SHARDS)]
    shard_states.append(port_states(read_jsonl(tmp_path / "s2b.jsonl")))
    seen = [p for states in shard_states for p in states]
    assert len(seen) == len(set(seen)) == 2000  # disjoint, and whole with the resumed run

    # any format of each shard: JSON Lines, XML, grepable, the recorded pcap, and CSV
    inputs = ["s0.jsonl", "s1.pcap", "s2.xml", "s2b.jsonl", "s3.gnmap", "s3.csv"]
    merged = _rawscan("merge", *inputs, "-oA", "merged", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert port_states(read_jsonl(tmp_path / "merged.jsonl")) == expected
    assert port_states(read_jsonl(tmp_path / "merged.jsonl")) == \
        port_states(read_jsonl(tmp_path / "single.jsonl"))
    assert_valid_against_dtd(tmp_path / "merged.xml")
    assert ndiff_state_differences(tmp_path / "single.xml", tmp_path / "merged.xml") == []
    assert _rawscan("diff", "single.xml", "merged.xml", cwd=tmp_path).returncode == 0
    assert _rawscan("diff", "merged.gnmap", "single.jsonl", cwd=tmp_path).returncode == 0
    assert merged.stdout.count("rawscan scan report for") == 1  # one host entry

    short = _rawscan("merge", "s0.jsonl", "s1.jsonl", "s2.jsonl", "s3.jsonl", cwd=tmp_path)
    assert short.returncode == 1
    assert "shard 2 is short" in one_error_line(short, "incomplete")
    missing = _rawscan("merge", "s0.jsonl", "s1.xml", "s3.meta.json", cwd=tmp_path)
    assert missing.returncode == 1 and "shard(s) 2, 3 of 4 missing" in missing.stderr
    partial = _rawscan("merge", "s0.jsonl", "s1.xml", "--partial", "-oJ", "part.jsonl", cwd=tmp_path)
    assert partial.returncode == 0 and "warning" in partial.stderr
    assert len(read_jsonl(tmp_path / "part.jsonl")) == 1000
    mixed = _rawscan("merge", "s0.jsonl", "other.jsonl", cwd=tmp_path)
    assert mixed.returncode == 2 and "different plans" in one_error_line(mixed)

    replayed = _rawscan("replay", "s1.pcap", "-q", "-oJ", "r1.jsonl", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert port_states(read_jsonl(tmp_path / "r1.jsonl")) == shard_states[1]


def test_two_workers_are_exact_and_resume_after_sigterm(tmp_path: Path) -> None:
    expected = SYN_2000.expected()
    with Lab(SYN_2000.spec()) as lab:
        whole = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", PORTS, "-q",
                                  "--workers", "2", "-oA", str(tmp_path / "w")], env=ENV,
                                 cwd=tmp_path)
        assert whole.returncode == 0, whole.stderr
        assert "Workers: 2 processes" in whole.stdout
        proc = subprocess.Popen(["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn",
                                 lab.target_ip, "-p", PORTS, "-q", "--workers", "2", "--rate",
                                 "500", "-oJ", str(tmp_path / "cut.jsonl")],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=ENV)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)  # to the parent only: it stops its workers
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        rest = lab.exec_scanner([rawscan_command(), "resume", str(tmp_path / "rawscan.resume"),
                                 "-q", "-oJ", str(tmp_path / "rest.jsonl")], env=ENV, cwd=tmp_path)
        assert rest.returncode == 0, rest.stderr
        grabbed = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", PORTS, "-q",
                                    "--workers", "2", "--banners", "--banner-timeout", "0.5",
                                    "-oJ", str(tmp_path / "b.jsonl")], env=ENV, cwd=tmp_path)
        assert grabbed.returncode == 0, grabbed.stderr
    assert port_states(read_jsonl(tmp_path / "w.jsonl")) == expected
    assert_valid_against_dtd(tmp_path / "w.xml")
    first, second = (port_states(read_jsonl(tmp_path / n)) for n in ("cut.jsonl", "rest.jsonl"))
    assert first and second and not first.keys() & second.keys()
    assert {**first, **second} == expected
    opened = sum(state == "open" for state, _why in expected.values())
    # the banner summary one process prints: both workers' phases added up
    assert f"Banners: {opened} open port(s) connected" in grabbed.stdout, grabbed.stdout[-400:]
    assert port_states(read_jsonl(tmp_path / "b.jsonl")) == expected


def test_udp_shards_merge_into_the_whole_scan(tmp_path: Path) -> None:
    from tests.support.lab_layouts import UDP_1024

    with Lab(UDP_1024.spec()) as lab:
        for k in range(2):
            proc = lab.exec_scanner([rawscan_command(), "udp", lab.target_ip, "-p",
                                     UDP_1024.port_list(), "--shards", "2", "--shard", str(k),
                                     "-q", "-oJ", str(tmp_path / f"u{k}.jsonl")], env=ENV,
                                    cwd=tmp_path)
            assert proc.returncode == 0, proc.stderr
    merged = _rawscan("merge", "u0.jsonl", "u1.jsonl", "-oJ", "u.jsonl", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    parts = [port_states(read_jsonl(tmp_path / f"u{k}.jsonl")) for k in range(2)]
    assert parts[0] and parts[1] and not parts[0].keys() & parts[1].keys()
    assert port_states(read_jsonl(tmp_path / "u.jsonl")) == UDP_1024.expected()
