"""The engine against a simulated network: states, retries under loss, strays, pacing, Ctrl-C."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP

from rawscan.engine import ScanOptions
from rawscan.targets import TargetSet

from tests.support.engine import DST, run_engine, states
from rawscan.testing import Probe
from tests.support.simnet import SimulatedNetwork

LAYOUT = {22: "open", 80: "open", 81: "drop", 82: "admin", 83: "host", 443: "open"}
EXPECTED = {22: ("open", "syn-ack"), 80: ("open", "syn-ack"), 81: ("filtered", "no-response"),
            82: ("filtered", "admin-prohibited"), 83: ("filtered", "host-prohibited"), 443: ("open", "syn-ack")}


# every test here runs on both hot paths (conftest.hot_path): they must decide alike
pytestmark = pytest.mark.usefixtures("hot_path")


def test_every_reply_kind_maps_to_its_state() -> None:
    results, engine = run_engine(SimulatedNetwork(LAYOUT), range(1, 1001))
    got = states(results)
    assert len(got) == 1000
    for port in range(1, 1001):
        assert got[port] == EXPECTED.get(port, ("closed", "reset")), port
    # one retry round for the silent port 81, then stop: it got no answer
    assert engine.stats.rounds == 2 and engine.stats.retransmitted == 1
    assert engine.stats.stray == 0


def test_each_probe_is_sent_once_per_round_in_permuted_order() -> None:
    net = SimulatedNetwork({})
    run_engine(net, range(1, 501))
    ports = [IP(p)[TCP].dport for p in net.packets]
    assert sorted(ports) == list(range(1, 501))
    assert ports != sorted(ports)


def wrong_ports(loss: float, seed: int) -> tuple[int, int]:
    results, engine = run_engine(SimulatedNetwork(LAYOUT, loss=loss, seed=seed), range(1, 1001), seed=seed)
    got = states(results)
    wrong = sum(got[p] != EXPECTED.get(p, ("closed", "reset")) for p in range(1, 1001))
    return wrong, engine.stats.rounds


def test_retries_make_five_percent_loss_cost_no_accuracy() -> None:
    for seed in range(3):
        wrong, rounds = wrong_ports(0.05, seed)
        assert wrong == 0 and rounds >= 4


def test_retries_adapt_to_twenty_percent_loss() -> None:
    # Loss is random: a port can lose every retransmission (0.2**8 each); allow one in 3000.
    outcomes = [wrong_ports(0.2, seed) for seed in range(3)]
    assert sum(w for w, _r in outcomes) <= 1
    assert min(r for _w, r in outcomes) >= 6  # more rounds than at 5% loss


def test_retries_are_bounded() -> None:
    net = SimulatedNetwork({p: "drop" for p in range(1, 11)})
    results, engine = run_engine(net, range(1, 11), ScanOptions(retries=3))
    assert {v.reason for v in results.values()} == {"no-response"}
    assert engine.stats.rounds == 2  # the first retry got nothing back: silence is real
    assert len(net.sent) == 20


def test_stray_and_forged_replies_are_counted_never_classified() -> None:
    net = SimulatedNetwork({p: "drop" for p in range(1, 101)})
    for port in range(1, 101):  # SYN-ACKs with wrong acknowledgement numbers, for every port
        forged = IP(src="198.18.0.2", dst="198.18.0.1") / TCP(sport=port, dport=40000, flags="SA", ack=port)
        net.inject(0.001 * port, bytes(forged))
    results, engine = run_engine(net, range(1, 101))
    assert set(states(results).values()) == {("filtered", "no-response")}
    assert engine.stats.stray == 100


def test_late_duplicates_do_not_change_a_result() -> None:
    net = SimulatedNetwork({22: "open"}, rtt=0.01)
    results, engine = run_engine(net, [22])
    probe = IP(net.packets[0])
    rst = IP(src=probe.dst, dst=probe.src) / TCP(sport=22, dport=40000, flags="RA", ack=probe[TCP].seq + 1)
    net2 = SimulatedNetwork({22: "open", 9: "drop"}, rtt=0.01)  # port 9 keeps the scan waiting
    net2.inject(0.5, bytes(rst))  # a later RST for an already open port
    results2, engine2 = run_engine(net2, [9, 22], ScanOptions(timeout=1.0))
    assert states(results2)[22] == ("open", "syn-ack")
    assert engine2.stats.duplicates == 1


def test_icmp_then_response_upgrades_but_response_never_downgrades() -> None:
    net = SimulatedNetwork({22: "admin"})
    results, _ = run_engine(net, [22])
    probe = IP(net.packets[0])
    synack = IP(src=probe.dst, dst=probe.src) / TCP(sport=22, dport=40000, flags="SA", ack=probe[TCP].seq + 1)
    net2 = SimulatedNetwork({22: "admin", 9: "drop"})
    net2.inject(0.2, bytes(synack))
    net2.inject(0.3, bytes(IP(net.packets[0])))  # ICMP-free echo of nothing: a stray
    results2, _ = run_engine(net2, [9, 22])
    assert states(results2)[22] == ("open", "syn-ack")


def test_pacing_is_exact_at_low_rates() -> None:
    net = SimulatedNetwork({}, rtt=0.001)
    _results, engine = run_engine(net, range(1, 201), ScanOptions(rate=100, timeout=0.0))
    # 200 probes at 100/s: the last leaves 1.99 s after the first
    assert 1.98 <= engine.stats.elapsed <= 2.05


def test_scan_ends_when_every_probe_is_answered() -> None:
    net = SimulatedNetwork({}, rtt=0.002)
    _results, engine = run_engine(net, range(1, 11), ScanOptions(rate=1000, timeout=5.0))
    assert engine.stats.elapsed < 0.1  # not the 5 s timeout


def test_interrupt_keeps_what_was_learned() -> None:
    net = SimulatedNetwork({p: "open" for p in range(1, 101)}, rtt=0.0001, interrupt_after=50)
    results, engine = run_engine(net, range(1, 101), ScanOptions(rate=100))
    assert engine.stats.interrupted
    assert 40 <= len(results) <= 50  # answered ones only; unsent ports are not called filtered
    assert all(v.state == "open" for v in results.values())


def test_several_hosts_share_the_permutation() -> None:
    targets = TargetSet(((DST, DST + 3),), {})
    net = SimulatedNetwork({22: "open"})
    results, _ = run_engine(net, [21, 22, 23], targets=targets)
    assert len(results) == 12
    assert {t for (t, p), v in results.items() if v.state == "open"} == {DST, DST + 1, DST + 2, DST + 3}


def rate_limited_icmp(ports: dict[int, str]) -> SimulatedNetwork:
    """ICMP errors pass Linux's per-destination bucket (burst 6, then 1/s), as from a
    target whose limit is not lifted."""
    from tests.support.simnet import IcmpRateLimit

    return SimulatedNetwork(ports, ratelimit=IcmpRateLimit())


def test_a_syn_scan_does_not_sit_out_icmp_rate_limits() -> None:
    """ICMP error or silence: filtered either way, so no round waits a token period (1 s)
    for a reason; the ports whose errors were held back say no-response."""
    layout = {p: "admin" for p in range(1, 41)}
    results, engine = run_engine(rate_limited_icmp(layout), range(1, 41), ScanOptions(timeout=1.0))
    assert {v.state for v in results.values()} == {"filtered"}
    reasons = [v.reason for v in results.values()]
    assert reasons.count("admin-prohibited") >= 6  # the burst got through
    # round 0 waits --timeout (no reply was timed: the sampled probes were held back), the
    # retry rounds only the RTT floor (0.1 s): a token period each would take > 2 s
    assert engine.stats.rounds >= 2 and engine.stats.elapsed < 1.0 + 0.15 * engine.stats.rounds
    assert not engine.stats.icmp_rate_limited


def test_a_small_scan_measures_its_round_trip_whichever_port_answers() -> None:
    # Found in a live lab: `rawscan syn -p 25,80,443` took 3.0 s where -p 22,25,80 took 0.3 s,
    # because only endpoint 0 of every 16 was timed and port 25 (endpoint 0) was dropped:
    # with no sample, every round waited the whole --timeout.
    net = SimulatedNetwork({25: "drop", 80: "open", 443: "open"}, rtt=0.01)
    began = net.clock.now()
    results, engine = run_engine(net, [25, 80, 443])
    assert states(results)[25] == ("filtered", "no-response")
    assert engine.stats.retransmitted >= 1
    # round 0 waits --timeout (1 s: nothing timed yet here), the retries what the RTT allows
    assert net.clock.now() - began < 1.5  # not 3 x 1 s


class PolicedNetwork(SimulatedNetwork):
    """A policer on the way to the target (nft `limit rate over N/second drop`, burst 5): probes
    beyond its token bucket are dropped from the very first one, so no reply yield was ever
    better to compare with."""

    def __init__(self, ports: dict[int, str], per_second: float, burst: int = 5) -> None:
        super().__init__(ports, rtt=0.001, handler=self._policed)
        self.per_second, self.burst = per_second, burst
        self.tokens, self.last = float(burst), self.clock.now()

    def _policed(self, probe: Probe) -> list[bytes]:
        now = self.clock.now()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens < 1:
            return []  # dropped on the way
        self.tokens -= 1
        return self._answer(probe)


def test_an_adaptive_scan_slows_down_for_a_policer_that_drops_from_the_first_probe() -> None:
    # Found in a live lab (nft `limit rate over 300/second drop` on the router): rawscan syn
    # -p 1-2000 (adaptive, the default) reported 1,474 ports filtered, its 3 open ports among
    # them, "the path allowed about 9,724 probes/s (no loss seen)"; nmap -sS found every one.
    layout = {22: "open", 80: "open", 443: "open"}
    net = PolicedNetwork(layout, per_second=300)
    results, engine = run_engine(net, range(1, 2001), ScanOptions(rate=5000, max_rate=300_000))
    got = states(results)
    wrong = [p for p in range(1, 2001) if got[p][0] != layout.get(p, "closed")]
    assert wrong == []
