"""rawscan ping's XML <host> (discovery/writers.host_xml): its fast path (cached status line, an
address written without quoting) is held equal to the readable one, built with _attrs."""

from __future__ import annotations

from hypothesis import given, strategies as st

from rawscan.addresses import V6, addr_to_str
from rawscan.discovery.hosts import HostResult
from rawscan.discovery.writers import host_xml
from rawscan.output.nmapxml import _attrs, addr_type


def readable(result: HostResult) -> str:
    lines = [f"<host><status{_attrs(state=result.status, reason=result.reason, reason_ttl=result.ttl or 0)}/>",
             f"<address{_attrs(addr=result.ip, addrtype=addr_type(result.ip))}/>"]
    if result.mac:
        lines.append(f"<address{_attrs(addr=result.mac.upper(), addrtype='mac')}/>")
    lines.append("<hostnames>")
    if result.host:
        lines.append(f"<hostname{_attrs(name=result.host, type='user')}/>")
    lines.append("</hostnames>")
    if result.rtt is not None:
        micros = max(1, int(result.rtt * 1e6))
        lines.append(f"<times{_attrs(srtt=micros, rttvar=max(micros // 2, 5000), to=max(100000, micros * 3))}/>")
    return "\n".join(lines + ["</host>"]) + "\n"


addresses = st.one_of(st.integers(0, (1 << 32) - 1), st.integers(V6, V6 + (1 << 128) - 1))


@given(address=addresses, up=st.booleans(), ttl=st.one_of(st.none(), st.integers(0, 255)),
       reason=st.sampled_from(["echo-reply", "syn-ack", "reset", "no-response", "host-unreach",
                               "arp-response", 'we"ird<&>']),
       rtt=st.one_of(st.none(), st.floats(0, 5)), mac=st.one_of(st.none(), st.just("aa:bb:cc:00:11:22")),
       name=st.one_of(st.none(), st.text(max_size=12)))
def test_fast_host_xml_is_the_readable_one(address: int, up: bool, ttl: int | None, reason: str,
                                           rtt: float | None, mac: str | None, name: str | None) -> None:
    result = HostResult(addr_to_str(address), "up" if up else "down", reason, ttl, rtt, mac, name)
    assert host_xml(result) == readable(result)
