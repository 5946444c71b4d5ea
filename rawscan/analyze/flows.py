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
from .flagscans import expected_echo, probe_kind, quote_matches, rst_answers, rst_verdict, silence
from .store import (
    CONNECTED,
    DATA,
    FRAME_BITS,
    HALF_OPEN,
    PROBED_ACK,
    PROBED_FIN,
    PROBED_NULL,
    PROBED_XMAS,
    REPLIED_UDP,
    Endpoints,
    Sources,
    Verdicts,
    reverse_key,
)

if TYPE_CHECKING:
    from ..capture import Capture
    from .batches import Columns
    from .packets import Parsed, Prepared
    from .pings import PingSweeps

WINDOW = 30.0  # seconds a flow waits for its reply (nmap gives up after 10 s by default)
GENERATION_MAX = 1 << 17  # flows per generation and protocol: at most 4 x 131,072 alive (~65 MB)

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
SEQ_MASK = 0xFFFFFFFF
STAGE_SYNACK = 1 << 32  # flow stage bits above the 32-bit sequence number
STAGE_CONNECTED = 2 << 32
STAGES = 3 << 32  # both bits: an ACK/FIN/NULL/Xmas probe's flow (analyze/flagscans.py)
KIND_SHIFT = 34  # ... whose kind (0-3: FLAG_KINDS) is here; its low 32 bits: the echo expected
ROW_SHIFT = 36  # a TCP flow is row << 36 | kind << 34 | stage << 32 | probe sequence number
FLAG_KINDS = (PROBED_ACK, PROBED_FIN, PROBED_NULL, PROBED_XMAS)  # by a flag flow's kind code
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
    pings: PingSweeps | None = None  # host discovery's sweeps (analyze/pings.py), when read


def _packet_columns(packets: list[CapturedPacket]) -> Columns:
    import numpy as np

    from .batches import Columns, _windows

    ips = [p.ip for p in packets]
    ends = np.cumsum(np.array([len(b) for b in ips], np.int64))
    buf = b"".join(ips)
    starts = ends - np.array([len(b) for b in ips], np.int64)
    return Columns(buf, starts, ends, np.array([p.number for p in packets], np.int64),
                   np.array([p.time for p in packets], np.float64), _windows(buf)[starts])


class _NoCheck(SeedCheck):
    """No scanner's replies are checked beyond the 4-tuple (no sidecar)."""

    proto = ""
    sources: frozenset[int] = frozenset()


NO_CHECK = _NoCheck()


