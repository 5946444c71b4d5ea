"""The endpoints in report order (scanner, target, protocol, port) as numpy columns, and what
the report needs from them in bulk: the scanner summaries, which hosts answered nothing, and
the JSON Lines records. Building an object per endpoint cost more than reading the capture
(a /16 sweep has half a million endpoints); objects are made only for the hosts a table
shows, or for the formats with fixed columns (XML, grepable, CSV).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from bisect import bisect_left
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..addresses import V6, addr_to_str
from ..ports import port_class
from ..results import PortResult, Verdict
from ..services import service_name
from .flows import Observations
from .report import SILENCE, ObservedPort
from .scanners import SourceSummary, scan_kinds
from .store import DATA, FRAME_BITS, PROBED_FLAGS, PROTO_NAMES, REPLIED_UDP

if TYPE_CHECKING:
    from ..banners.grab import Grab

R = TypeVar("R", bound=PortResult)
_FRAME_MASK = (1 << FRAME_BITS) - 1
_V4_KEY = np.dtype([("scanner", ">u4"), ("target", ">u4"), ("udp", "u1"), ("port", ">u2")])
_V6_KEY = np.dtype([("s_hi", ">u8"), ("s_lo", ">u8"), ("t_hi", ">u8"), ("t_lo", ">u8"),
                    ("udp", "u1"), ("port", ">u2")])


@dataclass
class Ordered:
    """Endpoint i of the report: scanner addresses[scanner[i]], target targets[target[i]]
    (target indices grow along the order, one per (scanner, host)), protocol udp[i], port
    port[i]; its row in the observation arrays is row[i]. Sources are the runs of one scanner."""

    obs: Observations
    addresses: list[int]  # scanner addresses, in order
    bounds: list[tuple[int, int]]  # per scanner: its endpoints are [start, stop)
    targets: list[int]  # one per (scanner, host) run, in order
    target: np.ndarray  # int32: index into targets
    udp: np.ndarray  # uint8
    port: np.ndarray  # uint16
    row: np.ndarray  # int32
    code: np.ndarray  # int32: verdict code (0: silence)
    host_starts: np.ndarray  # int64: where each target's run begins
    grabs: dict[int, Grab] = field(default_factory=dict)  # by row: what the server said
    grab_at: list[int] = field(default_factory=list)  # sorted: the endpoints (i) with a grab

    def with_banners(self, out: list[R], start: int, stop: int) -> list[R]:
        """out (endpoints [start, stop)) with what their servers said in the capture: a
        bisection per call, so hosts without banners cost nothing more."""
        at = self.grab_at
        i = bisect_left(at, start)
        if i == len(at) or at[i] >= stop:
            return out
        from ..banners.phase import enriched

        for endpoint in at[i:bisect_left(at, stop, i)]:
            row = int(self.row[endpoint])
            out[endpoint - start] = enriched(out[endpoint - start], self.grabs[row])  # type: ignore[assignment]  # dataclasses.replace keeps R's class
        return out

    def __len__(self) -> int:
        return len(self.row)


def order_endpoints(obs: Observations, consume: bool = False) -> Ordered:
    """Sort the endpoints into report order (the flow tables should be gone by now: this
    takes ~20 bytes an endpoint while it works, ~13 once done). consume: empty the key
    index once its keys are copied out (the report needs only the columns and the arrays;
    the index is the largest thing in memory, so the peak stays that of the reading)."""
    index = obs.endpoints.index
    n = len(index)
    rows = np.fromiter(index.values(), np.int32, n)
    lengths = {len(k) for k in index}  # one family in almost every capture
    # Keys copied out by fromiter (bytes.join would take 80 bytes a key of buffer records).
    if len(lengths) <= 1:
        size = 35 if lengths == {35} else 11
        joined = [np.fromiter(index, f"S{size}", n)]
        versions = [4 if size == 11 else 6]
        picked = [rows]
    else:
        is4 = np.fromiter((len(k) == 11 for k in index), bool, n)
        joined = [np.fromiter((k for k in index if len(k) == 11), "S11", int(is4.sum())),
                  np.fromiter((k for k in index if len(k) == 35), "S35", n - int(is4.sum()))]
        versions, picked = [4, 6], [rows[is4], rows[~is4]]
    if consume:
        index.clear()
    del rows
    parts = [_family(joined.pop(0), r, v) for r, v in zip(picked, versions)]
    scanner_of = np.concatenate([p[0] + (0 if i == 0 else len(parts[0][4])) for i, p in enumerate(parts)])
    scanners = [a for p in parts for a in p[4]]
    host_change = np.concatenate([p[1] for p in parts])
    udp = np.concatenate([p[2] for p in parts])
    port = np.concatenate([p[3] for p in parts])
    targets = [a for p in parts for a in p[5]]
    order_rows = np.concatenate([p[6] for p in parts])
    del parts
    bounds: list[tuple[int, int]] = []
    if n:
        edges = [0, *(np.flatnonzero(np.diff(scanner_of)) + 1).tolist(), n]
        bounds = list(zip(edges[:-1], edges[1:]))
    host_starts = np.flatnonzero(host_change)
    target_index = (np.cumsum(host_change, dtype=np.int32) - 1).astype(np.int32)
    codes = np.frombuffer(obs.endpoints.verdict, np.uint16)[order_rows] if n else np.zeros(0, np.uint16)
    grabs = obs.banners.grabs()
    grab_at = (np.flatnonzero(np.isin(order_rows, np.fromiter(grabs, np.int64, len(grabs)))).tolist()
               if grabs else [])
    return Ordered(obs, [scanners[scanner_of[a]] for a, _b in bounds], bounds, targets, target_index,
                   udp, port, order_rows, codes.astype(np.int32), host_starts, grabs, grab_at)


def _family(keys: np.ndarray, rows: np.ndarray, version: int) -> tuple[Any, ...]:
    """One family's keys (endpoint_bytes, as a fixed-size bytes array) sorted: (scanner index
    per endpoint, where a (scanner, target) run starts, udp, port, rows, and the scanner and
    run addresses)."""
    if not len(keys):
        empty = np.zeros(0, np.int32)
        return empty, np.zeros(0, bool), empty.astype(np.uint8), empty.astype(np.uint16), [], [], empty
    a = keys.view(_V4_KEY if version == 4 else _V6_KEY)
    if version == 4:
        low = a["target"].astype(np.int64) << 17 | a["udp"].astype(np.int64) << 16 | a["port"]
        order = np.lexsort((low, a["scanner"]))
        low = low[order]
        scanner = a["scanner"][order]
        new_scanner = np.ones(len(a), bool)
        new_scanner[1:] = scanner[1:] != scanner[:-1]
        target = low >> 17
        new_target = new_scanner.copy()
        new_target[1:] |= target[1:] != target[:-1]
        scanners = scanner[new_scanner].tolist()
        targets = target[new_target].tolist()
        udp, port = (low >> 16 & 1).astype(np.uint8), (low & 0xFFFF).astype(np.uint16)
    else:
        order = np.lexsort((a["port"], a["udp"], a["t_lo"], a["t_hi"], a["s_lo"], a["s_hi"]))
        b = a[order]
        new_scanner = np.ones(len(b), bool)
        new_scanner[1:] = (b["s_hi"][1:] != b["s_hi"][:-1]) | (b["s_lo"][1:] != b["s_lo"][:-1])
        new_target = new_scanner.copy()
        new_target[1:] |= (b["t_hi"][1:] != b["t_hi"][:-1]) | (b["t_lo"][1:] != b["t_lo"][:-1])
        scanners = [V6 | hi << 64 | lo for hi, lo in zip(b["s_hi"][new_scanner].tolist(), b["s_lo"][new_scanner].tolist())]
        targets = [V6 | hi << 64 | lo for hi, lo in zip(b["t_hi"][new_target].tolist(), b["t_lo"][new_target].tolist())]
        udp, port = b["udp"].astype(np.uint8), b["port"].astype(np.uint16)
    scanner_of = (np.cumsum(new_scanner, dtype=np.int32) - 1).astype(np.int32)
    return scanner_of, new_target, udp, port, scanners, targets, rows[order]


def summaries(ordered: Ordered, known: set[int]) -> list[SourceSummary]:
    """scanners.summarize for every source, from the columns."""
    obs = ordered.obs
    ep = obs.endpoints
    table = obs.verdicts.table
    flags = np.frombuffer(ep.flags, np.uint8)[ordered.row]
    probes = np.frombuffer(ep.probes, np.uint32)[ordered.row]
    states, state_of = _state_ids(table)
    answered = _answered(obs)
    udp = ordered.udp.astype(bool)
    state_id = np.where(ordered.code > 0, state_of[ordered.code],
                        np.where(udp, states.index(SILENCE["udp"].state), states.index(SILENCE["tcp"].state)))
    probed = (flags & np.where(udp, REPLIED_UDP, DATA)) == 0
    out = []
    for address, (start, stop) in zip(ordered.addresses, ordered.bounds):
        sl = slice(start, stop)
        u, pr = udp[sl], probed[sl]
        ports = ordered.port[sl]
        hosts = int(np.count_nonzero((ordered.host_starts >= start) & (ordered.host_starts < stop)))
        seen = int(np.bitwise_or.reduce(flags[sl][pr])) if pr.any() else 0
        tcp_probed = int(np.count_nonzero(pr & ~u & ((flags[sl] & PROBED_FLAGS) == 0)))
        udp_probed = int(np.count_nonzero(pr & u))
        counts = np.bincount(state_id[sl], minlength=len(states))
        tally = sorted(((states[i], int(c)) for i, c in enumerate(counts.tolist()) if c),
                       key=lambda kv: (-kv[1], kv[0]))
        first, last = obs.sources.span(address)
        out.append(SourceSummary(
            address=address, start=start, stop=stop, hosts=hosts,
            tcp_ports=tuple(np.unique(ports[~u]).tolist()), udp_ports=tuple(np.unique(ports[u]).tolist()),
            probed=int(np.count_nonzero(pr)), ordinary=(stop - start) - int(np.count_nonzero(pr)),
            probes=int(probes[sl].sum(dtype=np.int64)), replied=int(np.count_nonzero(answered[ordered.code[sl]])),
            states=tuple(tally), kinds=scan_kinds(seen, tcp_probed, udp_probed),
            first=first, last=last, known=address in known,
        ))
    return out


def _answered(obs: Observations) -> np.ndarray:
    """By verdict code: did a reply give it (FIN/NULL/Xmas silence has a code of its own)?"""
    answered: np.ndarray = np.array(obs.verdicts.strength) > 0
    return answered


def _state_ids(table: Sequence[Verdict | None]) -> tuple[list[str], np.ndarray]:
    """The state names, and each verdict code's index among them (silence included)."""
    states: list[str] = []
    for v in [*table[1:], SILENCE["tcp"], SILENCE["udp"]]:
        if v is not None and v.state not in states:
            states.append(v.state)
    of = np.array([0] + [states.index(v.state) for v in table[1:] if v is not None], np.int64)
    return states, of


