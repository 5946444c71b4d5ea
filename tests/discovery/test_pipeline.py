"""--discover pipelined (rawscan/discovery/pipeline.py): hosts found up are port scanned while
discovery goes on, in waves, with one outcome, resume state and summary. No root: both
transports are simulated networks in real time (discovery runs in its own thread)."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from rawscan.api.plans import prepare_live_scan
from rawscan.api.running import FinishedRun, run_plan
from rawscan.discovery.first import discovery_plan
from rawscan.discovery.pipeline import PipelinedScan, decided_in, in_sequence, up_targets
from rawscan.discovery.run import run_discovery
from rawscan.engine import ScanStats
from rawscan.output.options import OutputOptions
from rawscan.plan import ScanPlan
from rawscan.scan import probe_for
from rawscan.targets import TargetSet
from rawscan.testing import Probe, SimulatedNetwork, answer
from rawscan.transports.base import Received, SystemClock

EARLY, LATE, DOWN = "198.18.0.2", "198.18.0.3", "198.18.0.4"
PORTS = {22: "open", 80: "closed", 443: "dropped"}


class RealTimeNetwork(SimulatedNetwork):
    """A SimulatedNetwork on the system clock: receive() sleeps until a reply is due, so two
    of them in two threads run side by side as live sockets would."""

    def __init__(self, handler: Any, rtt: float = 0.002) -> None:
        super().__init__(handler, rtt=rtt)
        self._clock = SystemClock()  # type: ignore[assignment]

    def receive(self, deadline: float) -> list[Received]:
        import heapq

        heapq.heapify(self._pending)
        due = self._pending[0][0] if self._pending else deadline
        wait = min(due, deadline) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if not self._pending or self._pending[0][0] > deadline:
            return []
        _at, _order, packet = heapq.heappop(self._pending)
        return [Received(packet, self._clock.wall())]


def lab(late_answers_after_early_scanned: threading.Event) -> tuple[Any, Any]:
    """(discovery's handler, the port scan's handler): EARLY answers discovery at once; LATE
    only once the port scan has probed EARLY; DOWN never."""

    def discovery(probe: Probe) -> list[bytes]:
        if probe.dst == EARLY or (probe.dst == LATE and late_answers_after_early_scanned.is_set()):
            return answer(probe, "closed")  # a RST to the SYN 443 / ACK 80 pings: up
        return []

    def ports(probe: Probe) -> list[bytes]:
        if probe.dst == EARLY:
            late_answers_after_early_scanned.set()
        if probe.dst in (EARLY, LATE):
            return answer(probe, PORTS[probe.dport])
        return []

    return discovery, ports


def plan_of(retries: int = 6) -> ScanPlan:
    return prepare_live_scan("syn", targets=[EARLY, LATE, DOWN], ports="22,80,443",
                             require_privilege=False, source="198.18.0.1", seed=7,
                             retries=retries, timeout=0.1, rate=2000).plan


def pipelined(plan: ScanPlan, gate: threading.Event,
              stop: Any = None) -> tuple[FinishedRun, PipelinedScan, RealTimeNetwork]:
    discovery_handler, port_handler = lab(gate)
    ping = discovery_plan(plan)
    runner = PipelinedScan((ping, probe_for(ping), RealTimeNetwork(discovery_handler)))
    network = RealTimeNetwork(port_handler)
    finished = run_plan(plan, probe_for(plan), network, OutputOptions(), keep_results=True,
                        runner=runner, stop_requested=stop)
    return finished, runner, network


def test_a_host_found_up_is_scanned_while_discovery_goes_on() -> None:
    plan = plan_of()
    finished, runner, network = pipelined(plan, threading.Event())
    got = {(r.ip, r.port): r.state for r in finished.outcome.results or []}
    want = {(ip, port): {"dropped": "filtered"}.get(state, state)
            for ip in (EARLY, LATE) for port, state in PORTS.items()}
    # LATE answers discovery only after EARLY's port scan began: it is up (and scanned) only
    # because the port scan did not wait for discovery's end
    assert got == want
    assert runner.discovery is not None and runner.discovery.found == [EARLY, LATE]
    assert not {p.dst for p in network.sent} - {EARLY, LATE}  # DOWN is never port scanned
    first = finished.summary_lines()[0]
    assert first.startswith("Discovery (") and "2 of 3 host(s) up; 1 skipped as down" in first
    assert not finished.stats.interrupted and finished.stats.probes == 6
    assert not threading.enumerate()[1:] or all(t.name != "rawscan-discovery"
                                                 for t in threading.enumerate())


def test_the_gate_holds_without_a_port_scan() -> None:
    """The control: discovery alone never sees LATE up (so the test above can fail)."""
    plan = plan_of(retries=3)
    discovery_handler, _ports = lab(threading.Event())
    ping = discovery_plan(plan)
    up: list[str] = []
    run_discovery(ping, probe_for(ping), RealTimeNetwork(discovery_handler),
                  lambda h: up.append(h.ip) if h.up else None)
    assert up == [EARLY]


def test_a_stop_keeps_the_found_hosts_resumable() -> None:
    plan = plan_of()
    asked = {"stop": False}
    gate = threading.Event()
    finished, runner, _network = pipelined(plan, gate, stop=lambda: asked["stop"] or _stop_soon(asked, gate))
    assert finished.stats.interrupted
    outcome = finished.outcome
    found = runner.discovery.found if runner.discovery else []
    assert EARLY in found and outcome.plan.targets == up_targets(plan.targets, found)
    assert len(outcome.decided) == (len(found) * 3 + 7) // 8
    assert any("host(s) found up" in line for line in finished.summary_lines())


def _stop_soon(asked: dict[str, bool], gate: threading.Event) -> bool:
    if gate.is_set():  # EARLY's port scan has begun: stop now
        asked["stop"] = True
    return asked["stop"]


def test_waves_decided_bits_land_on_the_scanned_hosts_rows() -> None:
    rng = random.Random(3)
    for nports, hosts in ((3, 40), (50, 200)):  # both paths: pure, and numpy (>= 4096)
        addresses = rng.sample(range(0xC6120000, 0xC6120400), hosts)
        scanned = up_targets(TargetSet(((0xC6120000, 0xC61203FF),), {}),
                             [_ip(a) for a in addresses])
        truth: dict[tuple[int, int], bool] = {}
        waves: list[tuple[TargetSet, bytes]] = []
        for chunk in (addresses[:7], addresses[7:hosts // 2], addresses[hosts // 2:]):
            wave = up_targets(scanned, [_ip(a) for a in chunk])
            bits = bytearray((len(wave) * nports + 7) // 8)
            for i in range(len(wave)):
                for p in range(nports):
                    on = rng.random() < 0.5
                    truth[(wave.address(i), p)] = on
                    if on:
                        index = i * nports + p
                        bits[index >> 3] |= 1 << (index & 7)
            waves.append((wave, bytes(bits)))
        merged = decided_in(scanned, nports, waves)
        for (address, p), on in truth.items():
            j = scanned.index(address)
            assert j is not None
            index = j * nports + p
            assert bool(merged[index >> 3] >> (index & 7) & 1) == on


def _ip(a: int) -> str:
    return ".".join(str(a >> s & 255) for s in (24, 16, 8, 0))


def test_waves_in_sequence_sum_counts_and_weigh_rates() -> None:
    a = ScanStats(probes=10, sent=12, matched=8, rounds=2, send_rate=1000.0, first_round_sent=10)
    b = ScanStats(probes=30, sent=30, matched=20, rounds=1, send_rate=3000.0, first_round_sent=30)
    out = in_sequence([a, b], 1.5)
    assert (out.probes, out.sent, out.matched, out.rounds, out.elapsed) == (40, 42, 28, 2, 1.5)
    assert out.send_rate == (1000.0 * 10 + 3000.0 * 30) / 40


def test_a_simulated_network_runs_discover_as_a_live_scan_would() -> None:
    import rawscan

    hosts = {"198.18.0.2": {"tcp": {22: "open"}, "other": "closed"},
             "198.18.0.5": {"tcp": {443: "open"}, "other": "closed"},
             "198.18.0.3": {"other": "dropped"}}  # answers no ping: down, as to nmap
    net = SimulatedNetwork(hosts=hosts)
    result = net.scan("syn", ["198.18.0.0/29"], ports="22,80,443", discover=True)
    assert {p.ip for p in result.ports} == {"198.18.0.2", "198.18.0.5"}
    assert {p.dst for p in net.sent} == {"198.18.0.2", "198.18.0.5"}
    assert result.summary[0].startswith("Discovery (")
    assert "2 of 8 host(s) up; 6 skipped as down (no-response 6)" in result.summary[0]
    states = {(p.ip, p.port): p.state for p in result.ports}
    assert states[("198.18.0.2", 22)] == "open" and states[("198.18.0.5", 443)] == "open"
    assert states[("198.18.0.2", 80)] == "closed"
    with_shards = SimulatedNetwork(hosts=hosts)
    try:
        with_shards.scan("syn", ["198.18.0.0/29"], ports="22", discover=True, shards=2, shard=0)
    except rawscan.RawscanError as exc:
        assert "--discover with --shards or --workers is not supported" in str(exc)
    else:
        raise AssertionError("--discover with --shards was not refused")
    assert not with_shards.sent
    sampled = SimulatedNetwork(hosts=hosts)
    try:  # each wave would take a sample of its own
        sampled.scan("syn", ["198.18.0.0/29"], ports="22", discover=True, max_targets="2")
    except rawscan.RawscanError as exc:
        assert "--discover with --max-targets is not supported" in str(exc)
    else:
        raise AssertionError("--discover with --max-targets was not refused")
    assert not sampled.sent


def test_discover_probes_choose_discoverys_probes() -> None:
    import rawscan

    # 198.18.0.3 answers nothing but 22/tcp: down to the default probes, up to syn:22 (nmap -PS22)
    hosts = {"198.18.0.2": {"tcp": {22: "open"}, "other": "closed"},
             "198.18.0.3": {"tcp": {22: "open"}, "other": "dropped"}}
    default = SimulatedNetwork(hosts=hosts).scan("syn", ["198.18.0.2", "198.18.0.3"], "22",
                                                 discover=True)
    chosen = SimulatedNetwork(hosts=hosts).scan("syn", ["198.18.0.2", "198.18.0.3"], "22",
                                                discover_probes="syn:22")
    assert {p.ip for p in default.ports} == {"198.18.0.2"}
    assert {p.ip for p in chosen.ports} == {"198.18.0.2", "198.18.0.3"}
    assert chosen.summary[0].startswith("Discovery (syn:22;")
    try:
        SimulatedNetwork(hosts=hosts).scan("syn", "198.18.0.2", "22", discover_probes="echo,pz")
    except rawscan.RawscanError as exc:
        assert str(exc).startswith("--discover-probes: 'pz' is not a probe")
    else:
        raise AssertionError("a bad --discover-probes was taken")


def test_ping_help_speaks_of_hosts() -> None:
    from typer.testing import CliRunner

    from rawscan.cli import app

    ping = CliRunner().invoke(app, ["ping", "--help"], env={"COLUMNS": "200"}).output
    syn = CliRunner().invoke(app, ["syn", "--help"], env={"COLUMNS": "200"}).output
    assert "one object per host" in ping and "hosts that are up" in ping
    assert "one object per port" in syn and "--discover-probes" in syn
    assert "per port" not in ping and "--discover" not in ping
