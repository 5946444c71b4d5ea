"""Reading results back: rawscan's JSON Lines, CSV, grepable and XML, and nmap's XML and -oG.

The format is recognised from the content, not the file name, so `-` (stdin) works too.
Ports a file summarises without listing (nmap's extraports) are expanded when the file says
which they are (extrareasons ports=, nmap 7.90 and later, and rawscan); otherwise they are
simply not listed, which the comparison treats as "not open".
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET

from ..errors import RawscanError
from . import ResultSet, canonical_ip

_HOST_LINE = re.compile(r"^Host: (\S+) \(([^)]*)\)")


def load_results(path: str) -> ResultSet:
    text = _read(path)
    head = text.lstrip()[:200]
    if head.startswith("<"):
        reader = _xml
    elif head.startswith("{"):
        reader = _jsonl
    elif head.startswith(("#", "Host: ", "Timestamp: ")):
        reader = _grepable
    elif "ip" in head.split("\n", 1)[0].split(",") and ("state" in head.split("\n", 1)[0]
                                                          or "status" in head.split("\n", 1)[0]):
        reader = _csv
    else:
        raise RawscanError(f"'{path}' is not a result file rawscan reads (nmap or rawscan XML, "
                           "grepable, JSON Lines or CSV)")
    results = ResultSet(source=path)
    reader(text, path, results)
    return results


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as exc:
        raise RawscanError(f"cannot read '{path}': {exc.strerror}") from None


def _int(text: str | None, what: str, path: str) -> int:
    if text is None or not (text.strip().isascii() and text.strip().isdigit()) or \
            len(text.strip()) > 5 or int(text) > 65535:  # '²' is a digit to str.isdigit
        raise RawscanError(f"'{path}': {what} '{text}' is not a port number")
    return int(text)


def _port_ranges(text: str, path: str) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        first, last = _int(lo, "port", path), _int(hi or lo, "port", path)
        if first > last:
            raise RawscanError(f"'{path}': port range '{part[:40]}' runs backwards")
        ranges.append((first, last))
    return ranges


def _xml(text: str, path: str, results: ResultSet) -> None:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise RawscanError(f"'{path}' is not well-formed XML: {exc}") from None
    if root.tag != "nmaprun":
        raise RawscanError(f"'{path}' is XML but not nmap's format (root <{root.tag}>)")
    for host in root.iter("host"):
        ip = next((a.get("addr") for a in host.iter("address")
                   if a.get("addrtype", "ipv4") in ("ipv4", "ipv6")), None)
        if ip is None:
            continue
        name = next((h.get("name") for h in host.iter("hostname") if h.get("type") == "user"), None)
        status = host.find("status")
        if status is not None and status.get("state"):
            results.hosts[canonical_ip(ip)] = str(status.get("state"))
        for extra in host.iter("extraports"):
            for why in extra.iter("extrareasons"):
                if why.get("ports") and why.get("proto"):
                    for lo, hi in _port_ranges(why.get("ports", ""), path):
                        results.add_range(ip, why.get("proto", ""), lo, hi,
                                          extra.get("state", ""), name)
        for port in host.iter("port"):
            state = port.find("state")
            if state is None:
                continue
            service = port.find("service")
            ttl = state.get("reason_ttl")
            results.add(ip, port.get("protocol", ""), _int(port.get("portid"), "portid", path),
                        state.get("state", ""), name, details={
                            "reason": state.get("reason", ""),
                            # rawscan and nmap write 0 for no reply (no-response)
                            "ttl": int(ttl) if ttl and ttl.isdigit() and ttl != "0" else None,
                            # no <service>: nmap's (and rawscan's) way of saying unknown
                            "service": service.get("name", "") if service is not None else "unknown"})
        if name:
            results.names.setdefault(canonical_ip(ip), name)


def _jsonl(text: str, path: str, results: ResultSet) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if number == 1 and isinstance(record, dict) and "rawscan_shard" in record:
                continue  # a shard's plan record (rawscan/output/shardinfo.py)
            if isinstance(record, dict) and "host_note" in record and "port" not in record:
                continue  # a host's note (a SYN proxy), not a port
            if "port" not in record and isinstance(record.get("status"), str):  # rawscan ping
                results.hosts[canonical_ip(str(record["ip"]))] = record["status"]
                continue
            port = record["port"]
            if type(port) is not int or not 0 <= port <= 65535:  # 1e400 is a float: inf
                raise ValueError(port)
            results.add(str(record["ip"]), str(record["proto"]), port,
                        str(record["state"]), record.get("host"), details=record)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise RawscanError(f"'{path}' line {number}: not a rawscan JSON Lines record") from None


def _csv(text: str, path: str, results: ResultSet) -> None:
    rows = csv.DictReader(io.StringIO(text))
    for number, row in enumerate(rows, 2):
        try:
            if "port" not in row and row.get("status"):  # rawscan ping
                results.hosts[canonical_ip(row["ip"])] = row["status"]
                continue
            results.add(row["ip"], row["proto"], _int(row["port"], "port", path), row["state"],
                        row.get("host") or None, details=_csv_details(row))
        except (KeyError, TypeError):
            raise RawscanError(f"'{path}' line {number}: not a rawscan CSV row") from None


def _csv_details(row: dict[str, str]) -> dict[str, object]:
    """A CSV row's other columns as JSON Lines has them: ttl a number or None, empty text
    columns of a --banners scan left out."""
    details: dict[str, object] = {k: v for k, v in row.items()
                                  if k not in ("ip", "proto", "port", "state", "host") and v}
    ttl = row.get("ttl") or ""
    details["ttl"] = int(ttl) if ttl.isdigit() else None
    details.setdefault("reason", "")
    details.setdefault("service", "")
    if isinstance(details.get("tls"), str):  # JSON text in its column
        try:
            details["tls"] = json.loads(str(details["tls"]))
        except ValueError:
            pass
    return details


def _grepable(text: str, path: str, results: ResultSet) -> None:
    for line in text.splitlines():
        parts = line.split("\t")  # masscan puts a Timestamp: field before Host:
        host = next((m for m in map(_HOST_LINE.match, parts) if m), None)
        if host is None:
            continue
        ip, name = host.group(1), host.group(2) or None
        for part in parts:
            if part.startswith("Status: "):
                results.hosts[canonical_ip(ip)] = part[len("Status: "):].strip().lower()
            if not part.startswith("Ports: "):
                continue
            for entry in filter(None, (e.strip() for e in part[len("Ports: "):].split(","))):
                fields = entry.split("/")
                if len(fields) < 3:
                    raise RawscanError(f"'{path}': grepable port entry '{entry}' is not port/state/proto")
                results.add(ip, fields[2], _int(fields[0], "port", path), fields[1], name,
                            details={"service": fields[4] or "unknown"} if len(fields) > 4 else None)
