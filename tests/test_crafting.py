"""crafting.py without Scapy: the struct SYN template is Scapy's packet byte for byte, and the
filter compiled through libpcap directly is the program Scapy's compile_filter gives."""

from __future__ import annotations

import ctypes
import random
import subprocess
import sys

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6

from rawscan import crafting
from rawscan.addresses import V6, addr_to_str, parse_addr
from rawscan.cookies import Cookie, derive_key
from rawscan.errors import RawscanError
from rawscan.payloads import payload_for
from rawscan.probes.base import ICMP_ERRORS_BPF
from rawscan.probes.tcp_syn import SynProbe
from rawscan.probes.udp import UdpProbe


def scapy_syn(src: int, ttl: int) -> bytes:
    """The template as Scapy builds it from the fields crafting.syn_template promises."""
    tcp = TCP(sport=0, dport=0, seq=0, flags="S", window=1024, options=[("MSS", 1460)], chksum=0)
    if src >= V6:
        return bytes(IPv6(src=addr_to_str(src), dst="::", hlim=ttl) / tcp)
    return bytes(IP(src=addr_to_str(src), dst="0.0.0.0", ttl=ttl, id=0, chksum=0) / tcp)


def random_sources(rng: random.Random, count: int) -> list[int]:
    edges = [0, 1, 0x7F000001, 0xFFFFFFFF, V6, V6 | 1, V6 | ((1 << 128) - 1)]
    v4 = [rng.getrandbits(32) for _ in range(count)]
    v6 = [V6 | rng.getrandbits(128) for _ in range(count)]
    return edges + v4 + v6


@pytest.mark.parametrize("seed", range(3))
def test_syn_template_is_scapys_packet(seed: int) -> None:
    rng = random.Random(seed)
    for src in random_sources(rng, 100):
        for ttl in (1, 64, 255, rng.randint(1, 255)):
            assert crafting.syn_template(src, ttl) == scapy_syn(src, ttl), (addr_to_str(src), ttl)


def scapy_program(expression: str) -> tuple[int, bytes]:
    compile_filter = pytest.importorskip("scapy.arch.common").compile_filter
    from scapy.data import DLT_RAW

    try:
        program = compile_filter(expression, linktype=DLT_RAW)
    except ImportError as exc:  # pragma: no cover - libpcap absent
        pytest.skip(f"libpcap is not installed: {exc}")
    return program.bf_len, ctypes.string_at(program.bf_insns, program.bf_len * 8)


V4_A, V4_B = parse_addr("198.18.0.1"), parse_addr("127.0.0.1")
V6_A, V6_B = parse_addr("2001:2::1"), parse_addr("::1")
SOURCE_SETS = [(V4_A,), (V6_A,), (V4_B, V6_B), (V4_A, V4_B, V6_A, V6_B)]


def probe_filters() -> list[str]:
    cookie = Cookie(derive_key(5, "cookie"))
    filters = []
    for sources in SOURCE_SETS:
        filters.append(SynProbe(sources, 40001, cookie).bpf_filter())
        filters.append(SynProbe(sources, 40001, cookie, sport_span=8).bpf_filter())
        filters.append(UdpProbe(sources, cookie, payload_for).bpf_filter())
    return filters


OTHER_FILTERS = ["tcp", "icmp6", ICMP_ERRORS_BPF, "tcp[13] & 2 != 0",
                 "ip6 and tcp and ip6[53] & 2 != 0", "dst host 127.0.0.1 and not port 22",
                 "udp and dst portrange 1024-65535",
                 "src net 198.18.0.0/15 or src net 2001:2::/48"]


@pytest.mark.parametrize("expression", probe_filters() + OTHER_FILTERS)
def test_compile_bpf_is_scapys_program(expression: str) -> None:
    ours = crafting.compile_bpf(expression)
    assert ours == scapy_program(expression)
    assert ours[0] > 0 and len(ours[1]) == ours[0] * 8


@pytest.mark.parametrize("expression", ["tcp and", "port 99999", "ether host 00:11:22:33:44:55",
                                        "bogus"])
def test_a_filter_that_does_not_compile_is_one_clear_error(expression: str) -> None:
    # (DLT_RAW has no link header: an Ethernet address cannot be filtered on)
    with pytest.raises(RawscanError, match="does not compile") as caught:
        crafting.compile_bpf(expression)
    assert expression in str(caught.value) and "\n" not in str(caught.value)


def test_missing_libpcap_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    monkeypatch.setattr(crafting, "_libpcap", None)
    monkeypatch.setattr(crafting, "_LIBPCAP_NAMES", ("libpcap-that-does-not-exist.so.9",))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(RawscanError, match="libpcap was not found"):
        crafting.compile_bpf("tcp")


def test_a_syn_scan_crafts_without_importing_scapy() -> None:
    code = ("import sys\n"
            "from rawscan.cookies import Cookie, derive_key\n"
            "from rawscan.crafting import compile_bpf\n"
            "from rawscan.probes.tcp_syn import SynProbe\n"
            "probe = SynProbe((0x7F000001, (1 << 128) | 1), 40001, Cookie(derive_key(1, 'c')))\n"
            "probe.build(0x7F000001, 22)\n"
            "compile_bpf(probe.bpf_filter())\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scapy'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
