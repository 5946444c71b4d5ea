"""UDP protocol probes: a datagram per well-known port that makes a real service answer.

Each is built once with Scapy's own protocol layer (SSDP and memcached have none: their text
requests are written here), with a marker where a per-probe cookie goes: the DNS/NetBIOS/
memcached transaction id, the SNMP request id, the NTP transmit timestamp, the DHCP xid or
the IKE initiator cookie. A genuine reply echoes it, so forged replies fail the check.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

CookieReader = Callable[[bytes], "int | None"]


@dataclass(frozen=True)
class Payload:
    name: str
    description: str
    template: bytes
    cookie_offset: int | None = None  # where the cookie is patched in
    cookie_size: int = 0  # 2, 4 or 8 bytes
    reply_cookie: CookieReader | None = None  # the echoed cookie in a reply, None if unreadable
    any_source_port: bool = False  # replies come from another port (TFTP answers from a new one)

    def cookie_value(self, cookie: int) -> int:
        """The value a probe carries for a 32-bit flow cookie (and its reply echoes)."""
        if self.cookie_size == 2:
            return cookie & 0xFFFF
        if self.cookie_size == 4:
            return (cookie & 0x3FFFFFFF) | 0x40000000  # always 4 bytes in BER, positive
        return (cookie << 32) | (cookie ^ 0x5A5A5A5A)

    def build(self, cookie: int) -> bytes:
        if self.cookie_offset is None:
            return self.template
        value = self.cookie_value(cookie).to_bytes(self.cookie_size, "big")
        end = self.cookie_offset + self.cookie_size
        return self.template[: self.cookie_offset] + value + self.template[end:]

    def accepts(self, reply: bytes, cookie: int) -> bool:
        """False when the reply is this protocol's answer and echoes another cookie.

        A reply in some other format (another service on the port) is still judged by the
        source-port cookie alone: it proves the port open all the same."""
        if self.reply_cookie is None:
            return True
        echoed = self.reply_cookie(reply)
        return echoed is None or echoed == self.cookie_value(cookie)


def _marked(name: str, description: str, template: bytes, marker: int, size: int,
            reader: CookieReader | None, **kw: bool) -> Payload:
    offset = template.find(marker.to_bytes(size, "big"))
    if offset < 0 or template.find(marker.to_bytes(size, "big"), offset + 1) >= 0:
        raise AssertionError(f"{name}: cookie marker not found exactly once")
    return Payload(name, description, template, offset, size, reader, **kw)


def _field(offset: int, size: int, is_answer: Callable[[bytes], bool]) -> CookieReader:
    """Read the echoed cookie, if the reply looks like this protocol's answer at all."""

    def read(reply: bytes) -> int | None:
        if len(reply) < offset + size or not is_answer(reply):
            return None
        return int.from_bytes(reply[offset : offset + size], "big")

    return read


def _dns_response(reply: bytes) -> bool:  # DNS, mDNS, NetBIOS: QR bit of the flags
    return len(reply) >= 12 and bool(reply[2] & 0x80)


def _ntp_server(reply: bytes) -> bool:
    return len(reply) >= 48 and reply[0] & 0x07 in (4, 5)  # server or broadcast mode


def _bootreply(reply: bytes) -> bool:
    return len(reply) >= 240 and reply[0] == 2


def _isakmp(reply: bytes) -> bool:
    return len(reply) >= 28 and reply[17] >> 4 == 1  # major version 1


def _memcached_frame(reply: bytes) -> bool:
    return len(reply) >= 8 and reply[6:8] == b"\0\0" and reply[4:6] != b"\0\0"


def _snmp_request_id(reply: bytes) -> int | None:
    from scapy.layers.snmp import SNMP  # replies on 161 are rare: Scapy's BER parser is fine

    if not reply.startswith(b"\x30"):  # not a BER SEQUENCE: not an SNMP answer
        return None
    try:
        return int(SNMP(reply).PDU.id.val)
    except Exception:  # malformed BER: cannot check, port cookie still applies
        return None


MARK2, MARK4, MARK8 = 0xC0DE, 0x7EADBEEF, 0x0123456789ABCDEF


def _dns(name: str, qname: str, qtype: str) -> Payload:
    from scapy.layers.dns import DNS, DNSQR

    query = bytes(DNS(id=MARK2, rd=1, qd=DNSQR(qname=qname, qtype=qtype)))
    return _marked(name, f"DNS query {qname} {qtype}", query, MARK2, 2, _field(0, 2, _dns_response))


