"""One engine run over a test transport, set up as the engine, timing, shard and probe tests
need it: probe and order keyed by the seed, one target host unless told, every verdict kept.

    results, engine = run_engine(SimulatedNetwork({22: "open"}), range(1, 101), seed=3)
    assert states(results)[22] == ("open", "syn-ack") and engine.stats.rounds == 1

A verdict reported twice for one endpoint fails the test where it happens.
"""

from __future__ import annotations

from collections.abc import Iterable

from rawscan.addresses import parse_addr
from rawscan.cookies import Cookie, derive_key
from rawscan.engine import Engine, ScanOptions
from rawscan.probes.base import ProbeModule
from rawscan.probes.tcp_syn import SynProbe
from rawscan.results import Verdict
from rawscan.shards import ShardMap
from rawscan.targets import TargetSet
from rawscan.transports.base import Transport

SRC, DST = parse_addr("198.18.0.1"), parse_addr("198.18.0.2")  # the lab's scanner and target
SOURCE_PORT = 40000
Results = dict[tuple[int, int], Verdict]  # (target, port) -> its verdict


def one_host(address: int = DST) -> TargetSet:
    return TargetSet(((address, address),), {})


def cookie(seed: int) -> Cookie:
    """The reply cookie a scan with this seed uses (rawscan derives it the same way)."""
    return Cookie(derive_key(seed, "cookie"))


def syn_probe(seed: int, sources: tuple[int, ...] = (SRC,)) -> SynProbe:
    return SynProbe(sources, SOURCE_PORT, cookie(seed))


def run_engine(transport: Transport, ports: Iterable[int], options: ScanOptions | None = None, *,
               seed: int = 5, probe: ProbeModule | None = None, targets: TargetSet | None = None,
               done: bytes | None = None, shard: ShardMap | None = None) -> tuple[Results, Engine]:
    """Run one scan to its end: a SYN probe from SRC unless `probe` is given, DST unless
    `targets` are; `done` and `shard` as a resumed or sharded scan passes them."""
    results: Results = {}

    def collect(target: int, port: int, verdict: Verdict) -> None:
        assert (target, port) not in results, "each endpoint is reported once"
        results[(target, port)] = verdict

    engine = Engine(probe=probe or syn_probe(seed), targets=targets or one_host(), ports=tuple(ports),
                    transport=transport, options=options or ScanOptions(),
                    order_key=derive_key(seed, "order"), on_result=collect, done=done, shard=shard)
    engine.run()
    return results, engine


def states(results: Results) -> dict[int, tuple[str, str]]:
    """port -> (state, reason), for a scan of one host."""
    return {port: (v.state, v.reason) for (_t, port), v in results.items()}
