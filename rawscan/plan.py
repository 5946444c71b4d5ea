"""A scan's full description: enough to regenerate byte-identical probes (the pcap sidecar)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from . import __version__
from .addresses import addr_to_str
from .errors import RawscanError
from .targets import TargetSet

SIDECAR_FORMAT = "rawscan-scan/1"
MAX_SIDECAR = 16 * 1024 * 1024  # bytes: a real one is a few KB (argv, names of -iL hosts)


@dataclass(frozen=True)
class ScanPlan:
    scan: str  # probe module: "syn"
    targets: TargetSet
    ports: tuple[int, ...]
    seed: int
    sources: tuple[int, ...]  # our addresses (tagged ints, both families); probes are spread
    # over those of their target's family. Ints over 64 bits are fine in JSON.
    source_port: int  # TCP: the scan's source port (UDP derives one per probe)
    ttl: int = 64
    rate: float = 5000.0
    retries: int = 10
    timeout: float = 1.0
    started: float = 0.0  # epoch seconds
    argv: tuple[str, ...] = field(default=())
    payload_hex: str | None = None  # UDP: the user's datagram instead of protocol probes
    fixed_source_port: bool = False  # -g: every try from source_port (else one port per try)
    defeat_icmp_ratelimit: bool = False
    max_rate: float | None = None  # set: the rate adapts to the path up to it (rate: the start)
    # --banners: seconds a port may take (None: no banners) and connections at once; a
    # resumed scan grabs them too (when unset, resume reads them from argv)
    banner_timeout: float | None = None
    banner_concurrency: int = 256
    # --shards N --shard K: this scan probes shard K of N of the endpoints (rawscan/shards.py);
    # shards 0: one whole scan (no shard record in its outputs)
    shards: int = 0
    shard: int = 0
    workers: int = 0  # --workers N: N local processes, shard K each (shards = N)
    probes: str | None = None  # ping: the discovery probes (probes/ping.py); ports index them
    send_ip: bool = False  # ping: IP probes on a directly connected link too (no ARP / NDP)
    bandwidth: float | None = None  # --bandwidth: bits per second on the wire (bandwidth.py)
    max_targets: int | None = None  # --max-targets: endpoints in the keyed sample probed
    blocklisted: int = 0  # addresses the blocklists took out of the targets (for the report)
    blocklisted_reserved: int = 0  # ... of those, by the IANA special-purpose table

    def to_json(self) -> str:
        import json

        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["argv"] = list(self.argv)
        data["sources"] = list(self.sources)
        data["targets"] = _targets_json(self.targets)
        data["names"] = {str(k): v for k, v in self.targets.names.items()}
        data["ports"] = compress_ports(self.ports)
        data["format"] = SIDECAR_FORMAT
        data["rawscan_version"] = __version__
        if self.shards:
            from .shards import fingerprint

            data["fingerprint"] = fingerprint(self)
        else:
            del data["shards"], data["shard"]
        if not self.workers:
            del data["workers"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str) -> ScanPlan:
        import json

        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("it is not a JSON object")
            if data.get("format") != SIDECAR_FORMAT:
                raise ValueError(f"format is {str(data.get('format'))[:40]!r}, not {SIDECAR_FORMAT!r}")
            ranges = _targets_from_json(data["targets"])
            names = {_int(k, "names"): _str(v, "names")
                     for k, v in _dict(data.get("names", {}), "names").items()}
            plan = cls(
                scan=_choice(data["scan"], "scan", SCAN_KINDS),
                targets=TargetSet(ranges, names),
                ports=expand_ports(_str(data["ports"], "ports")),
                seed=_int(data["seed"], "seed", 0, 2**64 - 1),
                sources=tuple(_address(a) for a in _list(data["sources"], "sources", 256)),
                source_port=_int(data["source_port"], "source_port", 0, 65535),
                ttl=_int(data["ttl"], "ttl", 1, 255),
                rate=_number(data["rate"], "rate", 0.1, 1e9),
                retries=_int(data["retries"], "retries", 0, 50),
                timeout=_number(data["timeout"], "timeout", 0.0, 1e6),
                started=_number(data.get("started", 0.0), "started", 0.0, 1e11),
                argv=tuple(_str(a, "argv") for a in _list(data.get("argv", []), "argv", 4096)),
                payload_hex=_payload(data.get("payload_hex")),
                defeat_icmp_ratelimit=_bool(data.get("defeat_icmp_ratelimit", False)),
                fixed_source_port=_bool(data.get("fixed_source_port", False)),
                max_rate=_optional_rate(data.get("max_rate")),
                banner_timeout=_optional_timeout(data.get("banner_timeout")),
                banner_concurrency=_int(data.get("banner_concurrency", 256), "banner_concurrency", 1, 4096),
                shards=_int(data.get("shards", 0), "shards", 0, 1 << 20),
                shard=_int(data.get("shard", 0), "shard", 0, 1 << 20),
                workers=_int(data.get("workers", 0), "workers", 0, 64),
                probes=_probes(data.get("probes")),
                send_ip=_bool(data.get("send_ip", False)),
                bandwidth=_optional_number(data.get("bandwidth"), "bandwidth", 1.0, 1e12),
                max_targets=_optional_int(data.get("max_targets"), "max_targets", 1, 2**64),
                blocklisted=_int(data.get("blocklisted", 0), "blocklisted", 0, 2**129),
                blocklisted_reserved=_int(data.get("blocklisted_reserved", 0),
                                          "blocklisted_reserved", 0, 2**129),
            )
            if plan.shards and plan.shard >= plan.shards:
                raise ValueError(f"shard {plan.shard} is not one of 0..{plan.shards - 1}")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
                OverflowError) as exc:
            why = "it nests too deeply" if isinstance(exc, RecursionError) else exc
            raise RawscanError(f"scan description '{origin}' is not usable: {why}") from None
        if not plan.targets.ranges or not plan.ports or not plan.sources:
            raise RawscanError(f"scan description '{origin}' is not usable: it names no targets, "
                               f"ports or sources")
        return plan


def _targets_json(targets: TargetSet) -> object:
    """[lo, hi] pairs; packed arrays for a large set (a million-line -iL)."""
    from .ranges import PACKED_MIN, RangeList, pack

    ranges = targets.ranges
    if len(ranges) > PACKED_MIN and isinstance(ranges, RangeList):
        return pack(ranges)
    return [list(r) for r in ranges]


def _targets_from_json(value: object) -> Any:
    if isinstance(value, dict):
        from .ranges import unpack

        return unpack(value)
    ranges = []
    for pair in _list(value, "targets", 1 << 16):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError("targets: not a list of [lo, hi] pairs")
        ranges.append((_int(pair[0], "targets"), _int(pair[1], "targets")))
    return tuple(ranges)


SCAN_KINDS = ("syn", "udp", "ack", "fin", "null", "xmas", "ping")  # the probe modules rawscan.scan.PROBE_MODULES knows


def _int(value: object, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """JSON integers only (no floats, bools, strings of digits in other scripts), in range."""
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit() and len(value) < 45:
        value = int(value)  # names' keys: JSON object keys are strings
    if type(value) is not int:
        raise ValueError(f"{name}: {str(value)[:40]!r} is not an integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name}: {value} is out of range")
    return value


def _number(value: object, name: str, lo: float, hi: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):  # JSON true is no number
        raise ValueError(f"{name}: {str(value)[:40]!r} is not a number")
    number = float(value)
    if not lo <= number <= hi:  # NaN too
        raise ValueError(f"{name}: {str(value)[:40]} is not within {lo:g}-{hi:g}")
    return number


def _str(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) > 65536:
        raise ValueError(f"{name}: not a string of reasonable length")
    return value


def _list(value: object, name: str, most: int) -> list[object]:
    if not isinstance(value, list) or len(value) > most:
        raise ValueError(f"{name}: not a list of at most {most}")
    return value


def _dict(value: object, name: str) -> dict[str, object]:
    if not isinstance(value, dict) or len(value) > 1 << 16:
        raise ValueError(f"{name}: not an object of reasonable size")
    return value


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name}: {str(value)[:40]!r} is not one of {', '.join(allowed)}")
    return str(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{str(value)[:40]!r} is not true or false")
    return value


def _payload(value: object) -> str | None:
    if value is None:
        return None
    text = _str(value, "payload_hex")
    if len(text) > 2 * 65507:
        raise ValueError("payload_hex: longer than a UDP datagram")
    return bytes.fromhex(text).hex()


def check_replayable(plan: ScanPlan, origin: str) -> None:
    """The live scans' size guard, for a description read from a file: replaying (or checking
    replies against) a claimed scan of billions of probes would take hours and gigabytes."""
    from .limits import LARGE_PROBE_LIMIT, is_large

    if is_large(len(plan.targets), len(plan.ports)):
        raise RawscanError(
            f"scan description '{origin}' claims {len(plan.targets) * len(plan.ports):,} probes, "
            f"more than rawscan replays ({LARGE_PROBE_LIMIT:,})")


def _optional_rate(value: object) -> float | None:
    if value is None:
        return None
    rate = _number(value, "max_rate", 1.0, 1e9)
    if not rate > 0 or rate == float("inf"):
        raise ValueError(f"max_rate {value!r} is not a positive number")
    return rate


def _optional_number(value: object, name: str, lo: float, hi: float) -> float | None:
    return None if value is None else _number(value, name, lo, hi)


def _optional_int(value: object, name: str, lo: int, hi: int) -> int | None:
    return None if value is None else _int(value, name, lo, hi)


def _optional_timeout(value: object) -> float | None:
    return None if value is None else _number(value, "banner_timeout", 0.1, 60.0)


def _probes(value: object) -> str | None:
    """ping's probe list, as parse_probes reads it (ValueError otherwise)."""
    if value is None:
        return None
    from .probes.ping import parse_probes, probes_text

    try:
        return probes_text(parse_probes(_str(value, "probes")))
    except RawscanError as exc:
        raise ValueError(str(exc)) from None


