"""Shards: the keyed permutation, the split (disjoint, whole, even), the engine scanning one
shard (its own endpoints only, retries and resume too), the plan fingerprint, the options."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

from rawscan.addresses import parse_addr
from rawscan.commands.sharding import Sharding
from rawscan.cookies import derive_key
from rawscan.engine import Engine, ScanOptions
from rawscan.errors import RawscanError
from rawscan.plan import ScanPlan
from rawscan.results import Verdict
from rawscan.shards import Permutation, ShardMap, derived_seed, fingerprint, shard_size
from rawscan.targets import TargetSet

from tests.support.engine import run_engine
from tests.support.simnet import SimulatedNetwork

SRC = parse_addr("198.18.0.1")
BASE = parse_addr("198.18.0.2")


@given(size=st.integers(1, 3000), key=st.binary(min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_the_permutation_is_a_bijection_and_its_inverse_undoes_it(size: int, key: bytes) -> None:
    p = Permutation(size, key)
    forward = p.forward_array(np.arange(size))
    assert sorted(forward.tolist()) == list(range(size))
    assert p.inverse_array(forward).tolist() == list(range(size))
    sample = list(range(0, size, max(1, size // 50)))
    assert [p.forward(i) for i in sample] == forward[sample].tolist()  # ints and arrays agree
    assert [p.inverse(int(forward[i])) for i in sample] == sample


def _owners(total: int, shards: int, key: bytes) -> list[list[int]]:
    """Each shard's endpoints, walked from its local indexes."""
    out = []
    for k in range(shards):
        m = ShardMap(total, shards, k, key)
        local = np.arange(m.size)
        endpoints = m.to_endpoints(local) if m.size else np.array([], dtype=np.int64)
        assert m.to_locals(endpoints).tolist() == local.tolist()  # membership: O(1) each way
        assert [m.to_local(int(e)) for e in endpoints[:20]] == local[:20].tolist()
        out.append(endpoints.tolist())
    return out


@given(total=st.integers(1, 400), choice=st.sampled_from(["1", "2", "3", "7", "=T", ">T"]),
       key=st.binary(min_size=1, max_size=4))
@settings(max_examples=80, deadline=None)
def test_shards_are_disjoint_and_together_every_endpoint(total: int, choice: str, key: bytes) -> None:
    shards = {"=T": total, ">T": total + 5}.get(choice) or int(choice)
    owners = _owners(total, shards, key)
    flat = [e for part in owners for e in part]
    assert sorted(flat) == list(range(total))  # disjoint, and the union is every endpoint
    sizes = [len(part) for part in owners]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == [shard_size(total, shards, k) for k in range(shards)]
    for k, part in enumerate(owners):  # and no shard reports another's endpoint as its own
        other = ShardMap(total, shards, (k + 1) % shards, key)
        if shards > 1:
            assert all(other.to_local(e) is None for e in part[:10])


@pytest.mark.parametrize("hosts,ports", [(65536, 1), (1, 65535)])
def test_four_shards_are_even_over_a_slash16_and_over_every_port(hosts: int, ports: int) -> None:
    total = hosts * ports
    key = derive_key(12345, "shards")
    counts = np.bincount(Permutation(total, key).forward_array(np.arange(total)) % 4, minlength=4)
    assert counts.sum() == total
    assert all(0.95 / 4 <= c / total <= 1.05 / 4 for c in counts), counts
    # and the shards are not stripes of the index: a shard's endpoints are spread over it
    part = ShardMap(total, 4, 1, key).to_endpoints(np.arange(1000))
    assert len(set((part % 4).tolist())) == 4



LAYOUT = {21: "open", 22: "open", 23: "drop", 25: "admin", 80: "open", 81: "closed", 443: "open"}
PORTS = (21, 22, 23, 25, 80, 81, 443, 8080)
TARGETS = TargetSet(((BASE, BASE + 2), (BASE + 10, BASE + 10), (BASE + 20, BASE + 23)), {})


def _scan(targets: TargetSet, shard: ShardMap | None, loss: float = 0.0, seed: int = 3,
          done: bytes | None = None, interrupt_after: int | None = None, rate: float = 20000,
          ) -> tuple[dict[tuple[int, int], Verdict], Engine, SimulatedNetwork]:
    net = SimulatedNetwork(LAYOUT, rtt=0.002, loss=loss, seed=seed, interrupt_after=interrupt_after)
    results, engine = run_engine(net, PORTS, ScanOptions(rate=rate, retries=6, timeout=0.05), seed=seed,
                                 targets=targets, shard=shard, done=done)
    return results, engine, net


def _endpoint(targets: TargetSet, packet: bytes) -> int:
    ip = IP(packet)
    host = targets.index(parse_addr(ip.dst))
    assert host is not None
    return host * len(PORTS) + PORTS.index(ip[TCP].dport)


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_each_shard_probes_and_retries_only_its_own_and_together_they_are_the_scan(
        hot_path: str, shards: int) -> None:
    whole, _engine, _net = _scan(TARGETS, None)
    total = len(TARGETS) * len(PORTS)
    key = derive_key(3, "shards")
    union: dict[tuple[int, int], Verdict] = {}
    retried = 0
    for k in range(shards):
        shard = ShardMap(total, shards, k, key)
        results, engine, net = _scan(TARGETS, shard, loss=0.2, seed=3)
        assert engine.stats.probes == shard.size == len(results)
        sent = [_endpoint(TARGETS, p) for p in net.packets]
        assert all(shard.to_local(e) is not None for e in sent)  # first tries and retries
        assert engine.stats.first_round_sent == shard.size
        retried += engine.stats.retransmitted
        assert not union.keys() & results.keys()
        union.update(results)
    assert retried  # the loss made every shard retry (only its own, as checked above)
    assert {k: v.state for k, v in union.items()} == {k: v.state for k, v in whole.items()}