def host_runs(ordered: Ordered, summary: SourceSummary) -> tuple[np.ndarray, np.ndarray]:
    """The source's hosts: where each one's endpoints start and stop (in order)."""
    hs = ordered.host_starts
    first, last = np.searchsorted(hs, [summary.start, summary.stop])
    starts = hs[first:last]
    stops = np.append(starts[1:], summary.stop)
    return starts, stops


def silent_hosts(ordered: Ordered, starts: np.ndarray, stop: int) -> np.ndarray:
    """Per host (runs starting at `starts`, the last ending at `stop`): True if none of its
    probes got any reply."""
    if not len(starts):
        return np.zeros(0, bool)
    first = int(starts[0])
    answered = _answered(ordered.obs)[ordered.code[first:stop]]
    replied = np.add.reduceat(answered.astype(np.int64), starts - first)
    silent: np.ndarray = replied == 0
    return silent


def results(
    ordered: Ordered, start: int, stop: int, scanner: str, captures: Sequence[str] | None,
    names: dict[int, str],
) -> list[ObservedPort]:
    """ObservedPort records of endpoints [start, stop), as report.host_results makes them."""
    ep, table = ordered.obs.endpoints, ordered.obs.verdicts.table
    rows = ordered.row[start:stop].tolist()
    out = []
    targets = ordered.targets
    for target_i, udp, port, code, row in zip(ordered.target[start:stop].tolist(), ordered.udp[start:stop].tolist(),
                                              ordered.port[start:stop].tolist(), ordered.code[start:stop].tolist(), rows):
        target = targets[target_i]
        proto = PROTO_NAMES[udp]
        verdict: Verdict = table[code] or SILENCE[proto]
        probe_ref, reply_ref = ep.probe_ref[row], ep.reply_ref[row]
        reply_frame = reply_ref & _FRAME_MASK
        out.append(ObservedPort(
            ip=addr_to_str(target), proto=proto, port=port, state=verdict.state,
            reason=verdict.reason, ttl=verdict.ttl, service=service_name(port, proto),
            host=names.get(target), scanner=scanner, probes=ep.probes[row],
            probe_frame=probe_ref & _FRAME_MASK, reply_frame=reply_frame or None,
            probe_capture=captures[probe_ref >> FRAME_BITS] if captures else None,
            reply_capture=captures[reply_ref >> FRAME_BITS] if captures and reply_frame else None,
        ))
    return ordered.with_banners(out, start, stop)