def _address(value: object) -> int:
    """A source address from the sidecar; ValueError unless it is one (either family)."""
    address = _int(value, "sources", 0)
    addr_to_str(address)  # raises ValueError outside both families
    return address


def random_seed() -> int:
    """63 bits from the OS's CSPRNG (what secrets.randbits reads, without importing it)."""
    return int.from_bytes(os.urandom(8), "big") >> 1


def sidecar_path(capture: str) -> str:
    return capture + ".json"


def compress_ports(ports: tuple[int, ...]) -> str:
    """(1,2,3,7) -> "1-3,7": a full -p- stays one short string."""
    parts: list[str] = []
    i = 0
    while i < len(ports):
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        parts.append(str(ports[i]) if i == j else f"{ports[i]}-{ports[j]}")
        i = j + 1
    return ",".join(parts)


def expand_ports(text: str) -> tuple[int, ...]:
    """"1-3,7" -> (1, 2, 3, 7). ValueError for anything but ports 0-65535: a damaged sidecar
    must not ask for a list of billions."""
    ports: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if not 0 <= first <= last <= 65535:
            raise ValueError(f"'{part[:40]}' is not a range of ports 0-65535")
        ports.extend(range(first, last + 1))
        if len(ports) > 65536:
            raise ValueError("more than 65,536 ports")
    return tuple(ports)
