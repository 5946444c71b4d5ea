"""One pass over captured IP packets: probes found, replies matched to them, verdicts kept.

A probe is a TCP SYN without ACK, or a UDP datagram that answers no earlier one; its flow is
the 4-tuple (scanner, target, sport, dport). A reply is found by the reversed 4-tuple and must
carry what the probe did: a SYN-ACK or RST-ACK acknowledges the probe's sequence number plus
one, an ICMP error quotes the probe's 4-tuple (and, for TCP, its sequence number). This works
for any tool's probes (nmap, masscan, zmap, hping3, Scapy, rawscan) with no knowledge of how
they chose their ports or cookies. The verdict comes from rawscan.classify, as in a live scan.

Memory. Endpoint verdicts are the output and are all kept (store.Endpoints, ~130 bytes each).
Flows are not: each is one entry in a dict, and the dicts are two generations: a flow unseen
for WINDOW seconds of capture time (or after GENERATION_MAX newer flows) is forgotten, so the
flow state is bounded by the probe rate, not by the file size. A reply later than that counts
as unmatched, as it would for the scanner itself, whose own timeout is far shorter.

Speed. Packets come in batches (rawscan.capture's, as numpy columns: batches.py). What a
packet is and the fields it carries depend on its bytes alone, so packets.py works them out
for a whole batch at once; the loop here only walks the flow state, which is sequential by
nature: flow keys are the header bytes of the 4-tuple, verdicts are cached by (flags, TTL),
and endpoint rows are allocated a batch ahead. No Scapy, no object per packet.

IPv6. Addresses are the tagged ints of rawscan.addresses, and both families share the loop:
IPv6 flow keys are 36 bytes against IPv4's 12, and endpoint keys shift the scanner's address
by a per-family amount (store.SCANNER_SHIFT*) so IPv4 keys keep their size and the families
never collide. ICMPv6 errors are classified by classify_icmp6, ICMP ones by classify_icmp.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..capture import CapturedPacket
from ..classify import classify_icmp, classify_icmp6, classify_tcp, classify_udp_response
from .banners import BannerKeeper
from .store import (
    CONNECTED,
    DATA,
    FRAME_BITS,
    HALF_OPEN,
    REPLIED_UDP,
    Endpoints,
    Sources,
    Verdicts,
)

if TYPE_CHECKING:
    from ..capture import Capture
    from .batches import Columns
    from .packets import Parsed, Prepared

WINDOW = 30.0  # seconds a flow waits for its reply (nmap gives up after 10 s by default)
GENERATION_MAX = 1 << 17  # flows per generation and protocol: at most 4 x 131,072 alive (~65 MB)

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
SEQ_MASK = 0xFFFFFFFF
STAGE_SYNACK = 1 << 32  # flow stage bits above the 32-bit sequence number
STAGE_CONNECTED = 2 << 32
STAGES = 3 << 32
ROW_SHIFT = 34  # a TCP flow is row << 34 | stage << 32 | probe sequence number
PACKETS_BATCH = 4096  # CapturedPackets taken together by feed()
FRAME_MASK = (1 << FRAME_BITS) - 1


class SeedCheck:
    """Validates replies to one scanner's probes beyond the 4-tuple (see sidecar.py)."""

    proto: str  # "tcp" or "udp": the probes this check knows
    sources: frozenset[int]  # the scanner addresses it applies to

    def valid(self, packet: bytes, target: int, port: int) -> bool:  # pragma: no cover
        raise NotImplementedError


@dataclass
class FlowStats:
    packets: int = 0  # IP packets read
    ipv6: int = 0  # of `packets`, IPv6 ones
    fragments: int = 0  # later fragments: no transport header
    cut: int = 0  # headers cut short by the snaplen (or malformed)
    probes: int = 0  # TCP SYNs and UDP datagrams opening or repeating a flow
    retransmissions: int = 0  # probes to an endpoint already probed
    matched: int = 0  # replies that decided (or upgraded) an endpoint's verdict
    duplicates: int = 0  # valid replies for an endpoint already decided as strongly
    unmatched: int = 0  # SYN-ACK, RST or ICMP error answering no probe seen (or a stale one)
    forged: int = 0  # failed the seed check of a rawscan capture's sidecar
    ordinary: int = 0  # TCP connections on which the initiator sent data
    first_time: float | None = None
    last_time: float | None = None


