"""The engine with UDP probes against simulated hosts, ICMP rate limits included."""

from __future__ import annotations

from rawscan.addresses import parse_addr
from rawscan.engine import Engine, ScanOptions
from rawscan.payloads import payload_for
from rawscan.probes.udp import UdpProbe
from rawscan.retry_policy import RetryPolicy, RoundReport, looks_rate_limited

from tests.support.engine import cookie, run_engine, states
from tests.support.simnet import IcmpRateLimit, SimulatedUdpHost

LAYOUT = {7: "open", 53: "open", 1900: "open", 81: "drop", 82: "drop", 83: "admin"}
EXPECTED = {7: ("open", "udp-response"), 53: ("open", "udp-response"), 1900: ("open", "udp-response"),
            81: ("open|filtered", "no-response"), 82: ("open|filtered", "no-response"),
            83: ("filtered", "admin-prohibited")}


def scan(net: SimulatedUdpHost, ports: list[int], sources: int = 1, **options: object) -> tuple[dict[int, tuple[str, str]], Engine]:
    source_ips = tuple(parse_addr(f"198.18.0.{i}") for i in range(1, sources + 1))
    results, engine = run_engine(net, ports, ScanOptions(sources=sources, **options), seed=3,  # type: ignore[arg-type]
                                 probe=UdpProbe(source_ips, cookie(3), payload_for))
    return states(results), engine


def expected(ports: list[int]) -> dict[int, tuple[str, str]]:
    return {p: EXPECTED.get(p, ("closed", "port-unreach")) for p in ports}


PORTS = sorted(set(LAYOUT) | set(range(100, 140)))  # 6 special + 40 closed


def test_without_rate_limit_one_retry_settles_it() -> None:
    got, engine = scan(SimulatedUdpHost(LAYOUT), PORTS)
    assert got == expected(PORTS)
    assert engine.stats.rounds == 2 and not engine.stats.icmp_rate_limited


def test_rate_limited_host_gets_every_closed_port_right() -> None:
    net = SimulatedUdpHost(LAYOUT, ratelimit=IcmpRateLimit(per_second=1, burst=6))
    got, engine = scan(net, PORTS)
    assert got == expected(PORTS)
    assert engine.stats.icmp_rate_limited
    # 41 ICMP answers at 1/s after a burst of 6: about 35 s, not the 10-retry limit's worth
    assert 30 <= engine.stats.elapsed <= 50


def test_several_sources_multiply_the_icmp_budget() -> None:
    net = SimulatedUdpHost(LAYOUT, ratelimit=IcmpRateLimit(per_second=1, burst=6))
    got, engine = scan(net, PORTS, sources=8)
    assert got == expected(PORTS)
    single = SimulatedUdpHost(LAYOUT, ratelimit=IcmpRateLimit(per_second=1, burst=6))
    _got, slow = scan(single, PORTS)
    assert engine.stats.elapsed * 3 < slow.stats.elapsed


def test_defeat_icmp_ratelimit_trades_accuracy_for_time() -> None:
    net = SimulatedUdpHost(LAYOUT, ratelimit=IcmpRateLimit(per_second=1, burst=6))
    got, engine = scan(net, PORTS, defeat_icmp_ratelimit=True)
    assert engine.stats.icmp_rate_limited and engine.stats.elapsed < 6
    assert sum(1 for s in got.values() if s == ("open|filtered", "no-response")) > 20
    assert all(got[p] == ("open", "udp-response") for p in (7, 53, 1900))


def test_loss_without_rate_limit() -> None:
    for seed in range(3):
        got, _engine = scan(SimulatedUdpHost(LAYOUT, loss=0.05, seed=seed), PORTS)
        assert got == expected(PORTS)


def test_rate_limit_signature() -> None:
    trickle = RoundReport(answered=1, icmp_answered=1, icmp_hosts=1, duration=1.1, unanswered=30)
    flood = RoundReport(answered=50, icmp_answered=50, icmp_hosts=1, duration=1.2, unanswered=20)
    nothing_left = RoundReport(answered=3, icmp_answered=3, icmp_hosts=1, duration=1.0, unanswered=2)
    assert looks_rate_limited(trickle, sources=1)
    assert not looks_rate_limited(flood, sources=1)
    assert not looks_rate_limited(nothing_left, sources=1)


def test_rate_limited_rounds_are_bounded() -> None:
    policy = RetryPolicy(retries=2)
    history = [RoundReport(10, 6, 1, 1.0, 30), RoundReport(1, 1, 1, 1.0, 29), RoundReport(1, 1, 1, 1.0, 28)]
    rounds = 3
    while policy.another_round(history) and rounds < 1000:
        history.append(RoundReport(1, 1, 1, 1.0, history[-1].unanswered))  # a trickle that never ends
        rounds += 1
    assert policy.rate_limited and rounds <= 3 + 2 * 28 + 2
    stops = RetryPolicy(retries=5)
    quiet = [RoundReport(10, 6, 1, 1.0, 30), RoundReport(1, 1, 1, 1.0, 29), RoundReport(1, 1, 1, 1.0, 28),
             RoundReport(0, 0, 0, 1.0, 28)]
    assert stops.another_round(quiet[:3]) and stops.rate_limited
    assert stops.another_round(quiet)
    assert not stops.another_round(quiet + [RoundReport(0, 0, 0, 1.0, 28)])


def test_one_late_reply_is_not_rate_limiting() -> None:
    policy = RetryPolicy(retries=10)
    history = [RoundReport(200, 150, 1, 0.2, 3), RoundReport(1, 1, 1, 1.0, 2), RoundReport(0, 0, 0, 1.0, 2)]
    assert policy.another_round(history[:2])
    policy.another_round(history)
    assert not policy.rate_limited
