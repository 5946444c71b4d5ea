"""rawscan merge: shard outputs (any rawscan format, pcap + sidecar, metadata files) read back
into one result, checked to be parts of one plan, and whole.

Each input gives its shard record (output/shardinfo.py: fingerprint, shard, shards and what
the whole scan's documents need) and its results. Inputs of one shard may be several (its -oJ
and -oX, or a first run's output and its resumed run's): a port given twice with one state is
one result. The set is whole when every shard 0..N-1 is there with all its endpoints.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import RawscanError
from .output.shardinfo import JSONL_KEY, METADATA_FORMAT, SHARD_FORMAT, XML_COMMENT
from .results import PortResult
from .services import service_name
from .shards import shard_size

if TYPE_CHECKING:
    from .output import RunInfo

MAX_INPUT = 1 << 31  # bytes of one text input read at most
_COMMENT = re.compile(r"<!-- " + re.escape(XML_COMMENT) + r"(\{.*?\}) -->")
_GREP_COMMENT = re.compile(r"^# " + re.escape(XML_COMMENT) + r"(\{.*\})$", re.MULTILINE)
_HOST_LINE = re.compile(r"^Host: (\S+) \(([^)]*)\)")
_IGNORED = re.compile(r"(\S+) \((\d+)\)")
# what a port's reason is when a format does not say (grepable)
_DEFAULT_REASON = {("tcp", "open"): "syn-ack", ("tcp", "closed"): "reset",
                   ("udp", "open"): "udp-response", ("udp", "closed"): "port-unreach"}


@dataclass
class ShardInput:
    path: str
    record: dict[str, Any] | None  # None: a CSV row's columns only (fingerprint, shard)
    fingerprint: str
    shard: int
    shards: int
    results: list[PortResult] = field(default_factory=list)
    complete: bool | None = None  # False: the run says it was cut short
    results_given: bool = True  # a metadata file gives none
    exact: bool = True  # False: the format does not say reasons (grepable), they are guessed


@dataclass
class Merged:
    record: dict[str, Any]  # the plan's record (from any input that has one whole)
    results: list[PortResult]  # one per endpoint, hosts in address order
    missing: list[int]  # shards no input gave
    short: dict[int, tuple[int, int]]  # shard -> (results, endpoints) where fewer came
    repeated: dict[int, list[str]]  # shards several inputs gave
    conflicts: int  # ports two inputs gave different states (the first is kept)
    started: float
    elapsed: float

    @property
    def whole(self) -> bool:
        return not self.missing and not self.short


def _record(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("format") != SHARD_FORMAT:
        raise RawscanError(f"'{path}': its shard record is not one rawscan writes")
    try:
        shards, shard = value["shards"], value["shard"]
        if type(shards) is not int or type(shard) is not int or not 0 <= shard < shards:
            raise ValueError
        for key, kind in (("fingerprint", str), ("scan", str), ("proto", str), ("ports", str),
                          ("hosts", int), ("endpoints", int)):
            if not isinstance(value[key], kind):
                raise ValueError
    except (KeyError, ValueError):
        raise RawscanError(f"'{path}': its shard record is damaged") from None
    return value


def _read_text(path: str, raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def read_input(path: str) -> ShardInput:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_INPUT)
    except OSError as exc:
        raise RawscanError(f"cannot read '{path}': {exc.strerror}") from None
    if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x0a\x0d\x0d\x0a") or raw[:2] == b"\x1f\x8b":
        return _capture(path)
    text = _read_text(path, raw)
    head = text.lstrip()[:200]
    if head.startswith("<"):
        return _xml(path, text)
    if head.startswith("{\n") or head.startswith('{"format"'):
        return _metadata(path, text)
    if head.startswith("{"):
        return _jsonl(path, text)
    if head.startswith("#"):
        return _grepable(path, text)
    first = text.split("\n", 1)[0].strip().split(",")
    if "ip" in first and "plan" in first:
        return _csv(path, text)
    raise RawscanError(f"'{path}' is no shard output rawscan wrote (a scan run with --shards: "
                       f"-oJ, -oX, -oG, -oC, --pcap or --metadata-file)")


def _from_record(path: str, record: dict[str, Any]) -> ShardInput:
    return ShardInput(path, record, record["fingerprint"], record["shard"], record["shards"])


def _no_record(path: str) -> RawscanError:
    return RawscanError(f"'{path}' names no plan: it was not written by a scan with --shards")


def _jsonl(path: str, text: str) -> ShardInput:
    lines = text.splitlines()
    try:
        first = json.loads(lines[0])
    except (ValueError, IndexError, RecursionError):
        raise RawscanError(f"'{path}' line 1: not JSON") from None
    if not isinstance(first, dict) or JSONL_KEY not in first:
        raise _no_record(path)
    shard = _from_record(path, _record(first[JSONL_KEY], path))
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if isinstance(r, dict) and "port" not in r and "host_note" in r:
                continue  # a host's note (a SYN proxy): the merged result's writer makes its own
            port, ttl = r["port"], r.get("ttl")
            if type(port) is not int or not 0 <= port <= 65535 or not (ttl is None or type(ttl) is int):
                raise ValueError
            shard.results.append(PortResult(
                str(r["ip"]), str(r["proto"]), port, str(r["state"]), str(r["reason"]), ttl,
                str(r.get("service", "unknown")), r.get("host") or None,
                product=r.get("product"), version=r.get("version"),
                extrainfo=r.get("extrainfo"), banner=r.get("banner"),
                probed=r.get("product") is not None, banner_note=r.get("banner_note")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise RawscanError(f"'{path}' line {number}: not a rawscan JSON Lines record") from None
    return shard


def _csv(path: str, text: str) -> ShardInput:
    shard: ShardInput | None = None
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
        try:
            k, _, n = (row.get("shard") or "").partition("/")
            if shard is None:
                shard = ShardInput(path, None, str(row["plan"]), int(k), int(n))
            elif (row["plan"], int(k), int(n)) != (shard.fingerprint, shard.shard, shard.shards):
                raise RawscanError(f"'{path}' line {number}: another plan or shard than line 2's")
            port = int(row["port"])
            if not 0 <= port <= 65535:
                raise ValueError
            ttl = int(row["ttl"]) if row.get("ttl") else None
            shard.results.append(PortResult(row["ip"], row["proto"], port, row["state"],
                                            row["reason"], ttl, row.get("service") or "unknown",
                                            row.get("host") or None))
        except (KeyError, ValueError, TypeError):
            raise RawscanError(f"'{path}' line {number}: not a rawscan CSV row of a shard") from None
    if shard is None:
        raise RawscanError(f"'{path}' holds no results (a shard's CSV names its plan on each row)")
    if not 0 <= shard.shard < shard.shards:
        raise RawscanError(f"'{path}': shard {shard.shard}/{shard.shards} is no shard")
    return shard


def _comment_record(path: str, text: str, pattern: re.Pattern[str] = _COMMENT) -> dict[str, Any]:
    match = pattern.search(text[:1 << 20])
    if match is None:
        raise _no_record(path)
    try:
        return _record(json.loads(match.group(1)), path)
    except (ValueError, RecursionError):
        raise RawscanError(f"'{path}': its shard record is damaged") from None


def _xml(path: str, text: str) -> ShardInput:
    import xml.etree.ElementTree as ET

    shard = _from_record(path, _comment_record(path, text))
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise RawscanError(f"'{path}' is not well-formed XML: {exc}") from None
    finished = root.find("runstats/finished")
    shard.complete = finished is not None and finished.get("exit") == "success"
    try:
        for host in root.iter("host"):
            address = host.find("address")
            if address is None:
                continue
            ip = address.get("addr", "")
            name = next((h.get("name") for h in host.iter("hostname") if h.get("type") == "user"), None)
            for extra in host.iter("extraports"):
                for why in extra.iter("extrareasons"):
                    proto = why.get("proto", "")
                    for part in filter(None, why.get("ports", "").split(",")):
                        lo, _, hi = part.partition("-")
                        for port in range(int(lo), int(hi or lo) + 1):
                            shard.results.append(PortResult(
                                ip, proto, port, extra.get("state", ""), why.get("reason", ""),
                                None, service_name(port, proto), name))
            for port_element in host.iter("port"):
                state = port_element.find("state")
                if state is None:
                    continue
                proto, port = port_element.get("protocol", ""), int(port_element.get("portid", ""))
                service = port_element.find("service")
                ttl = int(state.get("reason_ttl", "0"))
                reason = state.get("reason", "")
                shard.results.append(PortResult(
                    ip, proto, port, state.get("state", ""), reason,
                    None if reason == "no-response" else ttl,
                    service.get("name", "unknown") if service is not None else "unknown", name))
    except ValueError:
        raise RawscanError(f"'{path}': a port or TTL that is no number") from None
    return shard


def _grepable(path: str, text: str) -> ShardInput:
    shard = _from_record(path, _comment_record(path, text, _GREP_COMMENT))
    assert shard.record is not None
    proto = str(shard.record["proto"])
    from .plan import expand_ports

    try:
        ports = expand_ports(str(shard.record["ports"]))
    except ValueError:
        raise RawscanError(f"'{path}': its shard record's ports are damaged") from None
    shard.complete = "\n# rawscan done at " in text
    shard.exact = False
    for line in text.splitlines():
        parts = line.split("\t")
        host = next((m for m in map(_HOST_LINE.match, parts) if m), None)
        if host is None or not any(p.startswith("Ports: ") for p in parts):
            continue
        ip, name = host.group(1), host.group(2) or None
        listed: set[int] = set()
        ignored: list[str] = []
        for part in parts:
            if part.startswith("Ports: "):
                for entry in filter(None, (e.strip() for e in part[7:].split(","))):
                    fields = entry.split("/")
                    try:
                        port = int(fields[0])
                    except (ValueError, IndexError):
                        raise RawscanError(f"'{path}': port entry '{entry[:40]}' is not "
                                           f"port/state/proto") from None
                    state = fields[1]
                    listed.add(port)
                    shard.results.append(PortResult(
                        ip, fields[2], port, state, _DEFAULT_REASON.get((fields[2], state),
                                                                        "no-response"),
                        None, fields[4] or "unknown", name))
            elif part.startswith("Ignored State: "):
                ignored = [m.group(1) for m in _IGNORED.finditer(part)]
        # the summarised ports are this shard's others of this host only when one state is
        # summarised; a shard's grepable cannot say which of its ports are whose otherwise
        if len(ignored) == 1:
            shard.results.extend(
                PortResult(ip, proto, port, ignored[0],
                           _DEFAULT_REASON.get((proto, ignored[0]), "no-response"), None,
                           service_name(port, proto), name)
                for port in _own_ports(shard, ip, ports) if port not in listed)
    return shard


def _own_ports(shard: ShardInput, ip: str, ports: tuple[int, ...]) -> list[int]:
    """This host's ports that belong to the shard (the grepable lists only some of them)."""
    assert shard.record is not None
    from .cookies import derive_key
    from .shards import ShardMap
    from .addresses import parse_addr

    targets = _targets_of(shard.record)
    if targets is None:
        return []
    try:
        address = parse_addr(ip)
    except ValueError as exc:
        raise RawscanError(f"'{shard.path}': host '{ip[:60]}' is not an address ({exc})") from None
    host = targets.index(address)
    if host is None:
        return []
    total = len(targets) * len(ports)
    shard_map = ShardMap(total, shard.shards, shard.shard,
                         derive_key(int(shard.record["seed"]), "shards"))
    first = host * len(ports)
    return [port for i, port in enumerate(ports)
            if shard.shards <= 1 or shard_map.to_local(first + i) is not None]


