"""ScanResult: what rawscan.syn/udp/replay/analyze/load return. Ports are the JSON Lines
records (Port.as_dict() is the line -oJ writes), sorted by address, protocol and port."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import RawscanError

if TYPE_CHECKING:
    from ..compare import ResultSet
    from ..discovery.hosts import HostResult
    from ..engine import ScanStats
    from ..output import RunInfo
    from ..results import PortResult

CORE_FIELDS = ("ip", "proto", "port", "state", "reason", "ttl", "service", "class")
OPEN_STATES = ("open", "open|filtered")  # what --open keeps, and Port.is_open
FORMATS = {"xml": "xml_out", "grep": "grep_out", "json": "json_out", "csv": "csv_out"}
FORMAT_ALIASES = {"xml": "xml", "nmap": "xml", "grep": "grep", "gnmap": "grep",
                  "grepable": "grep", "json": "json", "jsonl": "json", "csv": "csv"}
_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class Port:
    """One scanned port, as a JSON Lines record has it. `port_class` is the record's "class"
    (system, registered, dynamic); `details` holds the rest of the record: --banners' product,
    version, banner, tls; analyze's scanner, probes and evidence frames."""

    ip: str
    proto: str
    port: int
    state: str
    reason: str
    ttl: int | None
    service: str
    port_class: str
    host: str | None = None  # the name the scan was given for ip
    details: Mapping[str, object] = field(default_factory=lambda: _EMPTY, compare=False,
                                         repr=False)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def as_dict(self) -> dict[str, object]:
        """The JSON Lines record: the same keys and values `-oJ` writes."""
        record: dict[str, object] = {
            "ip": self.ip, "proto": self.proto, "port": self.port, "state": self.state,
            "reason": self.reason, "ttl": self.ttl, "service": self.service,
            "class": self.port_class,
        }
        if self.host:
            record["host"] = self.host
        record.update(self.details)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> Port:
        from ..ports import port_class

        port = record["port"]
        ttl = record.get("ttl")
        if type(port) is not int or not (ttl is None or type(ttl) is int):
            raise ValueError(record)
        details = {k: v for k, v in record.items() if k not in CORE_FIELDS and k != "host"}
        host = record.get("host")
        return cls(ip=str(record["ip"]), proto=str(record["proto"]), port=port,
                   state=str(record["state"]), reason=str(record.get("reason", "")), ttl=ttl,
                   service=str(record.get("service", "")),
                   port_class=str(record.get("class") or port_class(port)),
                   host=str(host) if host else None,
                   details=MappingProxyType(details) if details else _EMPTY)


@dataclass(frozen=True)
class Host:
    ip: str
    name: str | None
    ports: tuple[Port, ...]

    @property
    def up(self) -> bool:
        """Anything came back from (or about) it, as the report's 'host(s) up' counts."""
        return any(p.ttl is not None for p in self.ports)


@dataclass(frozen=True)
class Stats:
    """The figures the report's summary prints (rawscan syn/udp/replay). Rates are probes
    per second; path_rate is what an adaptive scan saw the path carry."""

    hosts: int
    hosts_up: int
    ports: int  # per host
    sent: int  # probes that left, retransmissions included
    retransmitted: int
    rounds: int
    matched: int
    duplicates: int
    stray: int  # failed validation: stray, late from another scan, or forged
    unsent: int  # refused by this host (no route, its firewall)
    unanswered: int
    unverified: int
    elapsed: float  # seconds (a replay: in the recording's time)
    send_rate: float
    path_rate: float
    lowest_rate: float
    estimated_loss: float
    icmp_rate_limited: bool
    interrupted: bool

    @classmethod
    def of(cls, s: ScanStats, hosts: int, hosts_up: int, ports: int) -> Stats:
        return cls(hosts=hosts, hosts_up=hosts_up, ports=ports, sent=s.sent - s.unsent,
                   retransmitted=s.retransmitted, rounds=s.rounds, matched=s.matched,
                   duplicates=s.duplicates, stray=s.stray, unsent=s.unsent,
                   unanswered=s.unanswered, unverified=s.unverified, elapsed=s.elapsed,
                   send_rate=s.send_rate, path_rate=s.path_rate, lowest_rate=s.lowest_rate,
                   estimated_loss=s.estimated_loss, icmp_rate_limited=s.icmp_rate_limited,
                   interrupted=s.interrupted)


