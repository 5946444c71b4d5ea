"""The start report's lines for what narrows or slows a scan on purpose: the blocklists,
--max-targets and --bandwidth (a resumed or replayed scan's plan says them again)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bandwidth import describe, frame_bits

if TYPE_CHECKING:
    from .plan import ScanPlan
    from .probes.base import ProbeModule


def scope_lines(plan: ScanPlan, probe: ProbeModule) -> list[str]:
    lines = []
    if plan.blocklisted:
        reserved, own = plan.blocklisted_reserved, plan.blocklisted - plan.blocklisted_reserved
        why = [f"{reserved:,} in reserved ranges (IANA special-purpose registries; "
               f"--no-default-blocklist scans them)"] if reserved else []
        why += [f"{own:,} in --blocklist"] if own else []
        lines.append(f"Blocklist: {plan.blocklisted:,} address(es) of the targets not scanned: "
                     + ", ".join(why))
    if plan.max_targets:
        endpoints = len(plan.targets) * len(plan.ports)
        keep = min(plan.max_targets, endpoints)
        lines.append(f"Max targets: {keep:,} of {endpoints:,} endpoints (host x port) probed, a "
                     f"random sample keyed by the seed; {endpoints - keep:,} not probed")
    if plan.bandwidth:
        first = probe.build(plan.targets.address(0), plan.ports[0])
        lines.append(f"Bandwidth: {describe(plan.bandwidth, frame_bits(len(first)))} (each "
                     f"probe is charged its own frame)")
    return lines