_SLOTS = [PortResult.__dict__[f.name].__set__ for f in fields(PortResult)]  # slot descriptors


def _port_result(values: tuple[Any, ...]) -> PortResult:
    """PortResult(*values) without the frozen __init__'s per-field object.__setattr__."""
    r = PortResult.__new__(PortResult)
    for put, value in zip(_SLOTS, values):
        put(r, value)
    return r


def table_results(ordered: Ordered, start: int, stop: int, names: dict[int, str]) -> list[PortResult]:
    """The PortResults a host table shows for endpoints [start, stop) (what results() gives,
    without the analysis fields)."""
    table = ordered.obs.verdicts.table
    targets = ordered.targets
    out = []
    last, ip = -1, ""
    for target_i, udp, port, code in zip(ordered.target[start:stop].tolist(), ordered.udp[start:stop].tolist(),
                                         ordered.port[start:stop].tolist(), ordered.code[start:stop].tolist()):
        if target_i != last:
            last, ip = target_i, addr_to_str(targets[target_i])
        proto = PROTO_NAMES[udp]
        v: Verdict = table[code] or SILENCE[proto]
        out.append(_port_result((ip, proto, port, v.state, v.reason, v.ttl, service_name(port, proto),
                                 names.get(targets[target_i]))))
    return ordered.with_banners(out, start, stop)