def test_a_shard_cut_short_resumes_inside_itself(hot_path: str) -> None:
    total = len(TARGETS) * len(PORTS)
    shard = ShardMap(total, 3, 1, derive_key(3, "shards"))
    first, engine, _ = _scan(TARGETS, shard, interrupt_after=10, rate=2000)
    assert engine.stats.interrupted and 0 < len(first) < shard.size
    rest, _engine, net = _scan(TARGETS, shard, done=engine.decided)
    sent = {_endpoint(TARGETS, p) for p in net.packets}
    assert all(shard.to_local(e) is not None for e in sent)
    assert not first.keys() & rest.keys()
    assert len(first) + len(rest) == shard.size


def _plan(**changes: object) -> ScanPlan:
    plan = ScanPlan(scan="syn", targets=TARGETS, ports=PORTS, seed=7, sources=(SRC,),
                    source_port=40000, shards=4, shard=0)
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


def test_the_fingerprint_names_the_plan_not_the_machine_or_shard() -> None:
    plan = _plan()
    same = [_plan(shard=3), _plan(sources=(SRC + 5,)), _plan(rate=10.0), _plan(source_port=40001)]
    assert {fingerprint(p) for p in same} == {fingerprint(plan)}
    other = [_plan(seed=8), _plan(shards=5), _plan(ports=PORTS[:-1]), _plan(scan="udp"),
             _plan(ttl=3), _plan(targets=TargetSet(((BASE, BASE + 2),), {}))]
    assert len({fingerprint(p) for p in other} | {fingerprint(plan)}) == len(other) + 1
    assert derived_seed(plan) == derived_seed(_plan(seed=99, shard=2))  # every machine alike
    assert derived_seed(plan) != derived_seed(_plan(shards=2))
    again = ScanPlan.from_json(_plan(shard=2).to_json(), "x")
    assert (again.shards, again.shard) == (4, 2)
    assert '"shards"' not in _plan(shards=0).to_json()  # a whole scan's sidecar is as it was


def test_the_shard_options() -> None:
    assert Sharding.from_options(4, 2, None).shard == 2
    env = pytest.MonkeyPatch()
    with env.context() as m:
        m.setenv("JOB_COMPLETION_INDEX", "3")
        s = Sharding.from_options(4, None, None)
        assert (s.shard, s.from_environment) == (3, True)
        m.setenv("JOB_COMPLETION_INDEX", "4")
        with pytest.raises(RawscanError, match="not a shard of 0..3"):
            Sharding.from_options(4, None, None)
        m.delenv("JOB_COMPLETION_INDEX")
        with pytest.raises(RawscanError, match="needs --shard K"):
            Sharding.from_options(4, None, None)
    with pytest.raises(RawscanError, match="needs --shards"):
        Sharding.from_options(None, 1, None)
    with pytest.raises(RawscanError, match="not one of 0..3"):
        Sharding.from_options(4, 4, None)
    with pytest.raises(RawscanError, match="not both"):
        Sharding.from_options(4, 1, 2)


def test_shard_refusals_are_one_line(tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.support.rawscan_cli import one_error_line, rawscan_command

    env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([rawscan_command(), *argv], capture_output=True, text=True,
                              timeout=60, env=env, cwd=tmp_path)

    one_error_line(run("syn", "127.0.0.1", "--shards", "4"), "needs --shard K", "JOB_COMPLETION_INDEX")
    one_error_line(run("syn", "127.0.0.1", "--shards", "4", "--shard", "4"), "not one of 0..3")
    one_error_line(run("syn", "127.0.0.1", "--shard", "1"), "needs --shards")
    one_error_line(run("syn", "127.0.0.1", "--workers", "2", "--shards", "2"), "not both")
    # --max-targets with --shards is one keyed sample split over the shards:
    # test_bandwidth.py::test_sampled_shards_merge_whole
    (tmp_path / "plain.jsonl").write_text('{"ip":"198.18.0.2","proto":"tcp","port":22,"state":"open"}\n')
    one_error_line(run("merge", "plain.jsonl"), "names no plan")


def test_the_fingerprint_hashes_every_range_and_stays_stable() -> None:
    """Packed ranges, not their JSON (a huge -iL): any one range moved changes it, IPv6 ones
    too, and the value is pinned: a changed fingerprint makes this version's shards refuse
    to merge with another build's, so it changes only with a reason (and a new version)."""
    from rawscan.addresses import V6

    v6 = V6 | 0x2001_0002 << 96
    many = tuple((BASE + 4 * i, BASE + 4 * i + (i % 3)) for i in range(20000)) + ((v6, v6 + 9),)
    plan = _plan(targets=TargetSet(many, {}))
    moved = [many[:7] + ((many[7][0] + 1, many[7][1]),) + many[8:],
             many[:-1] + ((v6, v6 + 10),), many[:-1]]
    prints = {fingerprint(_plan(targets=TargetSet(m, {}))) for m in moved}
    assert len(prints | {fingerprint(plan)}) == len(moved) + 1
    assert fingerprint(_plan()) == "272331f75e2b0d79"
