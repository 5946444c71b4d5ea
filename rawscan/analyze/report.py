"""From observations to what is printed and written: PortResults per host, scanner summaries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

from ..classify import classify_silence
from ..plan import compress_ports
from ..results import PortResult, Verdict
from ..services import service_name
from ..addresses import addr_to_str
from .flows import Observations
from .scanners import SourceSummary, source_ranges, summarize
from .store import split_ref, target_mask

SILENCE = {"tcp": classify_silence("tcp"), "udp": classify_silence("udp")}
PORT_LIST_MAX = 60  # characters of a compressed port list shown in a scanner's summary


@dataclass(frozen=True, slots=True)
class ObservedPort(PortResult):
    """A port's result as the capture shows it, with who probed it and the evidence."""

    scanner: str = ""
    probes: int = 0  # probes seen, retransmissions included
    probe_frame: int | None = None  # the probe the deciding reply answered (else the last)
    reply_frame: int | None = None  # the deciding reply; None: no reply (silence)
    probe_capture: str | None = None  # with several capture files: which file each frame is in
    reply_capture: str | None = None

    def as_dict(self) -> dict[str, object]:
        record = PortResult.as_dict(self)
        record.update(scanner=self.scanner, probes=self.probes, probe_frame=self.probe_frame,
                      reply_frame=self.reply_frame)
        if self.probe_capture is not None:
            record.update(probe_capture=self.probe_capture, reply_capture=self.reply_capture)
        return record

    def plain(self) -> PortResult:
        """The scan commands' record, for formats with fixed columns."""
        return PortResult(**{f.name: getattr(self, f.name) for f in fields(PortResult)})


def host_results(
    obs: Observations, keys: Sequence[int], summary: SourceSummary,
    captures: Sequence[str] | None = None, names: dict[int, str] | None = None,
) -> Iterator[list[ObservedPort]]:
    """The source's results, one list per target host (in address order, ports in order).

    `captures`: the file names, when there are several (frames are numbered per file).
    """
    ep = obs.endpoints
    rows = ep.rows
    table = obs.verdicts.table
    names = names or {}
    scanner = addr_to_str(summary.address)
    mask = target_mask(summary.address)
    group: list[ObservedPort] = []
    last_target, ip = -1, ""
    grabs = obs.banners.grabs()  # what servers said, by row (analyze/banners.py)
    for key in keys[summary.start : summary.stop]:
        target = (key >> 17) & mask
        if target != last_target:
            if group:
                yield group
                group = []
            last_target, ip = target, addr_to_str(target)
        row = rows[key]
        proto = "udp" if key >> 16 & 1 else "tcp"
        port = key & 0xFFFF
        verdict: Verdict = table[ep.verdict[row]] or SILENCE[proto]
        probe_file, probe_frame = split_ref(ep.probe_ref[row])
        reply_file, reply_frame = split_ref(ep.reply_ref[row])
        group.append(ObservedPort(
            ip=ip, proto=proto, port=port, state=verdict.state,
            reason=verdict.reason, ttl=verdict.ttl, service=service_name(port, proto),
            host=names.get(target), scanner=scanner, probes=ep.probes[row],
            probe_frame=probe_frame, reply_frame=reply_frame or None,
            probe_capture=captures[probe_file] if captures else None,
            reply_capture=captures[reply_file] if captures and reply_frame else None,
        ))
        if row in grabs:
            from ..banners.phase import enriched

            group[-1] = enriched(group[-1], grabs[row])  # type: ignore[call-overload]  # dataclasses.replace keeps ObservedPort
    if group:
        yield group


def _ports(label: str, ports: tuple[int, ...]) -> str:
    listed = compress_ports(ports)
    if len(listed) > PORT_LIST_MAX:
        listed = listed[: PORT_LIST_MAX].rsplit(",", 1)[0] + ",..."
    return f"{len(ports):,} {label} port(s) ({listed})"


def scanner_line(s: SourceSummary) -> str:
    """One line per scanner: who, how, what, how fast."""
    kinds = "+".join(s.kinds) or "no probe"
    ports = [_ports(label, p) for label, p in (("tcp", s.tcp_ports), ("udp", s.udp_ports)) if p]
    rate = f", {s.rate:,.0f} probes/s" if s.rate is not None else ""
    states = ", ".join(f"{n:,} {state}" for state, n in s.states)
    return (
        f"Scanner {addr_to_str(s.address)}: {kinds} scan of {s.hosts:,} host(s), "
        f"{' and '.join(ports)}; {s.probes:,} probes ({s.retransmissions:,} retransmitted) "
        f"over {s.span:.2f} s{rate}; {states}"
    )


def silent_host(results: Sequence[PortResult]) -> bool:
    """No probe to this host got any reply."""
    return all(r.reason == "no-response" for r in results)


def count_silent_hosts(obs: Observations, keys: Sequence[int], summary: SourceSummary) -> int:
    """Hosts of this source that answered no probe, from the arrays (no results built)."""
    verdict, rows = obs.endpoints.verdict, obs.endpoints.rows
    mask = target_mask(summary.address)
    silent = 0
    last_target, replied = -1, True
    for key in keys[summary.start : summary.stop]:
        target = (key >> 17) & mask
        if target != last_target:
            silent += not replied
            last_target, replied = target, False
        if obs.verdicts.strength[verdict[rows[key]]] > 0:  # (a FIN scan's silence has a code)
            replied = True
    return silent + (not replied)


def all_results(obs: Observations) -> Iterator[ObservedPort]:
    """Every endpoint's result, scanners or not, in (scanner, target, proto, port) order."""
    keys = obs.endpoints.sorted_keys()
    for source, start, stop in source_ranges(keys):
        summary = summarize(keys, start, stop, obs.endpoints, obs.verdicts.table, SILENCE,
                            obs.sources.span(source))
        for host in host_results(obs, keys, summary):
            yield from host