def _targets_of(record: dict[str, Any]) -> Any:
    ranges = record.get("targets")
    if not isinstance(ranges, list):
        return None
    from .targets import TargetSet

    return TargetSet(tuple((int(lo), int(hi)) for lo, hi in ranges), {})


def _metadata(path: str, text: str) -> ShardInput:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise RawscanError(f"'{path}' is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != METADATA_FORMAT:
        raise RawscanError(f"'{path}' is JSON but no rawscan metadata file")
    if data.get("plan") is None:
        raise _no_record(path)
    shard = _from_record(path, _record(data["plan"], path))
    shard.complete = data.get("exit") == "done"
    shard.results_given = False
    return shard


def _capture(path: str) -> ShardInput:
    """A shard's --pcap: replayed (no root, no network) to the results it recorded."""
    from .capture import read_ip_packets
    from .output.shardinfo import shard_record
    from .plan import MAX_SIDECAR, ScanPlan, check_replayable, sidecar_path
    from .scan import probe_for, run_scan
    from .transports.replay import ReplayTransport

    description = sidecar_path(path)
    try:
        with open(description, "rb") as f:
            raw = f.read(MAX_SIDECAR + 1)
    except OSError as exc:
        raise RawscanError(f"cannot read '{description}' (the capture's scan description): "
                           f"{exc.strerror}") from None
    plan = ScanPlan.from_json(raw.decode("utf-8", errors="replace"), description)
    check_replayable(plan, description)
    probe = probe_for(plan)
    record = shard_record(plan, probe.proto)
    if record is None:
        raise _no_record(path)
    recording = [(p.time, p.ip) for p in read_ip_packets(path)]
    outcome = run_scan(plan, probe, ReplayTransport(recording, probe.flow), keep_results=True)
    shard = _from_record(path, _record(record, path))
    shard.results = outcome.results or []
    shard.complete = not outcome.stats.interrupted
    return shard


def merge(inputs: list[ShardInput]) -> Merged:
    """One result from the inputs; RawscanError when they are not of one plan."""
    if not inputs:
        raise RawscanError("no shard outputs given")
    plans = {i.fingerprint for i in inputs}
    if len(plans) > 1:
        by_plan: dict[str, str] = {}
        for i in inputs:
            by_plan.setdefault(i.fingerprint, i.path)
        named = ", ".join(f"{p} ('{f}')" for p, f in sorted(by_plan.items()))
        raise RawscanError(f"the inputs are shards of {len(plans)} different plans ({named}): "
                           f"only shards of one plan merge")
    shards = {i.shards for i in inputs}
    if len(shards) > 1:
        raise RawscanError(f"the inputs disagree on the number of shards ({sorted(shards)})")
    record = next((i.record for i in inputs if i.record is not None), None)
    if record is None:
        record = _record_from_rows(inputs)
    count = inputs[0].shards
    by_shard: dict[int, list[ShardInput]] = defaultdict(list)
    for i in inputs:
        by_shard[i.shard].append(i)
    missing = [k for k in range(count) if k not in by_shard]
    chosen: dict[tuple[str, str, int], PortResult] = {}
    per_shard: dict[int, set[tuple[str, str, int]]] = defaultdict(set)
    conflicts = 0
    for i in sorted(inputs, key=lambda i: not i.exact):  # a port's reason from where it is said
        for r in i.results:
            key = (r.ip, r.proto, r.port)
            kept = chosen.get(key)
            if kept is None:
                chosen[key] = r
            elif kept.state != r.state:
                conflicts += 1
            per_shard[i.shard].add(key)
    open_only = "--open" in record.get("argv", [])
    short: dict[int, tuple[int, int]] = {}
    endpoints = int(record["endpoints"])
    for k, given in by_shard.items():
        if not any(i.results_given for i in given):
            missing.append(k)  # metadata files only: the results are missing
            continue
        size = _expected(given, endpoints, count, k)
        got = len(per_shard.get(k, ()))
        if (not open_only and got < size) or (open_only and any(i.complete is False and
                                                                 i.results_given for i in given)):
            short[k] = (got, size)
    for k, given in by_shard.items():  # a shard given only by metadata that was cut short
        if k not in short and all(i.complete is False for i in given):
            short[k] = (len(per_shard.get(k, ())), _expected(given, endpoints, count, k))
    missing.sort()
    repeated = {k: [i.path for i in given] for k, given in by_shard.items() if len(given) > 1}
    from .output.hosts import ip_key

    results = sorted(chosen.values(), key=lambda r: (ip_key(r.ip), r.proto, r.port))
    started = min((float(i.record["started"]) for i in inputs
                   if i.record is not None and isinstance(i.record.get("started"), (int, float))),
                  default=0.0)
    return Merged(record, results, missing, short, repeated, conflicts, started, 0.0)


def _expected(given: list[ShardInput], endpoints: int, count: int, k: int) -> int:
    """Endpoints shard k reports: its share, or (--max-targets) its part of the sample, as
    its record says."""
    for i in given:
        sampled = i.record.get("sampled") if i.record is not None else None
        if type(sampled) is int and 0 <= sampled <= endpoints:
            return sampled
    return shard_size(endpoints, count, k)


def _record_from_rows(inputs: list[ShardInput]) -> dict[str, Any]:
    """CSV inputs alone: the whole scan's ports and hosts as their rows show them."""
    from .plan import compress_ports

    results = [r for i in inputs for r in i.results]
    ports = tuple(sorted({r.port for r in results}))
    hosts = len({r.ip for r in results})
    proto = results[0].proto if results else "tcp"
    return {"format": SHARD_FORMAT, "fingerprint": inputs[0].fingerprint, "shard": 0,
            "shards": inputs[0].shards, "scan": "udp" if proto == "udp" else "syn",
            "proto": proto, "ports": compress_ports(ports), "hosts": hosts,
            "endpoints": hosts * len(ports), "argv": [], "started": 0.0}


def problems(merged: Merged) -> list[str]:
    """Why the set of shards is not whole: missing and short shards (empty when whole)."""
    found = []
    if merged.missing:
        found.append(f"shard(s) {', '.join(map(str, merged.missing))} of "
                     f"{merged.record['shards']} missing")
    for k, (got, size) in sorted(merged.short.items()):
        found.append(f"shard {k} is short: {got:,} of its {size:,} endpoints (cut short? "
                     f"'rawscan resume' its resume file and merge both runs' outputs)")
    return found


def run_info(merged: Merged, inputs: list[str], open_only: bool) -> RunInfo:
    """The merged scan's RunInfo (as the outputs' headers say it)."""
    from .output import RunInfo  # noqa: F811  # at run time too
    from .plan import expand_ports

    record = merged.record
    open_only = open_only or "--open" in record.get("argv", [])
    return RunInfo(scan=str(record["scan"]), proto=str(record["proto"]),
                   ports=expand_ports(str(record["ports"])), total_hosts=int(record["hosts"]),
                   argv=("merge", *inputs), started=merged.started, open_only=open_only)


def merged_line(merged: Merged, inputs: list[str]) -> str:
    record = merged.record
    return (f"Merged {record['shards']} shard(s) of plan {record['fingerprint']} "
            f"({len(inputs)} input(s)): {len(merged.results):,} port result(s) of "
            f"{int(record['endpoints']):,} endpoints")

