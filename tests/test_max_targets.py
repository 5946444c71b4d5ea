"""--max-targets: the hosts a sampled scan counts ('N IP address(es) scanned', the XML's host
total) are those with at least one endpoint in the sample, not every host of the targets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.addresses import parse_addr
from rawscan.plan import ScanPlan
from rawscan.scan import hosts_scanned, sampled
from rawscan.targets import parse_targets


def _plan(hosts: int, ports: int, keep: int | None, seed: int) -> ScanPlan:
    targets = parse_targets([f"198.18.0.0-{hosts - 1}"] if hosts > 1 else ["198.18.0.0"])
    return ScanPlan(scan="syn", targets=targets, ports=tuple(range(1, ports + 1)), seed=seed,
                    sources=(parse_addr("198.18.255.1"),), source_port=40000, max_targets=keep)


def _hosts_in_sample(plan: ScanPlan) -> int:
    """The readable version: walk every endpoint's bit (set: left out of the sample)."""
    bits, nports = sampled(plan), len(plan.ports)
    return len({e // nports for e in range(len(plan.targets) * nports)
                if not bits[e >> 3] >> (e & 7) & 1})


@settings(max_examples=60, deadline=None)
@given(hosts=st.integers(1, 200), ports=st.integers(1, 9), keep=st.integers(1, 2000),
       seed=st.integers(0, 2**32))
def test_hosts_scanned_are_the_sampled_endpoints_hosts(hosts: int, ports: int, keep: int,
                                                       seed: int) -> None:
    plan = _plan(hosts, ports, keep, seed)
    assert hosts_scanned(plan) == _hosts_in_sample(plan)


def test_without_a_sample_every_host_is_scanned() -> None:
    assert hosts_scanned(_plan(50, 3, None, 1)) == 50


def test_a_small_sample_of_many_hosts_counts_few() -> None:
    plan = _plan(256, 2, 20, 5)
    assert hosts_scanned(plan) <= 20 < len(plan.targets)
