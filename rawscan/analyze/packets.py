"""Pure, per batch: what kind of packet each one is for the flow matching, and the fields
that kind needs, parsed from bytes alone (no flow state).

The usual packet (IPv4 without options, not a fragment, TCP or UDP header whole) is parsed
for the whole batch at once with numpy from fixed offsets; flow keys come out as bytes
(the 4-tuple as it sits in the header: src, dst, sport, dport), so no per-packet Python
arithmetic builds them. Every other packet (IPv6, IP options, ICMP errors, fragments, cut
headers) is parsed one at a time by `_parse_one` into the same fields: its keys are built
the same way from the same header bytes, so both paths meet in one flow table.

Kinds, in the order flows.py tests them:
  PROBE   TCP SYN without ACK          (key, may answer, seq, src, endpoint key, ttl): "may
          answer" when its destination port is one a TCP probe came from (a split handshake)
  TIME    reaches the capture clock but is nothing else (cut after the IP header, other
          protocols, ICMP that is not an error)
  REPLY   TCP SYN-ACK, RST (any with SYN or RST that is not a probe)
          (reversed key, key, src, dst, sport, ack, flags, verdict key, payload, index, seq)
  FOLLOW  any other TCP segment        (key, flags, payload)
  UDP     any UDP datagram             (reversed key, key, src, dst, sport, verdict key,
                                        endpoint key, index)
  ICMP    an ICMP(v6) error quoting TCP or UDP (see _icmp)
  FLAGS   TCP without payload whose flags are exactly an ACK, FIN, NULL or Xmas (FIN PSH URG)
          probe's (nmap -sA/-sF/-sN/-sX): (key, seq, ack, flags, src, endpoint key, ttl).
          A pure ACK is also ordinary traffic: flows.py tells them apart by the flow state
SKIP packets (shorter than an IP header, later fragments, unknown versions) never reach the
clock. `index` is the packet's row in the batch, for the rare paths that need its bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..addresses import V6, V6_MASK
from ..wire import IPV6_EXTENSIONS, LATER_FRAGMENT, ip_header, ip_icmp_error, ipv6_upper_layer
from .batches import Columns
from .store import endpoint_bytes, reverse_key

SKIP, TIME, PROBE, REPLY, FOLLOW, UDP, ICMP, FLAGS = range(8)
KINDS = 8
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
PROBE_FLAGS = (ACK, FIN, 0, FIN | 0x08 | 0x20)  # ACK, FIN, NULL, Xmas; ECE/CWR ignored
_PROBE_FLAG_TABLE = np.zeros(256, bool)
_PROBE_FLAG_TABLE[[f | ec for f in PROBE_FLAGS for ec in (0, 0x40, 0x80, 0xC0)]] = True
UDP_VERDICT = 0x10000  # verdict cache keys: TCP (flags << 8 | ttl) below, UDP (this | ttl)

# The IPv4 + TCP/UDP header fields at fixed offsets (no IP options), read from each row.
_FIELDS = np.dtype({
    "names": ["vihl", "tot", "frag", "ttl", "proto", "src", "dst", "key", "sp", "dp",
              "seq", "ack", "off", "flags"],
    "formats": ["u1", ">u2", ">u2", "u1", "u1", ">u4", ">u4", "V12", ">u2", ">u2",
                ">u4", ">u4", "u1", "u1"],
    "offsets": [0, 2, 6, 8, 9, 12, 16, 12, 20, 22, 24, 28, 32, 33],
    "itemsize": 64,
})
_REVERSED = np.array([16, 17, 18, 19, 12, 13, 14, 15, 22, 23, 20, 21])  # dst, src, dport, sport

_TCP20 = struct.Struct("!2xH4xBx2xIIHHIIBB")  # total len, ttl, src, dst, sport, dport, seq, ack, off, flags
_UDP20 = struct.Struct("!2xH4xBx2xIIHH")
_IP = struct.Struct("!2xH4xBx2xII")  # total len, ttl, src, dst: headers with options
_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HH")
_QUOTED = struct.Struct("!HHI")  # an ICMP error's quoted ports and sequence number
_IP6 = struct.Struct("!4xHBB16s16s")  # payload length, next header, hop limit, src, dst
_from_bytes = int.from_bytes


@dataclass
class Prepared:
    """One batch, classified, as arrays: the kinds, times and frames of the packets that reach the clock (SKIP ones
    are counted and left out), and per kind its bulk-parsed fields (columns, in the order
    the kind's tuple has them) and its one-at-a-time ones ((row, tuple) pairs)."""

    kinds: np.ndarray
    times: np.ndarray
    frames: np.ndarray
    chosen: list[np.ndarray]  # by kind: the bulk-parsed rows
    columns: list[list[np.ndarray]]  # by kind
    slow: list[list[tuple[int, tuple[Any, ...]]]]  # by kind
    packets: int = 0  # every IP packet of the batch
    nbytes: int = 0  # their IP bytes
    ipv6: int = 0
    fragments: int = 0
    cut: int = 0
    new_rows: int = 0  # at most this many new endpoints (probes and datagrams)


@dataclass
class Parsed:
    """A Prepared batch as the matcher walks it: lists, and per kind an iterator of tuples."""

    kinds: list[int]
    times: list[float]
    frames: list[int]
    fields: list[Iterator[tuple[Any, ...]]]  # by kind
    packets: int
    nbytes: int
    new_rows: int


def flow_key(src: int, dst: int, sport: int, dport: int) -> bytes:
    """The 4-tuple as its header bytes: src, dst (4 or 16 bytes each), sport, dport."""
    if src >= V6:
        return ((src & V6_MASK) << 128 | (dst & V6_MASK)).to_bytes(32, "big") + (sport << 16 | dport).to_bytes(4, "big")
    return (src << 32 | dst).to_bytes(8, "big") + (sport << 16 | dport).to_bytes(4, "big")


def parse(cols: Columns, frame_base: int, probe_ports: np.ndarray) -> Parsed:
    return fields(prepare(cols, frame_base, probe_ports))


def prepare(cols: Columns, frame_base: int, probe_ports: np.ndarray) -> Prepared:
    """Classify every packet of the batch; frames are frame_base | frame number.
    probe_ports (bool, by port) gets the source ports of the batch's TCP probes marked
    first: a probe "may answer" if its destination port is marked (a superset of the ports
    earlier probes came from, which is all the matcher needs to skip the reverse lookup)."""
    rows = cols.rows
    n = len(cols)
    lengths = cols.ends - cols.starts
    f = rows.view(_FIELDS)[:, 0]
    vihl, proto = f["vihl"], f["proto"]
    tcp = proto == 6
    fast = ((vihl == 0x45) & (lengths >= 20) & ((f["frag"] & 0x1FFF) == 0)
            & ((tcp & (lengths >= 34)) | ((proto == 17) & (lengths >= 28))))
    flags = f["flags"]
    kinds = np.full(n, UDP, np.int8)
    syn, ack = (flags & SYN) != 0, (flags & ACK) != 0
    kinds[tcp] = FOLLOW
    kinds[tcp & (flags & (SYN | RST) != 0)] = REPLY
    kinds[tcp & syn & ~ack] = PROBE
    tot = f["tot"].astype(np.int64)
    payload = (np.where(tot > 0, tot, lengths) - 20 - ((f["off"] >> 4).astype(np.int64) << 2)) > 0
    kinds[tcp & _PROBE_FLAG_TABLE[flags] & ~payload] = FLAGS
    kinds[~fast] = SKIP  # until _parse_one says
    slow = np.flatnonzero(~fast).tolist()

    empty = np.zeros(0, np.int8)
    prepared = Prepared(empty, empty, empty, [], [], [[] for _ in range(KINDS)],
                        packets=n, nbytes=int(lengths.sum()))
    slow_fields = prepared.slow
    if slow:
        buf, starts, ends = cols.buf, cols.starts.tolist(), cols.ends.tolist()
        for i in slow:
            kind, values = _parse_one(buf[starts[i] : ends[i]], i, prepared)
            kinds[i] = kind
            if values is not None:
                slow_fields[kind].append((i, values))

    live = kinds != SKIP
    prepared.kinds = kinds[live]
    prepared.times = cols.times[live]
    prepared.frames = (frame_base | cols.numbers)[live]
    prepared.new_rows = int(np.count_nonzero((kinds == PROBE) | (kinds == UDP) | (kinds == FLAGS)))
    probe_ports[f["sp"][fast & (kinds == PROBE)]] = True
    slow_probes = slow_fields[PROBE]
    if slow_probes:
        probe_ports[[values[1] for _i, values in slow_probes]] = True
        slow_fields[PROBE] = [(i, (key, bool(probe_ports[dp]), seq, src, ekey, ttl))
                              for i, (key, _sp, dp, seq, src, ekey, ttl) in slow_probes]
    for kind in range(KINDS):
        chosen = np.flatnonzero(fast & (kinds == kind)) if kind >= PROBE else np.zeros(0, np.int64)
        prepared.chosen.append(chosen)
        prepared.columns.append(_fast_columns(kind, f, rows, chosen, lengths, probe_ports) if len(chosen) else [])
    return prepared


def fields(prepared: Prepared) -> Parsed:
    """The lists and tuples the matcher walks."""
    its = []
    for chosen, columns, slow in zip(prepared.chosen, prepared.columns, prepared.slow):
        bulk = zip(*[c.tolist() for c in columns]) if columns else iter(())
        its.append(_in_order(chosen, bulk, slow))
    return Parsed(prepared.kinds.tolist(), prepared.times.tolist(), prepared.frames.tolist(), its,
                  prepared.packets, prepared.nbytes, prepared.new_rows)


def _fast_columns(kind: int, f: np.ndarray, rows: np.ndarray, chosen: np.ndarray, lengths: np.ndarray,
                  probe_ports: np.ndarray) -> list[np.ndarray]:
    """The kind's fields for the bulk-parsed rows `chosen`, one array per tuple position."""
    def take(name: str) -> np.ndarray:
        column: np.ndarray = f[name][chosen]
        return column

    key = take("key")
    if kind == FLAGS:
        picked = rows[chosen]
        ends = np.empty((len(chosen), 11), np.uint8)
        ends[:, :8] = picked[:, 12:20]
        ends[:, 8] = 0
        ends[:, 9:] = picked[:, 22:24]
        return [key, take("seq"), take("ack"), take("flags"), take("src"),
                ends.view("V11")[:, 0], take("ttl")]
    if kind == PROBE or kind == UDP:
        picked = rows[chosen]
        ends = np.empty((len(chosen), 11), np.uint8)  # endpoint_bytes: src, dst, udp, dport
        ends[:, :8] = picked[:, 12:20]
        ends[:, 8] = kind == UDP
        ends[:, 9:] = picked[:, 22:24]
        ekey = ends.view("V11")[:, 0]
        if kind == PROBE:
            return [key, probe_ports[take("dp")], take("seq"), take("src"), ekey, take("ttl")]
        rkey = np.ascontiguousarray(picked[:, _REVERSED]).view("V12")[:, 0]
        verdict = take("ttl").astype(np.int64) | UDP_VERDICT
        return [rkey, key, take("src"), take("dst"), take("sp"), verdict, ekey, chosen]
    flags = take("flags")
    tot = take("tot")
    payload = (np.where(tot > 0, tot, lengths[chosen]).astype(np.int64)
               - 20 - ((take("off") >> 4).astype(np.int64) << 2)) > 0
    if kind == FOLLOW:
        return [key, flags, payload]
    rkey = np.ascontiguousarray(rows[chosen][:, _REVERSED]).view("V12")[:, 0]
    verdict = (flags & (SYN | RST | ACK)).astype(np.int64) << 8 | take("ttl")
    return [rkey, key, take("src"), take("dst"), take("sp"), take("ack"), flags, verdict, payload, chosen,
            take("seq")]


def _in_order(chosen: np.ndarray, fast: Iterator[tuple[Any, ...]],
              slow: list[tuple[int, tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
    """The kind's fields in packet order: the bulk-parsed and the one-at-a-time ones merged."""
    if not slow:
        return fast
    if not len(chosen):
        return iter([values for _i, values in slow])
    order = np.argsort(np.concatenate([chosen, np.array([i for i, _v in slow])]), kind="stable")
    both = list(fast) + [values for _i, values in slow]
    return iter([both[j] for j in order.tolist()])


def _parse_one(b: bytes, i: int, parsed: Prepared) -> tuple[int, tuple[Any, ...] | None]:
    """One packet the bulk parser does not take: its kind and fields (counters on `parsed`)."""
    n = len(b)
    if n < 20:
        if n and b[0] >> 4 == 6:
            parsed.ipv6 += 1
            parsed.cut += 1
        return SKIP, None
    version = b[0] >> 4
    if version == 4:
        if b[6] & 0x1F or b[7]:  # fragment offset: no transport header here
            parsed.fragments += 1
            return SKIP, None
        proto = b[9]
        ihl = (b[0] & 0x0F) << 2
    elif version == 6:
        parsed.ipv6 += 1
        if n < 40:
            parsed.cut += 1
            return SKIP, None
        plen, proto, ttl, src6, dst6 = _IP6.unpack_from(b)
        src, dst = V6 | _from_bytes(src6), V6 | _from_bytes(dst6)
        tot = plen + 40 if plen else 0  # 0 (a jumbogram): the captured length counts
        ihl = 40
        if proto in IPV6_EXTENSIONS:
            proto, ihl = ipv6_upper_layer(b, proto, 40)
            if ihl < 0:
                if ihl == LATER_FRAGMENT:
                    parsed.fragments += 1
                else:
                    parsed.cut += 1
                return SKIP, None
    else:
        return SKIP, None

    if proto == 6:
        if n < ihl + 14 or ihl < 20:
            parsed.cut += 1
            return TIME, None
        if ihl == 20:
            tot, ttl, src, dst, sp, dp, seq, ack, off, flags = _TCP20.unpack_from(b)
        else:
            if version == 4:  # with IP options (IPv6 headers are read above)
                tot, ttl, src, dst = _IP.unpack_from(b)
            sp, dp, seq, ack, off, flags = _TCP.unpack_from(b, ihl)
        key = flow_key(src, dst, sp, dp)
        if flags & SYN and not flags & ACK:
            return PROBE, (key, sp, dp, seq, src, endpoint_bytes(src, dst, 0, dp), ttl)  # see prepare()
        payload = (tot or n) - ihl - ((off >> 4) << 2) > 0  # payload: IP length, not caplen
        if flags & (SYN | RST):
            verdict = (flags & (SYN | RST | ACK)) << 8 | ttl
            return REPLY, (reverse_key(key), key, src, dst, sp, ack, flags, verdict, payload, i, seq)
        if not payload and _PROBE_FLAG_TABLE[flags]:
            return FLAGS, (key, seq, ack, flags, src, endpoint_bytes(src, dst, 0, dp), ttl)
        return FOLLOW, (key, flags, payload)

    if proto == 17:
        if n < ihl + 8 or ihl < 20:
            parsed.cut += 1
            return TIME, None
        if ihl == 20:
            tot, ttl, src, dst, sp, dp = _UDP20.unpack_from(b)
        else:
            if version == 4:
                tot, ttl, src, dst = _IP.unpack_from(b)
            sp, dp = _UDP.unpack_from(b, ihl)
        key = flow_key(src, dst, sp, dp)
        return UDP, (reverse_key(key), key, src, dst, sp, UDP_VERDICT | ttl,
                     endpoint_bytes(src, dst, 1, dp), i)

    if (proto == 1 and version == 4 and n > ihl and b[ihl] in (3, 11)) or (
        proto == 58 and version == 6 and n > ihl and 0 < b[ihl] < 5  # ICMPv6 errors
    ):
        return _icmp(b, proto, i, parsed)
    return TIME, None


def _icmp(b: bytes, proto: int, i: int, parsed: Prepared) -> tuple[int, tuple[Any, ...] | None]:
    """An ICMP error: the packet it quotes names the probe's flow. Fields: (udp, quoted key,
    its reverse, quoted seq, quoted src, quoted dst, quoted dport, verdict key, classifier
    arguments, index)."""
    outer = ip_header(b)
    error = ip_icmp_error(b, outer) if outer is not None else None
    if outer is None or error is None:
        parsed.cut += 1
        return TIME, None
    quoted = error.quoted
    if quoted.proto == 6:
        udp = 0
    elif quoted.proto == 17:
        udp = 1
    else:
        return TIME, None
    qsp, qdp, qseq = _QUOTED.unpack_from(error.quoted_l4)
    key = flow_key(quoted.src, quoted.dst, qsp, qdp)
    from_target = outer.src == quoted.dst
    verdict = (proto, udp, error.icmp_type, error.code, from_target, outer.ttl)
    arguments = (("tcp", "udp")[udp], error.icmp_type, error.code, from_target, outer.ttl)
    return ICMP, (udp, key, reverse_key(key), qseq, quoted.src, quoted.dst, qdp, verdict, arguments, i)