class FlowAnalyzer:
    """Feed it packets (one file after another: flows carry over); read .observations.

    _match walks a batch's packets in order; each kind (packets.py's) but the TCP probe,
    which it matches itself, has its method (_reply, _follow, _datagram, _icmp_error), called
    with the packet's capture time and reference, that takes its fields from the kind's
    iterator. The flow state (two generations of flows per protocol) is in attributes."""

    def __init__(self) -> None:
        self.observations = obs = Observations()
        self._tcp_new: dict[bytes, int] = {}  # flow key -> row << ROW_SHIFT | stage | seq
        self._tcp_old: dict[bytes, int] = {}  # the previous generation
        self._udp_new: dict[bytes, int] = {}  # flow key -> row
        self._udp_old: dict[bytes, int] = {}
        self._horizon = float("-inf")  # capture time at which the generations turn over
        self._cache: dict[object, int] = {}  # classifier inputs -> verdict code
        self._probe_ports: Any = None  # numpy bool by port: source ports TCP probes came from
        self._file_last = 0.0  # time of the last packet of the file being read that counted
        self.on_columns: Callable[[Columns], None] | None = None  # each batch, e.g. pings.py
        self._flag_flows = 0  # ACK/FIN/NULL/Xmas probes seen: only then are their flows looked for
        # The batch being matched (set by _match): its fields, bytes and seed check.
        self._next_reply = self._next_follow = _nothing
        self._next_udp = self._next_icmp = self._next_flags = _nothing
        self._cols: Columns | None = None
        self._check: SeedCheck = NO_CHECK
        self._tcp_checked = self._udp_checked = NO_CHECK.sources
        self._last_src, self._srow = -1, -1  # the last probing source and its row
        # by kind (packets.py: SKIP, TIME, PROBE, ...): PROBE is matched in _match's loop
        self._handlers: tuple[Callable[[float, int], None] | None, ...] = (
            None, None, None, self._reply, self._follow, self._datagram, self._icmp_error,
            self._flag_probe)
        # The tables, which grow in place (bound once: the methods run per packet)
        ep = obs.endpoints
        self._erows, self._everdict, self._eflags = ep.index, ep.verdict, ep.flags
        self._eprobes, self._eprobe_ref, self._ereply_ref = ep.probes, ep.probe_ref, ep.reply_ref
        self._stats, self._verdicts = obs.stats, obs.verdicts
        self._strength, self._table = obs.verdicts.strength, obs.verdicts.table
        self._source_row, self._last_seen = obs.sources.row, obs.sources.last
        self._banners = obs.banners

    def flows_kept(self) -> int:
        """Flows remembered now, both protocols and generations (bounded: see above)."""
        return len(self._tcp_new) + len(self._tcp_old) + len(self._udp_new) + len(self._udp_old)

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
        self, prepared: Prepared, cols: Columns, check: SeedCheck | None,
        tick: Callable[[int, int], None] | None, done: list[int] | None,
    ) -> None:
        from .packets import fields

        st = self.observations.stats
        st.ipv6 += prepared.ipv6
        st.fragments += prepared.fragments
        st.cut += prepared.cut
        if self.on_columns is not None and cols is not None:
            self.on_columns(cols)
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

    def _match(self, parsed: Parsed, cols: Columns, check: SeedCheck | None) -> None:
        """The flow state, packet by packet (see packets.py for each kind's fields).

        A hot loop: a probe (a TCP SYN), which is most of any scan's packets, is matched
        here, with the state it touches in locals; every other kind goes to its method.
        (All kinds as methods cost 21% of the analysis pass: the commit that split them
        says how it was measured.) _datagram does for UDP probes what the PROBE branch
        does; tests/analyze/test_batches.py holds both to the reference matcher."""
        from .packets import FLAGS, FOLLOW, ICMP, PROBE, REPLY, UDP

        p = parsed
        kinds: list[int] = p.kinds
        times: list[float] = p.times
        if not kinds:
            return
        fields: list[Iterator[tuple[Any, ...]]] = p.fields
        next_probe = fields[PROBE].__next__
        self._next_reply, self._next_follow = fields[REPLY].__next__, fields[FOLLOW].__next__
        self._next_udp, self._next_icmp = fields[UDP].__next__, fields[ICMP].__next__
        self._next_flags = fields[FLAGS].__next__
        self._cols = cols
        self._check = check = check or NO_CHECK
        self._tcp_checked = check.sources if check.proto == "tcp" else NO_CHECK.sources
        self._udp_checked = check.sources if check.proto == "udp" else NO_CHECK.sources
        self._last_src = -1
        ep = self.observations.endpoints
        ep.reserve(p.new_rows)  # the batch's new endpoints take these rows by counting
        erows, everdict, eprobes, eprobe_ref = ep.index, ep.verdict, ep.probes, ep.probe_ref
        erows_setdefault = erows.setdefault
        strength = self._strength
        source_row, last_seen = self._source_row, self._last_seen
        st = self._stats
        if st.first_time is None:
            st.first_time = times[0]
        tcp_new, tcp_old = self._tcp_new, self._tcp_old
        tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
        handlers = self._handlers
        horizon = self._horizon
        generation_max = GENERATION_MAX
        row_shift = ROW_SHIFT
        last_src, srow = -1, -1
        probes = retrans = 0
        t = self._file_last
        try:
            for kind, t, ref in zip(kinds, times, p.frames):
                if t >= horizon:  # a new generation: flows idle for a whole window go
                    self._tcp_old, self._tcp_new = tcp_old, tcp_new = tcp_new, {}
                    self._udp_old, self._udp_new = self._udp_new, {}
                    tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
                    horizon = self._horizon = t + WINDOW
                if kind != PROBE:
                    handler = handlers[kind]
                    if handler is not None:  # (TIME: the clock only)
                        handler(t, ref)
                        if self._tcp_new is not tcp_new:  # _flag_probe turned a generation
                            tcp_new, tcp_old = self._tcp_new, self._tcp_old
                            tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
                    continue
                # The first SYN of a flow, or a retransmission of it.
                key, may_answer, seq, src, ekey, ttl = next_probe()
                flow = tcp_get(key)
                if flow is None:
                    flow = tcp_old_pop(key, None)
                if flow is None:
                    # A bare SYN can also answer a pending probe (split handshake): it then
                    # goes to a port probes came from (a flag by port spares most SYNs the
                    # two dict lookups: the flow exists only if a probe from that port
                    # made it).
                    if may_answer and self._split_handshake(key, seq, src, ttl, ref):
                        continue
                    n = len(erows)
                    row = erows_setdefault(ekey, n)
                    if row != n:
                        retrans += 1
                else:
                    row = flow >> row_shift
                    retrans += 1
                probes += 1
                eprobes[row] += 1
                if strength[everdict[row]] < 2:
                    eprobe_ref[row] = ref
                if len(tcp_new) >= generation_max:
                    self._tcp_old, self._tcp_new = tcp_old, tcp_new = tcp_new, {}
                    tcp_get, tcp_old_pop = tcp_new.get, tcp_old.pop
                tcp_new[key] = (row << row_shift) | seq
                if src != last_src:
                    last_src, srow = src, source_row(src, t)
                if t > last_seen[srow]:
                    last_seen[srow] = t
        finally:
            ep.trim(len(erows))
            st.probes += probes
            st.retransmissions += retrans
            self._file_last = t
            self._cols = None

    def _decide(self, row: int, code: int, ref: int) -> None:
        """Keep the stronger verdict (Verdict.beats): matched if this one decided."""
        everdict = self._everdict
        cur = everdict[row]
        table = self._table
        if cur == 0 or table[code].beats(table[cur]):  # type: ignore[union-attr]  # only code 0 has no verdict
            everdict[row] = code
            self._ereply_ref[row] = ref
            self._stats.matched += 1
        else:
            self._stats.duplicates += 1

    def _endpoint_row(self, ekey: bytes) -> int:
        """The row of an endpoint a probe went to: a new one (the next reserved row: rows
        are taken in order, so it is the count of endpoints so far), or a retransmission's."""
        erows = self._erows
        n = len(erows)
        row = erows.setdefault(ekey, n)
        if row != n:
            self._stats.retransmissions += 1
        return row

    def _probed(self, row: int, src: int, t: float, ref: int) -> None:
        """A probe to the endpoint in `row` from `src` at capture time t."""
        self._stats.probes += 1
        self._eprobes[row] += 1
        if self._strength[self._everdict[row]] < 2:
            self._eprobe_ref[row] = ref
        if src != self._last_src:
            self._last_src, self._srow = src, self._source_row(src, t)
        srow, last_seen = self._srow, self._last_seen
        if t > last_seen[srow]:
            last_seen[srow] = t

    def _forged(self, i: int, target: int, port: int) -> bool:
        """Does the reply in row i (to a checked scanner) fail the seed check? (counted)"""
        if self._check.valid(self._packet(i), target, port):
            return False
        self._stats.forged += 1
        return True

    def _packet(self, i: int) -> bytes:
        cols = self._cols
        assert cols is not None  # set while a batch is matched
        return cols.packet(i)

    def _split_handshake(self, key: bytes, seq: int, src: int, ttl: int, ref: int) -> bool:
        """A SYN answering a pending probe of the reversed flow: True if it was one."""
        rkey = reverse_key(key)
        rflow = self._tcp_new.get(rkey)
        if rflow is None:
            rflow = self._tcp_old.get(rkey)
        if rflow is None or (rflow & SEQ_MASK) == seq or rflow & STAGES == STAGES:
            return False  # (a SYN answers no ACK/FIN/NULL/Xmas probe)
        dst, sp = _address(key, 1), int.from_bytes(key[-4:-2], "big")
        if dst in self._tcp_checked and not self._check.valid(
                self._packet_at(ref), src, sp):
            self._stats.forged += 1
            return True
        code = self._cache.get(SYN << 8 | ttl)
        if code is None:
            code = self._cache[SYN << 8 | ttl] = self._verdicts.code(classify_tcp(SYN, ttl))
        self._decide(rflow >> ROW_SHIFT, code, ref)
        return True

    def _packet_at(self, ref: int) -> bytes:
        cols = self._cols
        assert cols is not None  # set while a batch is matched
        return cols.packet_at(ref & FRAME_MASK)

    def _reply(self, t: float, ref: int) -> None:
        """A SYN-ACK or RST answering a probe: the reversed 4-tuple is pending."""
        rkey, key, src, dst, sp, ack, flags, vkey, payload, i, rseq = self._next_reply()
        tcp_new = self._tcp_new
        flow = tcp_new.get(rkey)
        if flow is None:
            flow = self._tcp_old.pop(rkey, None)
            if flow is not None:
                tcp_new[rkey] = flow
        if flow is not None and flow & STAGES == STAGES:  # an ACK/FIN/NULL/Xmas probe's
            kind = FLAG_KINDS[flow >> KIND_SHIFT & 3]
            if not flags & RST or not rst_answers(kind, flow & SEQ_MASK, flags, rseq, ack):
                self._stats.unmatched += 1  # a SYN-ACK, or a RST echoing another probe
                return
            if dst in self._tcp_checked and self._forged(i, src, sp):
                return
            fkey = (kind, vkey & 0xFF)
            code = self._cache.get(fkey)
            if code is None:
                code = self._cache[fkey] = self._verdicts.code(rst_verdict(kind, vkey & 0xFF))
            self._decide(flow >> ROW_SHIFT, code, ref)
            return
        if flow is not None:
            if flags & ACK and ack != ((flow & SEQ_MASK) + 1) & SEQ_MASK:
                self._stats.unmatched += 1  # acknowledges another probe: stale or forged
                return
            if dst in self._tcp_checked and self._forged(i, src, sp):
                return
            cache = self._cache
            code = cache.get(vkey)
            if code is None:
                code = cache[vkey] = self._verdicts.code(classify_tcp(vkey >> 8, vkey & 0xFF))
            self._decide(flow >> ROW_SHIFT, code, ref)
            if flags & SYN and not (flow & STAGES):
                tcp_new[rkey] = flow | STAGE_SYNACK
            return
        if flags & SYN:
            self._stats.unmatched += 1
            return
        self._followed(key, flags, payload, ref)  # an RST answering nothing: maybe the
        # scanner resetting its own flow

    def _follow(self, t: float, ref: int) -> None:
        key, flags, payload = self._next_follow()
        self._followed(key, flags, payload, ref)

    def _followed(self, key: bytes, flags: int, payload: int, ref: int) -> None:
        """The initiator following up on a probe: completing the handshake, resetting it,
        or sending data (then this is an ordinary connection)."""
        flow = self._tcp_new.get(key)
        if flow is None:
            flow = self._tcp_old.get(key)
            if flow is None:
                if self._flag_flows and self._answered_without_reset(key):
                    return
                # ordinary traffic past its start, an unknown flow, or a server's data on a
                # connection a SYN-ACK opened (kept: analyze/banners.py)
                if payload and key in self._banners.talks:
                    self._banners.segment(key, self._packet_at(ref))
                return
        row = flow >> ROW_SHIFT
        stage = flow & STAGES
        if payload:  # the IP length says so, not the captured length
            self._eflags[row] |= DATA
            self._stats.ordinary += 1
            if stage:  # on an opened connection: the server's answer may be kept
                self._banners.listen(reverse_key(key), row)
            self._tcp_new.pop(key, None)
            self._tcp_old.pop(key, None)
        elif flags & RST:
            if stage == STAGE_SYNACK:
                self._eflags[row] |= HALF_OPEN
            self._tcp_new.pop(key, None)
            self._tcp_old.pop(key, None)
        elif flags & ACK and stage == STAGE_SYNACK:
            self._eflags[row] |= CONNECTED
            self._tcp_new[key] = (flow & ~STAGES) | STAGE_CONNECTED
            self._banners.listen(reverse_key(key), row)  # a server-first greeting may follow

    def _answered_without_reset(self, key: bytes) -> bool:
        """Is this segment the other side of an ACK/FIN/NULL/Xmas "probe" answering it with
        anything but a RST? Then that was ordinary traffic (a connection seen after its
        start): its endpoint is marked so and its flow let go."""
        rkey = reverse_key(key)
        rflow = self._tcp_new.get(rkey)
        if rflow is None:
            rflow = self._tcp_old.get(rkey)
        if rflow is None or rflow & STAGES != STAGES:
            return False
        self._eflags[rflow >> ROW_SHIFT] |= DATA
        self._tcp_new.pop(rkey, None)
        self._tcp_old.pop(rkey, None)
        return True

    def _flag_probe(self, t: float, ref: int) -> None:
        """An ACK, FIN, NULL or Xmas probe, or a pure ACK of ordinary traffic."""
        key, seq, ack, flags, src, ekey, ttl = self._next_flags()
        tcp_new, tcp_old = self._tcp_new, self._tcp_old
        flow = tcp_new.get(key)
        if flow is None:
            flow = tcp_old.get(key)
        if flow is not None and flow & STAGES != STAGES:
            self._followed(key, flags, 0, ref)  # a SYN's flow going on
            return
        if flow is None:
            rkey = reverse_key(key)
            if rkey in tcp_new or rkey in tcp_old:  # the other side of a known flow: no probe
                self._answered_without_reset(key)
                return
            erows = self._erows
            row = erows.get(ekey, -1)
            if row >= 0 and self._eflags[row] & (DATA | CONNECTED):
                return  # an ordinary connection's ACK after its flow was let go
            row = self._endpoint_row(ekey)
        else:
            row = flow >> ROW_SHIFT
            self._stats.retransmissions += 1
        kind = probe_kind(flags)
        self._flag_flows += 1
        self._eflags[row] |= kind
        if self._everdict[row] == 0 and kind != PROBED_ACK:  # never answered: open|filtered
            skey = ("silence", kind)
            code = self._cache.get(skey)
            if code is None:
                code = self._cache[skey] = self._verdicts.code(silence(kind))
            self._everdict[row] = code
        self._probed(row, src, t, ref)
        if len(tcp_new) >= GENERATION_MAX:
            self._tcp_old, self._tcp_new = tcp_old, tcp_new = tcp_new, {}
        tcp_new[key] = ((row << ROW_SHIFT) | FLAG_KINDS.index(kind) << KIND_SHIFT | STAGES
                        | expected_echo(kind, seq, ack))

    def _datagram(self, t: float, ref: int) -> None:
        """A datagram: a reply to a pending one (the reversed 4-tuple), else a probe."""
        rkey, key, src, dst, sp, vkey, ekey, i = self._next_udp()
        udp_new, udp_old = self._udp_new, self._udp_old
        row = udp_new.get(rkey, -1)
        if row < 0:
            row = udp_old.get(rkey, -1)
        if row >= 0:  # a reply to a pending datagram
            if dst in self._udp_checked and self._forged(i, src, sp):
                return
            code = self._cache.get(vkey)
            if code is None:
                code = self._cache[vkey] = self._verdicts.code(classify_udp_response(vkey & 0xFF))
            self._eflags[row] |= REPLIED_UDP
            self._decide(row, code, ref)
            return
        row = udp_new.get(key, -1)
        if row < 0:
            row = udp_old.pop(key, -1)
            if row >= 0:
                udp_new[key] = row  # active again: keep it in the new generation
        if row < 0:
            row = self._endpoint_row(ekey)
            if len(udp_new) >= GENERATION_MAX:
                self._udp_old, self._udp_new = udp_new, {}
            self._udp_new[key] = row
        else:
            self._stats.retransmissions += 1
        self._probed(row, src, t, ref)

    def _icmp_error(self, t: float, ref: int) -> None:
        """An ICMP(v6) error: the packet it quotes names the probe's flow."""
        udp, key, rkey, qseq, qsrc, qdst, qdp, vkey, arguments, i = self._next_icmp()
        if udp:
            flows_new, flows_old = self._udp_new, self._udp_old
        else:
            flows_new, flows_old = self._tcp_new, self._tcp_old
        flow = flows_new.get(key)
        if flow is None:
            flow = flows_old.get(key)
        if flow is None or (not udp and not _quotes(flow, qseq)):
            if rkey not in flows_new and rkey not in flows_old:
                self._stats.unmatched += 1  # (an error about a reply, e.g. the scanner's
            return  # kernel refusing it, is no news about the port)
        if qsrc in (self._udp_checked if udp else self._tcp_checked) and self._forged(i, qdst, qdp):
            return
        code = self._cache.get(vkey)
        if code is None:
            classify = classify_icmp6 if vkey[0] == 58 else classify_icmp
            code = self._cache[vkey] = self._verdicts.code(classify(*arguments))
        if code == 0:
            return  # an ICMP kind that says nothing about the port
        self._decide(flow if udp else flow >> ROW_SHIFT, code, ref)


def _nothing() -> tuple[Any, ...]:  # pragma: no cover - replaced before any packet is matched
    raise StopIteration


def _quotes(flow: int, quoted_seq: int) -> bool:
    """Does an ICMP error's quoted TCP sequence number name this flow's probe?"""
    if flow & STAGES == STAGES:
        return quote_matches(FLAG_KINDS[flow >> KIND_SHIFT & 3], flow & SEQ_MASK, quoted_seq)
    return (flow & SEQ_MASK) == quoted_seq


def _address(key: bytes, which: int) -> int:
    """Source (0) or destination (1) address of a flow key, as an addresses.py int."""
    from ..addresses import V6

    half = (len(key) - 4) >> 1
    value = int.from_bytes(key[which * half : (which + 1) * half], "big")
    return V6 | value if half == 16 else value