class JsonLines:
    """ObservedPort.as_dict() lines, as the JSON Lines writer encodes them, for a whole range
    of endpoints at once: the part that depends on (protocol, port, verdict) is made once."""

    def __init__(self, ordered: Ordered, names: dict[int, str], captures: Sequence[str] | None,
                 open_only: bool) -> None:
        self._ordered = ordered
        self._names = names
        self._captures = [json.dumps(c) for c in captures] if captures else None
        self._open_only = open_only
        self._middles: dict[int, str] = {}
        table = ordered.obs.verdicts.table
        self._open = np.array([v is not None and v.state in ("open", "open|filtered") for v in table])

    def _middle(self, key: int) -> str:
        """proto .. class (.. host): the fields after "ip"."""
        code, udp, port = key >> 17, key >> 16 & 1, key & 0xFFFF
        proto = PROTO_NAMES[udp]
        v = self._ordered.obs.verdicts.table[code] or SILENCE[proto]
        ttl = "null" if v.ttl is None else v.ttl
        return (f'"proto":"{proto}","port":{port},"state":{json.dumps(v.state)},"reason":{json.dumps(v.reason)},'
                f'"ttl":{ttl},"service":{json.dumps(service_name(port, proto))},"class":"{port_class(port)}"')

    def lines(self, start: int, stop: int, scanner: str) -> str:
        o = self._ordered
        ep = o.obs.endpoints
        sl = slice(start, stop)
        code, udp = o.code[sl], o.udp[sl].astype(np.int64)
        rows = o.row[sl]
        keep = None
        if self._open_only:  # --open: open and open|filtered only (silent UDP is open|filtered)
            keep = np.where(code > 0, self._open[code], udp == 1)
            code, udp, rows = code[keep], udp[keep], rows[keep]
        port = o.port[sl] if keep is None else o.port[sl][keep]
        target = o.target[sl] if keep is None else o.target[sl][keep]
        if not len(rows):
            return ""
        mkey = code.astype(np.int64) << 17 | udp << 16 | port.astype(np.int64)
        unique, inverse = np.unique(mkey, return_inverse=True)
        middles = np.array([self._middles.get(k) or self._middles.setdefault(k, self._middle(k))
                            for k in unique.tolist()], dtype=object)[inverse.reshape(-1)]
        t_unique, t_inverse = np.unique(target, return_inverse=True)
        heads = np.array([self._head(o.targets[t]) for t in t_unique.tolist()], dtype=object)[t_inverse.reshape(-1)]
        probes = np.frombuffer(ep.probes, np.uint32)[rows].tolist()
        probe_ref = np.frombuffer(ep.probe_ref, np.uint64)[rows]
        reply_ref = np.frombuffer(ep.reply_ref, np.uint64)[rows]
        mask = np.uint64(_FRAME_MASK)
        probe_frame = (probe_ref & mask).tolist()
        reply = (reply_ref & mask).astype(object)
        replied = reply_ref & mask != 0
        reply[~replied] = "null"
        scanner_part = f',"scanner":{json.dumps(scanner)},"probes":'
        if self._names:  # the host name comes after "class": one middle per (host, port, verdict)
            hosts = np.array([self._host(o.targets[t]) for t in t_unique.tolist()], dtype=object)[t_inverse.reshape(-1)]
            middles = middles + hosts
        if self._captures is None:
            return self._with_banners([f"{h}{m}{scanner_part}{n},\"probe_frame\":{pf},\"reply_frame\":{rf}}}\n"
                                       for h, m, n, pf, rf in zip(heads.tolist(), middles.tolist(), probes, probe_frame,
                                                                  reply.tolist())], rows, start, keep, scanner)
        caps = np.array(self._captures + ["null"], dtype=object)
        probe_cap = caps[(probe_ref >> np.uint64(FRAME_BITS)).astype(np.int64)].tolist()
        reply_cap = caps[np.where(replied, (reply_ref >> np.uint64(FRAME_BITS)).astype(np.int64), len(self._captures))].tolist()
        return self._with_banners([f"{h}{m}{scanner_part}{n},\"probe_frame\":{pf},\"reply_frame\":{rf},"
                                   f"\"probe_capture\":{pc},\"reply_capture\":{rc}}}\n"
                                   for h, m, n, pf, rf, pc, rc in zip(heads.tolist(), middles.tolist(), probes, probe_frame,
                                                                      reply.tolist(), probe_cap, reply_cap)],
                                  rows, start, keep, scanner)

    def _with_banners(self, lines: list[str], rows: np.ndarray, start: int, keep: np.ndarray | None,
                      scanner: str) -> str:
        """The lines, those of endpoints whose server said something made from their records
        (the service, product and version are the identified ones)."""
        grabs = self._ordered.grabs
        if grabs:
            from ..output.jsonl import record_line

            captures = [json.loads(c) for c in self._captures] if self._captures else None
            at = np.flatnonzero(np.isin(rows, np.fromiter(grabs, np.int64, len(grabs))))
            where = (np.flatnonzero(keep)[at] if keep is not None else at) + start
            for i, endpoint in zip(at.tolist(), where.tolist()):
                found = results(self._ordered, endpoint, endpoint + 1, scanner, captures, self._names)
                lines[i] = record_line(found[0])
        return "".join(lines)

    def _head(self, target: int) -> str:
        return f'{{"ip":"{addr_to_str(target)}",'  # an address has nothing to escape

    def _host(self, target: int) -> str:
        name = self._names.get(target)
        return f',"host":{json.dumps(name)}' if name else ""


def iter_hosts(starts: np.ndarray, stops: np.ndarray) -> Iterator[tuple[int, int]]:
    return zip(starts.tolist(), stops.tolist())
