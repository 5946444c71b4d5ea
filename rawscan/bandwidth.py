"""--bandwidth: a limit in bits per second on the wire, as zmap's -B, paced per probe.

A probe's cost is its Ethernet frame on the wire, as zmap counts it: the IP packet plus the
14-byte Ethernet header and 4-byte FCS (at least the 64-byte minimum frame), plus the 8-byte
preamble and 12-byte inter-frame gap: max(IP length + 38, 84) bytes. A 40-byte IPv4 SYN costs
672 bits, so 10M allows 14,880 probes/s; UDP probes cost what their payload makes them.
Suffixes are decimal (K = 1,000), as zmap's.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import RawscanError

WIRE_OVERHEAD = 38  # Ethernet header 14 + FCS 4 + preamble and start of frame 8 + gap 12
MIN_WIRE_BYTES = 84  # the 64-byte minimum frame and its preamble and gap
MAX_BANDWIDTH = 1e12  # 1 Tb/s: past any interface a scan runs from
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
_SPEC = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgG]?)\s*(?:bps|bit/s|b/s)?\s*")


def parse_bandwidth(text: str) -> float:
    """'10M' -> 1e7 bits per second; RawscanError naming the option for anything else."""
    match = _SPEC.fullmatch(text)
    value = float(match.group(1)) * _UNITS[match.group(2).lower()] if match else math.nan
    if not match or not math.isfinite(value) or value <= 0:
        raise RawscanError(f"--bandwidth '{text[:40]}' is not a bandwidth: give bits per second "
                           f"with an optional K, M or G suffix, e.g. 10M")
    if value < MIN_WIRE_BYTES * 8 / 300:  # slower than -T0's probe every 5 minutes
        raise RawscanError(f"--bandwidth {text} is less than one minimal frame every 5 minutes")
    if value > MAX_BANDWIDTH:
        raise RawscanError(f"--bandwidth {text} is more than any scan can use (at most 1T)")
    return value


def frame_bits(ip_length: int) -> int:
    """What one packet of this IP length costs on an Ethernet wire, in bits."""
    return max(ip_length + WIRE_OVERHEAD, MIN_WIRE_BYTES) * 8


def batch_bits(batch: Any) -> int:
    """A batch of probes' cost: a list of packets, or a 2-D array of equal rows (numpy path)."""
    shape = getattr(batch, "shape", None)
    if shape is not None:
        return int(shape[0]) * frame_bits(int(shape[1]))
    floor = MIN_WIRE_BYTES - WIRE_OVERHEAD
    return sum(max(len(packet), floor) for packet in batch) * 8 + len(batch) * WIRE_OVERHEAD * 8


def describe(bandwidth: float, probe_bits: int) -> str:
    """'10 Mbit/s on the wire: 14,880 probes/s of 84-byte frames'."""
    return (f"{human(bandwidth)}/s on the wire: {bandwidth / probe_bits:,.0f} probes/s of "
            f"{probe_bits // 8}-byte frames")


def human(bits: float) -> str:
    for unit, size in (("Gbit", 1e9), ("Mbit", 1e6), ("kbit", 1e3)):
        if bits >= size:
            return f"{bits / size:g} {unit}"
    return f"{bits:g} bit"