@dataclass
class Observations:
    """Everything one analysis learned; the report is built from this alone."""

    endpoints: Endpoints = field(default_factory=Endpoints)
    sources: Sources = field(default_factory=Sources)
    verdicts: Verdicts = field(default_factory=Verdicts)
    stats: FlowStats = field(default_factory=FlowStats)
    banners: BannerKeeper = field(default_factory=BannerKeeper)  # servers' first data


def _packet_columns(packets: list[CapturedPacket]) -> Columns:
    import numpy as np

    from .batches import Columns, _windows

    ips = [p.ip for p in packets]
    ends = np.cumsum(np.array([len(b) for b in ips], np.int64))
    buf = b"".join(ips)
    starts = ends - np.array([len(b) for b in ips], np.int64)
    return Columns(buf, starts, ends, np.array([p.number for p in packets], np.int64),
                   np.array([p.time for p in packets], np.float64), _windows(buf)[starts])


class FlowAnalyzer:
    """Feed it packets (one file after another: flows carry over); read .observations."""

    def __init__(self) -> None:
        self.observations = Observations()
        self._tcp: tuple[dict[bytes, int], dict[bytes, int]] = ({}, {})  # (current, previous)
        self._udp: tuple[dict[bytes, int], dict[bytes, int]] = ({}, {})
        self._horizon = float("-inf")  # capture time at which the generations turn over
        self._cache: dict[object, int] = {}  # classifier inputs -> verdict code
        self._probe_ports: Any = None  # numpy bool by port: source ports TCP probes came from
        self._file_last = 0.0  # time of the last packet of the file being read that counted

    def feed(
        self, packets: Iterable[CapturedPacket], file_no: int = 0,
        check: SeedCheck | None = None, tick: Callable[[int, int], None] | None = None,
    ) -> None:
        """Analyze packets; replies to `check`'s scanner must pass it; tick(packets, bytes of
        IP read from this file) is called every 65,536 packets.

        Exceptions from the iterator (a damaged capture) propagate after everything read
        before them has been taken into account.
        """
        it = iter(packets)
        done = self._start_file()
        try:
            while True:
                chunk: list[CapturedPacket] = []
                try:
                    chunk.extend(islice(it, PACKETS_BATCH))
                finally:  # what came before an exception counts
                    if chunk:
                        self.feed_columns(_packet_columns(chunk), file_no, check, tick, done)
                if len(chunk) < PACKETS_BATCH:
                    return
        finally:
            self._end_file(done)

    def feed_capture(
        self, capture: Capture, file_no: int = 0, check: SeedCheck | None = None,
        tick: Callable[[int, int], None] | None = None,
    ) -> None:
        """Analyze an open capture in its batches (the bulk path); CaptureDamaged propagates
        after every batch before the damage was taken into account."""
        from ..capture import CaptureDamaged
        from .batches import columns
        from .packets import prepare

        done = self._start_file()
        ports = self._ports()
        try:
            for batch in capture.batches:
                cols = columns(batch, capture.pcap)
                self._feed(prepare(cols, file_no << FRAME_BITS, ports), cols, check, tick, done)
        except CaptureDamaged as exc:
            raise exc.truncated(capture.path, done[0]) from None
        finally:
            capture.close()
            self._end_file(done)

    def _start_file(self) -> list[int]:
        self._file_last = 0.0
        return [0, 0]

    def _end_file(self, done: list[int]) -> None:
        # The capture time of the file's last packet, as a file's span ends there.
        st = self.observations.stats
        if done[0] and st.first_time is not None:
            last = self._file_last
            st.last_time = last if st.last_time is None else max(st.last_time, last)

    def _ports(self) -> Any:
        if self._probe_ports is None:
            import numpy as np

            self._probe_ports = np.zeros(1 << 16, bool)
        return self._probe_ports

    def feed_columns(
        self, cols: Columns, file_no: int = 0, check: SeedCheck | None = None,
        tick: Callable[[int, int], None] | None = None, done: list[int] | None = None,
    ) -> None:
        """One batch. `done`: [packets, IP bytes] of this file so far, for tick()."""
        from .packets import prepare

        self._feed(prepare(cols, file_no << FRAME_BITS, self._ports()), cols, check, tick, done)

    def _feed(
        self, prepared: Prepared, cols: Columns | None, check: SeedCheck | None,
        tick: Callable[[int, int], None] | None, done: list[int] | None,
    ) -> None:
        from .packets import fields

        st = self.observations.stats
        st.ipv6 += prepared.ipv6
        st.fragments += prepared.fragments
        st.cut += prepared.cut
        try:
            self._match(fields(prepared), cols, check)
        finally:
            st.packets += prepared.packets
            if done is not None:
                before = done[0]
                done[0] += prepared.packets
                done[1] += prepared.nbytes
                if tick is not None and done[0] >> 16 != before >> 16:
                    tick(done[0], done[1])

    def _match(self, parsed: Parsed, cols: Columns | None, check: SeedCheck | None) -> None:
        """The flow state, packet by packet (see packets.py for each kind's fields)."""
        from .packets import FOLLOW, ICMP, PROBE, REPLY, TIME, UDP, reverse_key

        p = parsed
        kinds: list[int] = p.kinds
        times: list[float] = p.times
        if not kinds:
            return
        fields: list[Iterator[tuple[Any, ...]]] = p.fields
        next_probe, next_reply, next_follow = fields[PROBE].__next__, fields[REPLY].__next__, fields[FOLLOW].__next__
        next_udp, next_icmp = fields[UDP].__next__, fields[ICMP].__next__
        obs = self.observations
        ep, st, verdicts = obs.endpoints, obs.stats, obs.verdicts
        erows, everdict, eflags, eprobes = ep.index, ep.verdict, ep.flags, ep.probes
        eprobe_ref, ereply_ref = ep.probe_ref, ep.reply_ref
        erows_get, erows_setdefault = erows.get, erows.setdefault
        row_shift = ROW_SHIFT
        # Rows for this batch's new endpoints exist ahead (trimmed at the end), so a new
        # endpoint costs a counter, not five appends.
        nrows = len(everdict)
        ahead: int = p.new_rows
        for column in (everdict, eflags, eprobes, eprobe_ref, ereply_ref):
            column.frombytes(bytes(ahead * column.itemsize))
        strength, table = verdicts.strength, verdicts.table
        source_row, last_seen = obs.sources.row, obs.sources.last
        tcp_new, tcp_old = self._tcp
        udp_new, udp_old = self._udp
        tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
        horizon = self._horizon
        generation_max = GENERATION_MAX
        cache = self._cache
        banners = obs.banners
        talks = banners.talks
        none: frozenset[int] = frozenset()
        tcp_checked = check.sources if check is not None and check.proto == "tcp" else none
        udp_checked = check.sources if check is not None and check.proto == "udp" else none
        last_src, srow = -1, -1
        probes = retrans = matched = dups = unmatched = forged = ordinary = 0
        t = self._file_last
        if st.first_time is None:
            st.first_time = times[0]

        def decide(row: int, code: int, ref: int) -> bool:
            """Keep the stronger verdict (Verdict.beats); True if this one decided."""
            cur = everdict[row]
            if cur == 0 or table[code].beats(table[cur]):  # type: ignore[union-attr]  # only code 0 has no verdict
                everdict[row] = code
                ereply_ref[row] = ref
                return True
            return False

        try:
            for kind, t, ref in zip(kinds, times, p.frames):
                if t >= horizon:  # a new generation: flows idle for a whole window go
                    tcp_old, tcp_new = tcp_new, {}
                    udp_old, udp_new = udp_new, {}
                    tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
                    horizon = t + WINDOW

                if kind == PROBE:
                    # The first SYN of a flow, or a retransmission of it.
                    key, may_answer, seq, src, ekey, ttl = next_probe()
                    flow = tcp_get(key)
                    if flow is None:
                        flow = tcp_old_pop(key, None)
                    if flow is None:
                        # A bare SYN can also answer a pending probe (split handshake): it
                        # then goes to a port probes came from (a flag by port spares most
                        # SYNs the two dict lookups: the flow exists only if a probe from
                        # that port made it).
                        if may_answer:
                            rkey = reverse_key(key)
                            rflow = tcp_new.get(rkey)
                            if rflow is None:
                                rflow = tcp_old.get(rkey)
                            if rflow is not None and (rflow & SEQ_MASK) != seq:
                                row = rflow >> ROW_SHIFT
                                dst, sp = _address(key, 1), int.from_bytes(key[-4:-2], "big")
                                if dst in tcp_checked and not check.valid(  # type: ignore[union-attr]  # tcp_checked is empty unless check is set
                                        cols.packet_at(ref & FRAME_MASK), src, sp):  # type: ignore[union-attr]  # cols: set with check
                                    forged += 1
                                    continue
                                code = cache.get(SYN << 8 | ttl)
                                if code is None:
                                    code = cache[SYN << 8 | ttl] = verdicts.code(classify_tcp(SYN, ttl))
                                if decide(row, code, ref):
                                    matched += 1
                                else:
                                    dups += 1
                                continue
                        row = erows_setdefault(ekey, nrows)
                        if row == nrows:  # a new endpoint
                            nrows += 1
                        else:
                            retrans += 1
                    else:
                        row = flow >> row_shift
                        retrans += 1
                    probes += 1
                    eprobes[row] += 1
                    if strength[everdict[row]] < 2:
                        eprobe_ref[row] = ref
                    if len(tcp_new) >= generation_max:
                        tcp_old, tcp_new = tcp_new, {}
                        tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
                    tcp_new[key] = (row << row_shift) | seq
                    if src != last_src:
                        last_src, srow = src, source_row(src, t)
                    if t > last_seen[srow]:
                        last_seen[srow] = t
                    continue

                if kind == TIME:
                    continue

                if kind == REPLY:
                    # A SYN-ACK or RST answering a probe: the reversed 4-tuple is pending.
                    rkey, key, src, dst, sp, ack, flags, vkey, payload, i = next_reply()
                    flow = tcp_get(rkey)
                    if flow is None:
                        flow = tcp_old_pop(rkey, None)
                        if flow is not None:
                            tcp_new[rkey] = flow
                    if flow is not None:
                        if flags & ACK and ack != ((flow & SEQ_MASK) + 1) & SEQ_MASK:
                            unmatched += 1  # acknowledges another probe: stale or forged
                            continue
                        row = flow >> ROW_SHIFT
                        if dst in tcp_checked and not check.valid(cols.packet(i), src, sp):  # type: ignore[union-attr]  # empty unless check
                            forged += 1
                            continue
                        code = cache.get(vkey)
                        if code is None:
                            code = cache[vkey] = verdicts.code(classify_tcp(vkey >> 8, vkey & 0xFF))
                        if decide(row, code, ref):
                            matched += 1
                        else:
                            dups += 1
                        if flags & SYN and not (flow & STAGES):
                            tcp_new[rkey] = flow | STAGE_SYNACK
                        continue
                    if flags & SYN:
                        unmatched += 1
                        continue
                    # An RST answering nothing: maybe the scanner resetting its own flow.
                elif kind == FOLLOW:
                    key, flags, payload = next_follow()
                elif kind == UDP:
                    rkey, key, src, dst, sp, vkey, ekey, i = next_udp()
                    row = udp_new.get(rkey, -1)
                    if row < 0:
                        row = udp_old.get(rkey, -1)
                    if row >= 0:  # a reply to a pending datagram
                        if dst in udp_checked and not check.valid(cols.packet(i), src, sp):  # type: ignore[union-attr]  # empty unless check
                            forged += 1
                            continue
                        code = cache.get(vkey)
                        if code is None:
                            code = cache[vkey] = verdicts.code(classify_udp_response(vkey & 0xFF))
                        eflags[row] |= REPLIED_UDP
                        if decide(row, code, ref):
                            matched += 1
                        else:
                            dups += 1
                        continue
                    row = udp_new.get(key, -1)
                    if row < 0:
                        row = udp_old.pop(key, -1)
                        if row >= 0:
                            udp_new[key] = row  # active again: keep it in the new generation
                    if row < 0:
                        row = erows_get(ekey, -1)
                        if row < 0:
                            row = erows[ekey] = nrows
                            nrows += 1
                        else:
                            retrans += 1
                        if len(udp_new) >= generation_max:
                            udp_old, udp_new = udp_new, {}
                        udp_new[key] = row
                    else:
                        retrans += 1
                    probes += 1
                    eprobes[row] += 1
                    if strength[everdict[row]] < 2:
                        eprobe_ref[row] = ref
                    if src != last_src:
                        last_src, srow = src, source_row(src, t)
                    if t > last_seen[srow]:
                        last_seen[srow] = t
                    continue
                else:  # ICMP: the packet an error quotes names the probe's flow
                    udp, key, rkey, qseq, qsrc, qdst, qdp, vkey, arguments, i = next_icmp()
                    if udp:
                        flows_new, flows_old = udp_new, udp_old
                    else:
                        flows_new, flows_old = tcp_new, tcp_old
                    flow = flows_new.get(key)
                    if flow is None:
                        flow = flows_old.get(key)
                    if flow is None or (not udp and (flow & SEQ_MASK) != qseq):
                        if rkey not in flows_new and rkey not in flows_old:
                            unmatched += 1  # (an error about a reply, e.g. the scanner's
                        continue  # kernel refusing it, is no news about the port)
                    row = flow if udp else flow >> ROW_SHIFT
                    if qsrc in (udp_checked if udp else tcp_checked) and not check.valid(cols.packet(i), qdst, qdp):  # type: ignore[union-attr]  # empty unless check
                        forged += 1
                        continue
                    code = cache.get(vkey)
                    if code is None:
                        classify = classify_icmp6 if vkey[0] == 58 else classify_icmp
                        code = cache[vkey] = verdicts.code(classify(*arguments))
                    if code == 0:
                        continue  # an ICMP kind that says nothing about the port
                    if decide(row, code, ref):
                        matched += 1
                    else:
                        dups += 1
                    continue

                # The initiator following up on a probe: completing the handshake,
                # resetting it, or sending data (then this is an ordinary connection).
                flow = tcp_get(key)
                if flow is None:
                    flow = tcp_old.get(key)
                    if flow is None:
                        # ordinary traffic past its start, an unknown flow, or a server's
                        # data on a connection a SYN-ACK opened (kept: analyze/banners.py)
                        if payload and key in talks and cols is not None:
                            banners.segment(key, cols.packet_at(ref & FRAME_MASK))
                        continue
                row = flow >> ROW_SHIFT
                stage = flow & STAGES
                if payload:  # the IP length says so, not the captured length
                    eflags[row] |= DATA
                    ordinary += 1
                    if stage:  # on an opened connection: the server's answer may be kept
                        banners.listen(reverse_key(key), row)
                    tcp_new.pop(key, None)
                    tcp_old.pop(key, None)
                elif flags & RST:
                    if stage == STAGE_SYNACK:
                        eflags[row] |= HALF_OPEN
                    tcp_new.pop(key, None)
                    tcp_old.pop(key, None)
                elif flags & ACK and stage == STAGE_SYNACK:
                    eflags[row] |= CONNECTED
                    tcp_new[key] = (flow & ~STAGES) | STAGE_CONNECTED
                    banners.listen(reverse_key(key), row)  # a server-first greeting may follow
        finally:
            for column in (everdict, eflags, eprobes, eprobe_ref, ereply_ref):
                del column[nrows:]
            self._tcp = (tcp_new, tcp_old)
            self._udp = (udp_new, udp_old)
            self._horizon = horizon
            st.probes += probes
            st.retransmissions += retrans
            st.matched += matched
            st.duplicates += dups
            st.unmatched += unmatched
            st.forged += forged
            st.ordinary += ordinary
            self._file_last = t


def _address(key: bytes, which: int) -> int:
    """Source (0) or destination (1) address of a flow key, as an addresses.py int."""
    from ..addresses import V6

    half = (len(key) - 4) >> 1
    value = int.from_bytes(key[which * half : (which + 1) * half], "big")
    return V6 | value if half == 16 else value