def _ntp() -> Payload:
    from scapy.layers.ntp import NTPHeader

    request = bytes(NTPHeader(version=4, mode=3, stratum=0, poll=0, id="0.0.0.0", ref=0,
                              orig=0, recv=0, sent=0))
    # The transmit timestamp (bytes 40-47) comes back as the reply's origin timestamp (24-31).
    template = request[:40] + MARK8.to_bytes(8, "big")
    return _marked("ntp", "NTPv4 client request", template, MARK8, 8, _field(24, 8, _ntp_server))


def _snmp() -> Payload:
    from scapy.asn1.asn1 import ASN1_OID
    from scapy.layers.snmp import SNMP, SNMPget, SNMPvarbind

    get = SNMP(version="v2c", community="public", PDU=SNMPget(
        id=MARK4, varbindlist=[SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"))]))
    return _marked("snmp", "SNMPv2c get sysDescr.0, community public", bytes(get), MARK4, 4,
                   _snmp_request_id)


def _netbios() -> Payload:
    from scapy.layers.netbios import NBNSHeader, NBNSNodeStatusRequest

    request = bytes(NBNSHeader(NAME_TRN_ID=MARK2) / NBNSNodeStatusRequest())
    return _marked("netbios-ns", "NetBIOS node status request (*)", request, MARK2, 2,
                   _field(0, 2, _dns_response))


def _tftp() -> Payload:
    from scapy.layers.tftp import TFTP, TFTP_RRQ

    # Any TFTP server answers a read request, with data or an error, from a fresh port.
    request = bytes(TFTP() / TFTP_RRQ(filename=b"rawscan-probe", mode=b"octet"))
    return Payload("tftp", "TFTP read request", request, any_source_port=True)


def _dhcp() -> Payload:
    from scapy.layers.dhcp import BOOTP, DHCP

    discover = bytes(BOOTP(op=1, xid=MARK4, flags=0, chaddr=b"\x02\x00\x00\x00\x00\x01")
                     / DHCP(options=[("message-type", "inform"), "end"]))
    return _marked("dhcp", "DHCPINFORM (BOOTP request)", discover, MARK4, 4, _field(4, 4, _bootreply))


def _ike() -> Payload:
    from scapy.layers.isakmp import (ISAKMP, ISAKMP_payload_Proposal, ISAKMP_payload_SA,
                                     ISAKMP_payload_Transform)

    transform = ISAKMP_payload_Transform(transforms=[
        ("Encryption", "AES-CBC"), ("KeyLength", 128), ("Hash", "SHA"),
        ("Authentication", "PSK"), ("GroupDesc", "1024MODPgr"), ("LifeType", "Seconds"),
        ("LifeDuration", 28800)])
    sa = ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(trans=transform))
    request = bytes(ISAKMP(init_cookie=MARK8.to_bytes(8, "big"), exch_type=2) / sa)
    return _marked("ike", "IKEv1 main mode SA proposal", request, MARK8, 8, _field(0, 8, _isakmp))


def _rip() -> Payload:
    from scapy.layers.rip import RIP, RIPEntry

    request = bytes(RIP(cmd=1, version=2) / RIPEntry(AF=0, metric=16))
    return Payload("rip", "RIPv2 whole-table request", request)


def _ssdp() -> Payload:
    request = (b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
               b'MAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n')
    return Payload("ssdp", "SSDP M-SEARCH ssdp:all", request)


def _memcached() -> Payload:
    # UDP frame header: request id, sequence 0, 1 datagram, reserved; then a text command.
    request = struct.pack("!HHHH", MARK2, 0, 1, 0) + b"version\r\n"
    return _marked("memcached", "memcached version", request, MARK2, 2,
                   _field(0, 2, _memcached_frame))


BUILDERS: dict[int, Callable[[], Payload]] = {
    53: lambda: _dns("dns", ".", "NS"),
    67: _dhcp,
    69: _tftp,
    123: _ntp,
    137: _netbios,
    161: _snmp,
    500: _ike,
    520: _rip,
    1900: _ssdp,
    5353: lambda: _dns("mdns", "_services._dns-sd._udp.local", "PTR"),
    11211: _memcached,
}
EMPTY = Payload("empty", "empty datagram", b"")


@cache
def payload_for(port: int) -> Payload:
    builder = BUILDERS.get(port)
    return builder() if builder else EMPTY


def user_payload(data: bytes) -> Payload:
    return Payload("user", f"user data ({len(data)} bytes)", data)
