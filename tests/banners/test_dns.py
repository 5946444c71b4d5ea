"""version.bind: the query is what dig sends, answers are parsed as Scapy builds them, and
the text names the product; anything else is no answer, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR

from rawscan.banners.dns import answer_text, identity, query


def scapy_answer(ident: int, text: str, rcode: int = 0) -> bytes:
    return bytes(DNS(id=ident, qr=1, rcode=rcode, qd=DNSQR(qname="version.bind", qtype="TXT", qclass="CH"),
                     an=DNSRR(rrname="version.bind", type="TXT", rclass="CH", rdata=text)))


def test_the_query_is_version_bind_chaos_txt() -> None:
    parsed = DNS(query(0x1234))
    assert parsed.id == 0x1234 and parsed.qr == 0 and parsed.rd == 0
    assert parsed.qd.qname == b"version.bind." and parsed.qd.qtype == 16 and parsed.qd.qclass == 3


@pytest.mark.parametrize("text, product, version", [
    ("dnsmasq-2.90", "dnsmasq", "2.90"), ("9.18.19-1~deb12u1-Debian", "ISC BIND", "9.18.19-1~deb12u1-Debian"),
    ("unbound 1.17.1", "Unbound", "1.17.1"), ("Knot DNS 3.2.6", "Knot DNS", "3.2.6"),
    ("PowerDNS Recursor 4.8.4", "PowerDNS", "4.8.4"), ("none of your business", "none of your business", None),
])
def test_answers_name_the_server(text: str, product: str, version: str | None) -> None:
    got = answer_text(scapy_answer(7, text), 7)
    assert got == text
    found = identity(got)
    assert (found.service, found.product, found.version) == ("domain", product, version)


def test_refusals_and_other_ids_are_no_answer() -> None:
    assert answer_text(scapy_answer(7, "dnsmasq-2.90", rcode=5), 7) is None
    assert answer_text(scapy_answer(7, "dnsmasq-2.90"), 8) is None
    assert answer_text(query(7), 7) is None  # a query, not a response


@given(st.binary(max_size=300), st.integers(0, 65535))
def test_any_bytes_are_an_answer_or_none(data: bytes, ident: int) -> None:
    text = answer_text(data, ident)
    assert text is None or isinstance(text, str)


def test_control_characters_never_reach_the_product() -> None:
    found = identity("evil\x1b[31m-server")
    assert found.product is not None and "\x1b" not in found.product
