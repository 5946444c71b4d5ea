"""The per-packet flow matcher as it was before rawscan analyze read captures in batches
(one struct unpack and the whole decision per packet), kept unchanged as the oracle the
batch path is held to: tests/analyze/test_batches.py feeds both the same random captures and
requires the same observations, endpoint for endpoint. Since then it has learned one thing,
written here plainly: ACK, FIN, NULL and Xmas probes (rawscan/analyze/flagscans.py's rules)."""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Iterable

from rawscan.addresses import V6
from rawscan.analyze.flows import Observations, SeedCheck
from rawscan.analyze.store import (
    CONNECTED,
    DATA,
    FRAME_BITS,
    HALF_OPEN,
    REPLIED_UDP,
    SCANNER_SHIFT4,
    SCANNER_SHIFT6,
)
from rawscan.capture import CapturedPacket
from rawscan.classify import classify_icmp, classify_icmp6, classify_tcp, classify_udp_response
from rawscan.results import Evidence, Verdict
from rawscan.wire import IPV6_EXTENSIONS, LATER_FRAGMENT, ip_header, ip_icmp_error, ipv6_upper_layer

GENERATION_MAX = 1 << 17


class IntKeyedEndpoints:
    """The endpoint table as it was: endpoint_key ints -> rows, arrays grown by append."""

    def __init__(self) -> None:
        self.rows: dict[int, int] = {}
        self.verdict = array("H")
        self.flags = array("B")
        self.probes = array("I")
        self.probe_ref = array("Q")
        self.reply_ref = array("Q")

    def __len__(self) -> int:
        return len(self.verdict)


WINDOW = 30.0

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
SEQ_MASK = 0xFFFFFFFF
STAGE_SYNACK = 1 << 32  # flow stage bits above the 32-bit sequence number
STAGE_CONNECTED = 2 << 32
STAGES = 3 << 32  # both stage bits: an ACK/FIN/NULL/Xmas probe's flow
ROW_SHIFT = 36  # a TCP flow is row << 36 | flag kind << 34 | stage << 32 | probe sequence number
# flag probes: flags (ECE/CWR cleared) -> (kind code in the flow, PROBED_* flag, RST state)
FLAG_PROBES = {ACK: (0, 0x10, "unfiltered"), FIN: (1, 0x20, "closed"), 0: (2, 0x40, "closed"),
               FIN | 0x08 | 0x20: (3, 0x80, "closed")}
# Flow keys: src << FLOW_SHIFT | dst << 32 | sport << 16 | dport (an IPv6 dst takes 129 bits).
FLOW_SHIFT4, FLOW_SHIFT6 = 64, 161

# IPv4 header without options, then TCP or UDP: one unpack per packet.
_TCP20 = struct.Struct("!2xH4xBx2xIIHHIIBB")  # total len, ttl, src, dst, sport, dport, seq, ack, off, flags
_UDP20 = struct.Struct("!2xH4xBx2xIIHH")
_IP = struct.Struct("!2xH4xBx2xII")  # total len, ttl, src, dst: headers with options
_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HH")
_QUOTED = struct.Struct("!HHI")  # an ICMP error's quoted ports and sequence number
_IP6 = struct.Struct("!4xHBB16s16s")  # payload length, next header, hop limit, src, dst
_from_bytes = int.from_bytes


