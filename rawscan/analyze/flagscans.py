"""Pure: ACK, FIN, NULL and Xmas probes in a capture (nmap -sA/-sF/-sN/-sX, rawscan ack/fin/
null/xmas), with the states a live scan gives (rawscan/probes/tcp_flags.py's FLAG_SCANS).

Such a probe is a TCP segment without payload whose flags are exactly the scan's. A pure ACK
is also everyday traffic (a connection seen after its start, or idle past the flow window):
flows.py takes one as a probe only when no flow of its 4-tuple is known, and calls it ordinary
(the DATA flag) as soon as the other side sends anything but a RST on it. What a RST must echo
is what the target copies from the probe: an ACK probe's acknowledgement number as the RST's
sequence number; a FIN/NULL/Xmas probe's sequence number + its length as the RST's
acknowledgement number (FIN counts one). An ICMP error quoting a FIN/NULL/Xmas probe must quote
its sequence number; one about an ACK probe is matched by its 4-tuple (the flow keeps the
acknowledgement number, which an ICMP quote of 8 bytes does not hold).
"""

from __future__ import annotations

from ..probes.tcp_flags import FLAG_SCANS
from ..results import Evidence, Verdict
from .store import PROBED_ACK, PROBED_FIN, PROBED_NULL, PROBED_XMAS

FIN, ACK = 0x01, 0x10
SEQ_MASK = 0xFFFFFFFF
# probe flags (ECE/CWR cleared) -> the endpoint's flag, and its name in scanner summaries
KIND_OF = {ACK: PROBED_ACK, FIN: PROBED_FIN, 0: PROBED_NULL, FIN | 0x08 | 0x20: PROBED_XMAS}
SCAN_NAMES = ((PROBED_ACK, "ACK"), (PROBED_FIN, "FIN"), (PROBED_NULL, "NULL"), (PROBED_XMAS, "Xmas"))
_SCANS = {PROBED_ACK: "ack", PROBED_FIN: "fin", PROBED_NULL: "null", PROBED_XMAS: "xmas"}


def probe_kind(flags: int) -> int:
    """The PROBED_* flag of a segment with these TCP flags (packets.py took it as one)."""
    return KIND_OF[flags & 0x3F]


def expected_echo(kind: int, seq: int, ack: int) -> int:
    """What the flow keeps: the number a RST to this probe must carry."""
    if kind == PROBED_ACK:
        return ack
    return (seq + (1 if kind != PROBED_NULL else 0)) & SEQ_MASK


def rst_answers(kind: int, expected: int, flags: int, seq: int, ack: int) -> bool:
    """Does a RST carry what the target must have copied from the probe?"""
    if kind == PROBED_ACK:
        return seq == expected
    return bool(flags & ACK) and ack == expected


def quote_matches(kind: int, expected: int, quoted_seq: int) -> bool:
    """Does an ICMP error's quoted sequence number name the probe?"""
    if kind == PROBED_ACK:
        return True  # see the module's docstring
    return (quoted_seq + (1 if kind != PROBED_NULL else 0)) & SEQ_MASK == expected


def rst_verdict(kind: int, ttl: int) -> Verdict:
    return Verdict(FLAG_SCANS[_SCANS[kind]].rst_state, "reset", Evidence.RESPONSE, ttl)


def silence(kind: int) -> Verdict | None:
    """The verdict of a probe never answered, when it is not SYN's (filtered): open|filtered
    for FIN, NULL and Xmas probes."""
    if kind in (PROBED_FIN, PROBED_NULL, PROBED_XMAS):
        return Verdict("open|filtered", "no-response", Evidence.SILENCE)
    return None


def scan_names(flags_seen: int) -> list[str]:
    return [name for bit, name in SCAN_NAMES if flags_seen & bit]