@dataclass(frozen=True)
class Change:
    """A port whose state differs between two results (None: not listed on that side)."""

    ip: str
    proto: str
    port: int
    old: str | None
    new: str | None
    kind: str  # appeared, disappeared, changed
    host: str | None = None

    def __str__(self) -> str:
        """The line `rawscan diff` prints for it."""
        from ..compare.report import change_line

        return change_line(self, {})


def _order(p: Port) -> tuple[tuple[int, str], str, int]:
    from ..addresses import address_order

    return address_order(p.ip), p.proto, p.port


class ScanResult:
    """What a scan, a replay, an analysis or a loaded result file says about each port.

    ports: every port, in address order; hosts: the ports by host; stats: the summary's
    figures (scans and replays; None for analyze and load); summary: the report's lines as
    the command line prints them after its table; source: where the result came from.
    host_results: host discovery's (rawscan.ping) hosts, each up or down with its reason,
    TTL and RTT (as_dict() is the -oJ line), in address order; () for port scans."""

    def __init__(self, ports: Iterable[Port], *, source: str, scan: str = "",
                 stats: Stats | None = None, summary: Sequence[str] = (),
                 ranges: ResultSet | None = None, info: RunInfo | None = None,
                 records: Sequence[PortResult] | None = None,
                 host_results: Sequence[HostResult] = ()) -> None:
        self.ports: tuple[Port, ...] = tuple(sorted(ports, key=_order))
        self.host_results: tuple[HostResult, ...] = tuple(host_results)
        self.source = source
        self.scan = scan  # syn, udp, ... ('' when a loaded file does not say)
        self.stats = stats
        self.summary: tuple[str, ...] = tuple(summary)
        self._ranges = ranges  # a loaded file's summarised ports (nmap's extraports)
        self._info = info
        self._records = records
        self._index = {(p.ip, p.proto, p.port): p for p in self.ports}
        by_host: dict[str, list[Port]] = {}
        for p in self.ports:
            by_host.setdefault(p.ip, []).append(p)
        self.hosts: tuple[Host, ...] = tuple(
            Host(ip, next((p.host for p in ports if p.host), None), tuple(ports))
            for ip, ports in by_host.items())

    def __repr__(self) -> str:
        if self.host_results:
            up = sum(r.up for r in self.host_results)
            return f"<ScanResult {self.source!r}: {len(self.host_results)} host(s), {up} up>"
        return (f"<ScanResult {self.source!r}: {len(self.hosts)} host(s), {len(self.ports)} "
                f"port(s), {len(self.open())} open>")

    def __eq__(self, other: object) -> bool:
        """Same ports in the same states (reasons and details aside), as `rawscan diff`
        finds no difference; a ScanResult also compares with rawscan.testing.Exposure."""
        if not isinstance(other, ScanResult):
            return NotImplemented
        statuses = {r.ip: r.status for r in self.host_results}
        return not self.diff(other) and statuses == {r.ip: r.status for r in other.host_results}

    __hash__ = None  # type: ignore[assignment]  # equal by content: not hashable

    def __iter__(self) -> Iterator[Port]:
        return iter(self.ports)

    def __len__(self) -> int:
        return len(self.ports)

    def port(self, ip: str, proto: str, port: int) -> Port | None:
        from ..compare import canonical_ip

        return self._index.get((canonical_ip(ip), proto.lower(), port))

    def state(self, ip: str, proto: str, port: int) -> str | None:
        """The port's state; None when the result does not cover it."""
        found = self.port(ip, proto, port)
        if found is not None:
            return found.state
        if self._ranges is not None:
            from ..compare import canonical_ip

            return self._ranges.state_at((canonical_ip(ip), proto.lower(), port))
        return None

    def open(self) -> tuple[Port, ...]:
        """The open (and open|filtered) ports, as --open lists them."""
        return tuple(p for p in self.ports if p.is_open)

    def diff(self, other: ScanResult) -> list[Change]:
        """What changed from this result to `other`, as `rawscan diff THIS OTHER` lists it."""
        from ..compare.changes import compare

        before, after = self.result_set(), other.result_set()
        names = {**before.names, **after.names}
        return [Change(c.ip, c.proto, c.port, c.old, c.new, c.kind, names.get(c.ip))
                for c in compare(before, after)]

    def result_set(self) -> ResultSet:
        """The states as rawscan's comparison reads them (rawscan/compare)."""
        from ..compare import ResultSet

        found = ResultSet(source=self.source)
        if self._ranges is not None:
            found.ranges = {k: list(v) for k, v in self._ranges.ranges.items()}
            found.names = dict(self._ranges.names)
        for p in self.ports:
            found.add(p.ip, p.proto, p.port, p.state, p.host)
        return found

    def write(self, path: str, format: str = "json", *, force: bool = False) -> None:
        """Write the result as `rawscan` would with -oX (format 'xml'), -oG ('grep'),
        -oJ ('json') or -oC ('csv'); path '-' is stdout. A file rawscan did not write is
        refused (RawscanError) unless force."""
        from ..output.options import OutputOptions, open_writers

        kind = FORMAT_ALIASES.get(format.lower())
        if kind is None:
            raise RawscanError(f"unknown output format '{format}' (xml, grep, json or csv)")
        options = OutputOptions(**{FORMATS[kind]: str(path)}, force=force)  # type: ignore[arg-type]  # one str field, by name
        if self.host_results or self.scan == "ping":  # host discovery's own writers
            self._write_hosts(options)
            return
        records = self._records if self._records is not None else [
            _record(p) for p in self.ports]
        self._feed(open_writers(options, self._run_info()), records)

    def _write_hosts(self, options: object) -> None:
        from ..discovery.report import open_host_writers
        from ..output.options import OutputOptions

        assert isinstance(options, OutputOptions)
        self._feed(open_host_writers(options, self._run_info()), self.host_results)

    def _feed(self, writers: Sequence[Any], items: Iterable[Any]) -> None:
        """Every item to every writer; the writers closed whole, or closed on a failure."""
        from ..output import RunSummary

        try:
            for item in items:
                for writer in writers:
                    writer.write(item)
        except BaseException:
            for writer in writers:
                writer.close()
            raise
        elapsed = self.stats.elapsed if self.stats is not None else 0.0
        for writer in writers:
            writer.close(RunSummary(elapsed=elapsed))

    def _run_info(self) -> RunInfo:
        if self._info is not None:
            return self._info
        from ..output import RunInfo

        protos = {p.proto for p in self.ports}
        proto = "udp" if protos == {"udp"} else "tcp"
        return RunInfo(scan=self.scan or ("udp" if proto == "udp" else "syn"), proto=proto,
                       ports=tuple(sorted({p.port for p in self.ports if p.proto == proto})),
                       total_hosts=len(self.hosts), argv=("load", self.source), started=0.0,
                       banners=any(p.details for p in self.ports))


def _record(p: Port) -> PortResult:
    from ..results import PortResult

    d = p.details
    return PortResult(p.ip, p.proto, p.port, p.state, p.reason, p.ttl, p.service, p.host,
                      product=_text(d.get("product")), version=_text(d.get("version")),
                      extrainfo=_text(d.get("extrainfo")), banner=_text(d.get("banner")),
                      banner_note=_text(d.get("banner_note")))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def port_of(r: PortResult) -> Port:
    """A scan's record as the public Port (the JSON Lines record's fields)."""
    return Port.from_record(r.as_dict())
