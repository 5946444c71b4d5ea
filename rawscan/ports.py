"""Port specifications (nmap syntax: '22,80', '1-1024', '-', 'T:80,U:53') and default lists."""

from __future__ import annotations

from dataclasses import dataclass

from rawscan.errors import RawscanError

__all__ = [
    "DEFAULT_TCP_PORTS",
    "DEFAULT_UDP_PORTS",
    "PortError",
    "PortSpec",
    "parse_ports",
    "port_class",
]

# Default lists, picked by hand from the IANA Service Name and Transport Protocol Port
# Number Registry: the assigned port of each widely deployed protocol, grouped by purpose.
# A few de facto ports (8080-style web alternates, Kafka, Elasticsearch, Docker, kubelet)
# are included because their IANA entry is unused in practice. Not derived from any scan
# frequency data and not copied from nmap-services or its top-ports list.
DEFAULT_TCP_PORTS: tuple[int, ...] = tuple(sorted({
    7, 9, 13, 19, 37, 79, 113,  # classic inetd services: echo discard daytime chargen time finger ident
    20, 21, 989, 990,  # file transfer: ftp-data ftp ftps-data ftps
    22, 23, 512, 513, 514, 3389, 5900,  # remote login: ssh telnet exec login shell rdp vnc
    25, 110, 143, 465, 587, 993, 995,  # mail: smtp pop3 imap submissions submission imaps pop3s
    53, 853,  # dns, dns over tls
    80, 443, 8000, 8008, 8080, 8081, 8443, 8888,  # web and its common alternates
    88, 389, 464, 636, 3268, 3269,  # directory: kerberos ldap kpasswd ldaps global catalog
    111, 135, 139, 445, 593, 2049,  # rpc and file sharing: sunrpc epmap netbios-ssn smb nfs
    5985, 5986,  # windows remote management
    119, 563,  # nntp nntps
    179, 1723, 1194, 3260,  # bgp pptp openvpn iscsi
    515, 631, 9100,  # printing: lpd ipp jetdirect
    548, 873,  # afp rsync
    1080, 3128,  # proxies: socks squid
    1433, 1521, 3306, 5432, 5984, 6379, 9042, 9200, 11211, 27017,  # databases and caches
    1883, 8883, 5671, 5672, 9092, 6667, 6697, 5222, 5269,  # messaging: mqtt amqp kafka irc xmpp
    5060, 5061, 1720, 554, 1935,  # voice and media: sip sips h.323 rtsp rtmp
    161, 199, 10000,  # management: snmp smux ndmp/webmin
    2375, 2376, 2379, 2380, 6443, 10250,  # containers: docker etcd kubernetes api kubelet
    102, 502, 20000, 44818,  # industrial: iso-tsap (s7) modbus dnp3 ethernet/ip
    5000, 8009, 8086, 9090,  # upnp ajp influxdb common admin consoles
}))

DEFAULT_UDP_PORTS: tuple[int, ...] = tuple(sorted({
    7, 19,  # echo chargen
    53, 5353, 5355,  # dns mdns llmnr
    67, 68, 69,  # dhcp server/client, tftp
    88, 389,  # kerberos, cldap
    111, 2049,  # sunrpc nfs
    123,  # ntp
    137, 138,  # netbios name and datagram
    161, 162,  # snmp, snmp traps
    177,  # xdmcp
    443,  # quic
    500, 4500, 1701, 1194,  # ipsec ike, ipsec nat-t, l2tp, openvpn
    514,  # syslog
    520,  # rip
    623,  # ipmi (asf-rmcp)
    1434,  # ms-sql monitor
    1812, 1813,  # radius auth/accounting
    1900,  # ssdp
    3478,  # stun
    4789,  # vxlan
    5060,  # sip
    11211,  # memcache
    47808,  # bacnet
}))

_MAX_PORT = 65535


class PortError(RawscanError):
    """A port specification the user gave cannot be used."""


@dataclass(frozen=True)
class PortSpec:
    tcp: tuple[int, ...]  # sorted, unique
    udp: tuple[int, ...]


def _number(text: str, item: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise PortError(f"invalid port item '{item}': '{text}' is not a number")
    digits = text.lstrip("0") or "0"
    # Compared as text first: int() refuses strings of more than 4,300 digits (ValueError).
    if len(digits) > len(str(_MAX_PORT)) or int(digits) > _MAX_PORT:
        raise PortError(f"invalid port item '{item}': {_short(text)} is out of range 0-65535")
    return int(digits)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _item(text: str, item: str) -> range:
    """One item after its prefix: 'N', 'A-B', '-B', 'A-', '-'. Open ends start at 1, as in
    nmap, so port 0 is only scanned when written explicitly."""
    if "-" not in text:
        port = _number(text, item)
        return range(port, port + 1)
    lo_text, _, hi_text = text.partition("-")
    lo = _number(lo_text, item) if lo_text else 1
    hi = _number(hi_text, item) if hi_text else _MAX_PORT
    if lo > hi:
        raise PortError(f"invalid port item '{item}': range is reversed")
    return range(lo, hi + 1)


def parse_ports(spec: str | None, *, default_proto: str = "tcp") -> PortSpec:
    """Parse an nmap-style port list; None gives the default list for default_proto."""
    if default_proto not in ("tcp", "udp"):
        raise ValueError(f"default_proto must be 'tcp' or 'udp', not {default_proto!r}")
    if spec is None:
        if default_proto == "tcp":
            return PortSpec(tcp=DEFAULT_TCP_PORTS, udp=())
        return PortSpec(tcp=(), udp=DEFAULT_UDP_PORTS)
    if not spec.strip():
        raise PortError("empty port list: give ports such as '22,80' or '1-1024'")
    chosen: dict[str, list[range]] = {"tcp": [], "udp": []}
    proto = default_proto
    for raw in spec.split(","):
        item = raw.strip()
        text = item
        # A T:/U: prefix switches the protocol for this and the following items.
        if ":" in item:
            prefix, _, text = item.partition(":")
            protos = {"T": "tcp", "U": "udp"}
            if prefix.upper() not in protos:
                raise PortError(f"invalid port item '{item}': unknown prefix '{prefix}:' (use T: or U:)")
            proto = protos[prefix.upper()]
            text = text.strip()
        if not text:
            raise PortError(f"invalid port list '{spec}': empty item")
        chosen[proto].append(_item(text, item))
    return PortSpec(tcp=_union(chosen["tcp"]), udp=_union(chosen["udp"]))


def _union(ranges: list[range]) -> tuple[int, ...]:
    """Sorted unique ports of overlapping ranges, each port touched once: '-' repeated
    50,000 times in one -p must not cost 50,000 x 65,535 set insertions (minutes)."""
    ports: list[int] = []
    top = -1  # highest port taken so far
    for r in sorted(ranges, key=lambda r: r.start):
        if r.stop - 1 > top:
            ports.extend(range(max(r.start, top + 1), r.stop))
            top = r.stop - 1
    return tuple(ports)


def port_class(port: int) -> str:
    """IANA range name: 'system' 0-1023, 'registered' 1024-49151, 'dynamic' 49152-65535."""
    if not 0 <= port <= _MAX_PORT:
        raise ValueError(f"port {port} is out of range 0-65535")
    if port < 1024:
        return "system"
    if port < 49152:
        return "registered"
    return "dynamic"