class ReferenceAnalyzer:
    """Feed it packets (one file after another: flows carry over); read .observations."""

    def __init__(self) -> None:
        self.observations = Observations(endpoints=IntKeyedEndpoints())  # type: ignore[arg-type]
        self._tcp: tuple[dict[int, int], dict[int, int]] = ({}, {})  # (current, previous)
        self._udp: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._horizon = float("-inf")  # capture time at which the generations turn over
        self._cache: dict[tuple[int, ...], int] = {}  # classifier inputs -> verdict code
        self._probe_sports: set[int] = set()  # source ports TCP probes came from
        self._flag_flows = 0

    def feed(
        self, packets: Iterable[CapturedPacket], file_no: int = 0,
        check: SeedCheck | None = None, tick: Callable[[int, int], None] | None = None,
    ) -> None:
        """Analyze packets; replies to `check`'s scanner must pass it; tick(packets, bytes of
        IP read from this file) is called every 65,536 packets.

        Exceptions from the iterator (a damaged capture) propagate after everything read
        before them has been taken into account.
        """
        obs = self.observations
        ep, st, verdicts = obs.endpoints, obs.stats, obs.verdicts
        erows, everdict, eflags, eprobes = ep.rows, ep.verdict, ep.flags, ep.probes
        eprobe_ref, ereply_ref = ep.probe_ref, ep.reply_ref
        add_verdict, add_flags, add_probes = everdict.append, eflags.append, eprobes.append
        add_probe_ref, add_reply_ref = eprobe_ref.append, ereply_ref.append
        probe_sports = self._probe_sports
        strength, table = verdicts.strength, verdicts.table
        source_row, last_seen = obs.sources.row, obs.sources.last
        tcp_new, tcp_old = self._tcp
        udp_new, udp_old = self._udp
        horizon = self._horizon
        cache = self._cache
        none: frozenset[int] = frozenset()
        tcp_checked = check.sources if check is not None and check.proto == "tcp" else none
        udp_checked = check.sources if check is not None and check.proto == "udp" else none
        tcp20, udp20, ip6 = _TCP20.unpack_from, _UDP20.unpack_from, _IP6.unpack_from
        extensions, upper_layer = IPV6_EXTENSIONS, ipv6_upper_layer
        file_base = file_no << FRAME_BITS
        last_src, srow = -1, -1
        seen = probes = retrans = matched = dups = unmatched = forged = ordinary = 0
        flag_flows = self._flag_flows
        ipv6 = frags = cut = 0
        nbytes = 0
        t = 0.0
        first_time = st.first_time

        def decide(row: int, code: int, ref: int) -> bool:
            """Keep the stronger verdict (Verdict.beats); True if this one decided."""
            cur = everdict[row]
            if cur == 0 or table[code].beats(table[cur]):  # type: ignore[union-attr]
                everdict[row] = code
                ereply_ref[row] = ref
                return True
            return False

        try:
            for pkt in packets:
                b = pkt.ip
                seen += 1
                n = len(b)
                nbytes += n
                if tick is not None and not seen & 0xFFFF:
                    tick(seen, nbytes)
                if n < 20:
                    if n and b[0] >> 4 == 6:
                        ipv6 += 1
                        cut += 1
                    continue
                version = b[0] >> 4
                if version == 4:
                    if b[6] & 0x1F or b[7]:  # fragment offset: no transport header here
                        frags += 1
                        continue
                    proto = b[9]
                    ihl = (b[0] & 0x0F) << 2
                    fs, es = FLOW_SHIFT4, SCANNER_SHIFT4
                elif version == 6:
                    # The whole IPv6 header here; the TCP/UDP branches below read only their own.
                    ipv6 += 1
                    if n < 40:
                        cut += 1
                        continue
                    plen, proto, ttl, src, dst = ip6(b)
                    src, dst = V6 | _from_bytes(src), V6 | _from_bytes(dst)
                    tot = plen + 40 if plen else 0  # 0 (a jumbogram): the captured length counts
                    ihl = 40
                    if proto in extensions:
                        proto, ihl = upper_layer(b, proto, 40)
                        if ihl < 0:
                            if ihl == LATER_FRAGMENT:
                                frags += 1
                            else:
                                cut += 1
                            continue
                    fs, es = FLOW_SHIFT6, SCANNER_SHIFT6
                else:
                    continue
                t = pkt.time
                if first_time is None:
                    first_time = t
                if t >= horizon:  # a new generation: flows idle for a whole window go
                    tcp_old, tcp_new = tcp_new, {}
                    udp_old, udp_new = udp_new, {}
                    horizon = t + WINDOW

                if proto == 6:
                    if n < ihl + 14 or ihl < 20:
                        cut += 1
                        continue
                    if ihl == 20:
                        tot, ttl, src, dst, sp, dp, seq, ack, off, flags = tcp20(b)
                    else:
                        if version == 4:  # with IP options (IPv6 headers are read above)
                            tot, ttl, src, dst = _IP.unpack_from(b)
                        sp, dp, seq, ack, off, flags = _TCP.unpack_from(b, ihl)

                    if flags & SYN and not flags & ACK:
                        # A probe: the first SYN of a flow, or a retransmission of it.
                        key = (src << fs) | (dst << 32) | (sp << 16) | dp
                        flow = tcp_new.get(key)
                        if flow is None:
                            flow = tcp_old.pop(key, None)
                        if flow is None:
                            # A bare SYN can also answer a pending probe (split handshake): it
                            # then goes to a port probes came from (a set lookup spares most
                            # SYNs the two dict lookups).
                            rflow = None
                            if dp in probe_sports:
                                rkey = (dst << fs) | (src << 32) | (dp << 16) | sp
                                rflow = tcp_new.get(rkey)
                                if rflow is None:
                                    rflow = tcp_old.get(rkey)
                            if (rflow is not None and (rflow & SEQ_MASK) != seq
                                    and rflow & STAGES != STAGES):  # a SYN answers no FIN probe
                                row = rflow >> ROW_SHIFT
                                if dst in tcp_checked and not check.valid(b, src, sp):  # type: ignore[union-attr]
                                    forged += 1
                                    continue
                                code = cache.get((SYN, ttl))
                                if code is None:
                                    code = cache[(SYN, ttl)] = verdicts.code(classify_tcp(SYN, ttl))
                                if decide(row, code, file_base | pkt.number):
                                    matched += 1
                                else:
                                    dups += 1
                                continue
                            probe_sports.add(sp)
                            ekey = (src << es) | (dst << 17) | dp
                            row = erows.get(ekey, -1)
                            if row < 0:  # a new endpoint: a row in every array
                                row = erows[ekey] = len(everdict)
                                add_verdict(0)
                                add_flags(0)
                                add_probes(0)
                                add_probe_ref(0)
                                add_reply_ref(0)
                            else:
                                retrans += 1
                        else:
                            row = flow >> ROW_SHIFT
                            retrans += 1
                        probes += 1
                        eprobes[row] += 1
                        if strength[everdict[row]] < 2:
                            eprobe_ref[row] = file_base | pkt.number
                        if len(tcp_new) >= GENERATION_MAX:
                            tcp_old, tcp_new = tcp_new, {}
                        tcp_new[key] = (row << ROW_SHIFT) | seq
                        if src != last_src:
                            last_src, srow = src, source_row(src, t)
                        if t > last_seen[srow]:
                            last_seen[srow] = t
                        continue

                    payload = (tot or n) - ihl - ((off >> 4) << 2) > 0
                    probe_flags = FLAG_PROBES.get(flags & 0x3F)
                    if not flags & (SYN | RST) and not payload and probe_flags is not None:
                        key = (src << fs) | (dst << 32) | (sp << 16) | dp
                        flow = tcp_new.get(key)
                        if flow is None:
                            flow = tcp_old.get(key)
                        if flow is None or flow & STAGES == STAGES:
                            # an ACK/FIN/NULL/Xmas probe (or a pure ACK of ordinary traffic)
                            code_of_kind, kind_flag, _state = probe_flags
                            if flow is None:
                                rkey = (dst << fs) | (src << 32) | (dp << 16) | sp
                                rflow = tcp_new.get(rkey)
                                if rflow is None:
                                    rflow = tcp_old.get(rkey)
                                if rflow is not None:
                                    if rflow & STAGES == STAGES:  # answered, not with a RST
                                        eflags[rflow >> ROW_SHIFT] |= DATA
                                        tcp_new.pop(rkey, None)
                                        tcp_old.pop(rkey, None)
                                    continue
                                ekey = (src << es) | (dst << 17) | dp
                                row = erows.get(ekey, -1)
                                if row < 0:
                                    row = erows[ekey] = len(everdict)
                                    add_verdict(0)
                                    add_flags(0)
                                    add_probes(0)
                                    add_probe_ref(0)
                                    add_reply_ref(0)
                                elif eflags[row] & (DATA | CONNECTED):
                                    continue  # an ordinary connection's late ACK: no probe
                                else:
                                    retrans += 1
                            else:
                                row = flow >> ROW_SHIFT
                                retrans += 1
                            flag_flows += 1
                            probes += 1
                            eprobes[row] += 1
                            eflags[row] |= kind_flag
                            if strength[everdict[row]] < 2:
                                eprobe_ref[row] = file_base | pkt.number
                            if everdict[row] == 0 and kind_flag != 0x10:
                                everdict[row] = verdicts.code(Verdict("open|filtered", "no-response",
                                                                      Evidence.SILENCE))
                            if len(tcp_new) >= GENERATION_MAX:
                                tcp_old, tcp_new = tcp_new, {}
                            echo = ack if kind_flag == 0x10 else (seq + (flags & FIN)) & SEQ_MASK
                            tcp_new[key] = (row << ROW_SHIFT) | code_of_kind << 34 | STAGES | echo
                            if src != last_src:
                                last_src, srow = src, source_row(src, t)
                            if t > last_seen[srow]:
                                last_seen[srow] = t
                            continue

                    if flags & (SYN | RST):
                        # A SYN-ACK or RST answering a probe: the reversed 4-tuple is pending.
                        rkey = (dst << fs) | (src << 32) | (dp << 16) | sp
                        flow = tcp_new.get(rkey)
                        if flow is None:
                            flow = tcp_old.pop(rkey, None)
                            if flow is not None:
                                tcp_new[rkey] = flow
                        if flow is not None and flow & STAGES == STAGES:
                            row = flow >> ROW_SHIFT
                            code_of_kind = flow >> 34 & 3
                            echo = flow & SEQ_MASK
                            ok = (seq == echo) if code_of_kind == 0 else bool(flags & ACK) and ack == echo
                            if not flags & RST or not ok:
                                unmatched += 1
                                continue
                            if dst in tcp_checked and not check.valid(b, src, sp):  # type: ignore[union-attr]
                                forged += 1
                                continue
                            state = ("unfiltered", "closed", "closed", "closed")[code_of_kind]
                            code = verdicts.code(Verdict(state, "reset", Evidence.RESPONSE, ttl))
                            if decide(row, code, file_base | pkt.number):
                                matched += 1
                            else:
                                dups += 1
                            continue
                        if flow is not None:
                            if flags & ACK and ack != ((flow & SEQ_MASK) + 1) & SEQ_MASK:
                                unmatched += 1  # acknowledges another probe: stale or forged
                                continue
                            row = flow >> ROW_SHIFT
                            if dst in tcp_checked and not check.valid(b, src, sp):  # type: ignore[union-attr]
                                forged += 1
                                continue
                            bits = flags & (SYN | RST | ACK)
                            code = cache.get((bits, ttl))
                            if code is None:
                                code = cache[(bits, ttl)] = verdicts.code(classify_tcp(bits, ttl))
                            if decide(row, code, file_base | pkt.number):
                                matched += 1
                            else:
                                dups += 1
                            if flags & SYN and not (flow & (3 << 32)):
                                tcp_new[rkey] = flow | STAGE_SYNACK
                            continue
                        if flags & SYN:
                            unmatched += 1
                            continue
                        # An RST answering nothing: maybe the scanner resetting its own flow.

                    # The initiator following up on a probe: completing the handshake,
                    # resetting it, or sending data (then this is an ordinary connection).
                    key = (src << fs) | (dst << 32) | (sp << 16) | dp
                    flow = tcp_new.get(key)
                    if flow is None:
                        flow = tcp_old.get(key)
                        if flow is None:
                            rkey = (dst << fs) | (src << 32) | (dp << 16) | sp
                            rflow = tcp_new.get(rkey)
                            if rflow is None:
                                rflow = tcp_old.get(rkey)
                            if flag_flows and rflow is not None and rflow & STAGES == STAGES:
                                eflags[rflow >> ROW_SHIFT] |= DATA  # an ACK "probe" answered
                                tcp_new.pop(rkey, None)
                                tcp_old.pop(rkey, None)
                            continue  # ordinary traffic past its start, or an unknown flow
                    row = flow >> ROW_SHIFT
                    stage = flow & (3 << 32)
                    if (tot or n) - ihl - ((off >> 4) << 2) > 0:  # payload: IP length, not caplen
                        eflags[row] |= DATA
                        ordinary += 1
                        tcp_new.pop(key, None)
                        tcp_old.pop(key, None)
                    elif flags & RST:
                        if stage == STAGE_SYNACK:
                            eflags[row] |= HALF_OPEN
                        tcp_new.pop(key, None)
                        tcp_old.pop(key, None)
                    elif flags & ACK and stage == STAGE_SYNACK:
                        eflags[row] |= CONNECTED
                        tcp_new[key] = (flow & ~(3 << 32)) | STAGE_CONNECTED
                    continue

                if proto == 17:
                    if n < ihl + 8 or ihl < 20:
                        cut += 1
                        continue
                    if ihl == 20:
                        tot, ttl, src, dst, sp, dp = udp20(b)
                    else:
                        if version == 4:
                            tot, ttl, src, dst = _IP.unpack_from(b)
                        sp, dp = _UDP.unpack_from(b, ihl)
                    rkey = (dst << fs) | (src << 32) | (dp << 16) | sp
                    row = udp_new.get(rkey, -1)
                    if row < 0:
                        row = udp_old.get(rkey, -1)
                    if row >= 0:  # a reply to a pending datagram
                        if dst in udp_checked and not check.valid(b, src, sp):  # type: ignore[union-attr]
                            forged += 1
                            continue
                        code = cache.get((17, ttl))
                        if code is None:
                            code = cache[(17, ttl)] = verdicts.code(classify_udp_response(ttl))
                        eflags[row] |= REPLIED_UDP
                        if decide(row, code, file_base | pkt.number):
                            matched += 1
                        else:
                            dups += 1
                        continue
                    key = (src << fs) | (dst << 32) | (sp << 16) | dp
                    row = udp_new.get(key, -1)
                    if row < 0:
                        row = udp_old.pop(key, -1)
                        if row >= 0:
                            udp_new[key] = row  # active again: keep it in the new generation
                    if row < 0:
                        ekey = (src << es) | (dst << 17) | 0x10000 | dp
                        row = erows.get(ekey, -1)
                        if row < 0:
                            row = erows[ekey] = len(everdict)
                            add_verdict(0)
                            add_flags(0)
                            add_probes(0)
                            add_probe_ref(0)
                            add_reply_ref(0)
                        else:
                            retrans += 1
                        if len(udp_new) >= GENERATION_MAX:
                            udp_old, udp_new = udp_new, {}
                        udp_new[key] = row
                    else:
                        retrans += 1
                    probes += 1
                    eprobes[row] += 1
                    if strength[everdict[row]] < 2:
                        eprobe_ref[row] = file_base | pkt.number
                    if src != last_src:
                        last_src, srow = src, source_row(src, t)
                    if t > last_seen[srow]:
                        last_seen[srow] = t
                    continue

                if (proto == 1 and version == 4 and n > ihl and b[ihl] in (3, 11)) or (
                    proto == 58 and version == 6 and n > ihl and 0 < b[ihl] < 5  # ICMPv6 errors
                ):
                    # An ICMP error: the packet it quotes names the probe's flow.
                    outer = ip_header(b)
                    error = ip_icmp_error(b, outer) if outer is not None else None
                    if error is None:
                        cut += 1
                        continue
                    quoted = error.quoted
                    qsp, qdp, qseq = _QUOTED.unpack_from(error.quoted_l4)
                    key = (quoted.src << fs) | (quoted.dst << 32) | (qsp << 16) | qdp
                    if quoted.proto == 6:
                        flows_new, flows_old, udp = tcp_new, tcp_old, 0
                    elif quoted.proto == 17:
                        flows_new, flows_old, udp = udp_new, udp_old, 1
                    else:
                        continue
                    flow = flows_new.get(key)
                    if flow is None:
                        flow = flows_old.get(key)
                    if flow is not None and not udp and flow & STAGES == STAGES:
                        kind = flow >> 34 & 3  # ACK probes: the 4-tuple; others: seq (+1 FIN)
                        quotes = kind == 0 or (qseq + (kind != 2)) & SEQ_MASK == flow & SEQ_MASK
                    else:
                        quotes = flow is not None and (udp or (flow & SEQ_MASK) == qseq)
                    if not quotes:
                        rkey = (quoted.dst << fs) | (quoted.src << 32) | (qdp << 16) | qsp
                        if rkey not in flows_new and rkey not in flows_old:
                            unmatched += 1  # (an error about a reply, e.g. the scanner's
                        continue  # kernel refusing it, is no news about the port)
                    row = flow if udp else flow >> ROW_SHIFT
                    if quoted.src in (udp_checked if udp else tcp_checked) and not check.valid(b, quoted.dst, qdp):  # type: ignore[union-attr]
                        forged += 1
                        continue
                    from_target = outer.src == quoted.dst  # type: ignore[union-attr]
                    ckey = (proto, udp, error.icmp_type, error.code, from_target, outer.ttl)  # type: ignore[union-attr]
                    code = cache.get(ckey)
                    if code is None:
                        classify = classify_icmp6 if proto == 58 else classify_icmp
                        verdict = classify(("tcp", "udp")[udp], error.icmp_type, error.code,
                                           from_target, outer.ttl)  # type: ignore[union-attr]
                        code = cache[ckey] = verdicts.code(verdict)
                    if code == 0:
                        continue  # an ICMP kind that says nothing about the port
                    if decide(row, code, file_base | pkt.number):
                        matched += 1
                    else:
                        dups += 1
        finally:
            self._tcp = (tcp_new, tcp_old)
            self._udp = (udp_new, udp_old)
            self._horizon = horizon
            self._flag_flows = flag_flows
            st.packets += seen
            st.ipv6 += ipv6
            st.fragments += frags
            st.cut += cut
            st.probes += probes
            st.retransmissions += retrans
            st.matched += matched
            st.duplicates += dups
            st.unmatched += unmatched
            st.forged += forged
            st.ordinary += ordinary
            st.first_time = first_time
            if seen and first_time is not None:
                st.last_time = t if st.last_time is None else max(st.last_time, t)
