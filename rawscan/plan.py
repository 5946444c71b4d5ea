"""A scan's full description: enough to regenerate byte-identical probes (the pcap sidecar)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from . import __version__
from .errors import RawscanError
from .targets import TargetSet, int_to_ip

SIDECAR_FORMAT = "rawscan-scan/1"


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

    def to_json(self) -> str:
        import json

        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["argv"] = list(self.argv)
        data["sources"] = list(self.sources)
        data["targets"] = [list(r) for r in self.targets.ranges]
        data["names"] = {str(k): v for k, v in self.targets.names.items()}
        data["ports"] = compress_ports(self.ports)
        data["format"] = SIDECAR_FORMAT
        data["rawscan_version"] = __version__
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str) -> ScanPlan:
        import json

        try:
            data = json.loads(text)
            if data.get("format") != SIDECAR_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, not {SIDECAR_FORMAT!r}")
            ranges = tuple((int(lo), int(hi)) for lo, hi in data["targets"])
            names = {int(k): str(v) for k, v in data.get("names", {}).items()}
            return cls(
                scan=str(data["scan"]),
                targets=TargetSet(ranges, names),
                ports=expand_ports(str(data["ports"])),
                seed=int(data["seed"]),
                sources=tuple(_address(a) for a in data["sources"]),
                source_port=int(data["source_port"]),
                ttl=int(data["ttl"]),
                rate=float(data["rate"]),
                retries=int(data["retries"]),
                timeout=float(data["timeout"]),
                started=float(data.get("started", 0.0)),
                argv=tuple(data.get("argv", ())),
                payload_hex=data.get("payload_hex"),
                defeat_icmp_ratelimit=bool(data.get("defeat_icmp_ratelimit", False)),
                fixed_source_port=bool(data.get("fixed_source_port", False)),
                max_rate=_optional_rate(data.get("max_rate")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RawscanError(f"scan description '{origin}' is not usable: {exc}") from None


def _optional_rate(value: object) -> float | None:
    if value is None:
        return None
    rate = float(value)  # type: ignore[arg-type]
    if not rate > 0 or rate == float("inf"):
        raise ValueError(f"max_rate {value!r} is not a positive number")
    return rate


def _address(value: object) -> int:
    """A source address from the sidecar; ValueError unless it is one (either family)."""
    address = int(value)  # type: ignore[call-overload]
    int_to_ip(address)  # raises ValueError outside both families
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
