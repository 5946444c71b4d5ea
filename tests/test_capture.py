"""read_ip_packets on small captures built here: formats, link types, and every kind of damage."""

from __future__ import annotations

import gc
import gzip
import random
import struct
import tracemalloc
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from scapy.config import conf
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet
from scapy.utils import PcapNgWriter, PcapWriter, wrpcap

from rawscan import capture
from rawscan.capture import (
    CapturedPacket,
    CaptureError,
    CaptureTruncated,
    read_ip_packets,
)

from tests.support.captures import read_bulk
from tests.support.paths import PCAPS

T0 = 1_700_000_000


@pytest.fixture(autouse=True)
def _no_neighbor_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    # Scapy resolves a missing Ether dst by ARPing the real network; make that a loud failure.
    def refuse(*_: object) -> None:
        raise AssertionError("test built a frame that makes Scapy resolve a MAC address")

    monkeypatch.setattr(conf.neighbor, "resolve", refuse)


def eth(**fields: Any) -> Ether:
    # Explicit addresses: a missing dst would make Scapy ARP on the real network.
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", **fields)


def v4(n: int = 0) -> IP:
    return IP(src="198.18.0.1", dst="198.18.0.2", id=n) / TCP(sport=40000 + n, dport=80)


def v6(n: int = 0) -> IPv6:
    return IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=40000 + n, dport=53)


def ip_of(p: Packet) -> bytes:
    return bytes(p[IPv6] if IPv6 in p else p[IP])


def read(path: Path | str) -> list[CapturedPacket]:
    return list(read_ip_packets(str(path)))


def read_until_error(path: Path) -> tuple[list[CapturedPacket], CaptureError]:
    got: list[CapturedPacket] = []
    with pytest.raises(CaptureError) as info:
        for p in read_ip_packets(str(path)):
            got.append(p)
    return got, info.value


# --- hand-built files, for what Scapy's writers cannot produce ---------------------------


def pcap_bytes(
    frames: Iterable[bytes], linktype: int, endian: str = "<", nano: bool = False
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for i, f in enumerate(frames):
        out.append(struct.pack(endian + "IIII", T0 + i, 0, len(f), len(f)) + f)
    return b"".join(out)


def block(btype: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def shb(endian: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)


def idb(linktype: int, endian: str = "<", options: bytes = b"", snaplen: int = 0) -> bytes:
    if options:
        options += struct.pack(endian + "HH", 0, 0)
    return block(1, struct.pack(endian + "HHI", linktype, 0, snaplen) + options, endian)


def option(code: int, value: bytes, endian: str = "<") -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def epb(iface: int, ts: int, frame: bytes, endian: str = "<") -> bytes:
    head = struct.pack(endian + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
    return block(6, head + frame, endian)


def ether_frames(n: int) -> list[bytes]:
    return [bytes(eth() / v4(i)) for i in range(n)]


def many_frames(n: int) -> list[bytes]:
    # Cheap distinct frames (a counter in the Ethernet trailer), so gzip has real work to do.
    base = ether_frames(1)[0]
    return [base + struct.pack(">I", i * 2654435761 % 2**32) for i in range(n)]


# --- formats -----------------------------------------------------------------------------


def test_pcap_ethernet_vlan_and_non_ip(tmp_path: Path) -> None:
    frames: list[Packet] = [
        eth() / v4(1),  # 1
        eth() / ARP(psrc="198.18.0.1", pdst="198.18.0.2"),  # 2: not IP
        eth() / Dot1Q(vlan=7) / v4(3),  # 3
        eth() / Dot1AD(vlan=200) / Dot1Q(vlan=7) / v6(4),  # 4: QinQ
        eth() / v6(5),  # 5
        eth() / Dot1Q(vlan=7) / ARP(),  # 6: not IP
        eth(type=0x0800) / bytes(v6(7)),  # 7: ethertype says v4, header says v6
        eth() / Dot1Q(vlan=7, type=0x86DD),  # 8: tag, then nothing
    ]
    for i, f in enumerate(frames):
        f.time = T0 + i + 0.5
    path = tmp_path / "eth.pcap"
    wrpcap(str(path), frames)
    with path.open("ab") as out:  # 9: a frame shorter than an Ethernet header
        out.write(struct.pack("<IIII", T0 + 9, 0, 10, 10) + b"\x02" * 10)

    got = read(path)
    assert [p.number for p in got] == [1, 3, 4, 5]
    assert [p.ip for p in got] == [ip_of(frames[i - 1]) for i in (1, 3, 4, 5)]
    assert [p.time for p in got] == [T0 + i - 1 + 0.5 for i in (1, 3, 4, 5)]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_precision(tmp_path: Path, endian: str, nano: bool) -> None:
    pkts = [eth() / v4(i) for i in range(3)]
    for i, p in enumerate(pkts):
        p.time = T0 + i + 0.123456789
    path = tmp_path / "t.pcap"
    with PcapWriter(str(path), endianness=endian, nano=nano) as w:
        w.write(pkts)
    got = read(path)
    assert [p.ip for p in got] == [ip_of(p) for p in pkts]
    tolerance = 2e-9 if nano else 1e-6
    assert all(abs(g.time - float(p.time)) <= tolerance for g, p in zip(got, pkts, strict=True))


def test_gzip_pcap_and_pcapng(tmp_path: Path) -> None:
    pkts = [eth() / v4(i) for i in range(50)]
    wrpcap(str(tmp_path / "a.pcap.gz"), pkts, gz=True)
    ng = tmp_path / "a.pcapng"
    with PcapNgWriter(str(ng)) as w:
        w.write(pkts)
    (tmp_path / "a.pcapng.gz").write_bytes(gzip.compress(ng.read_bytes()))
    expected = [ip_of(p) for p in pkts]
    assert [p.ip for p in read(tmp_path / "a.pcap.gz")] == expected
    assert [p.ip for p in read(tmp_path / "a.pcapng.gz")] == expected


def test_pcapng_several_interfaces_with_different_link_types(tmp_path: Path) -> None:
    pkts: list[Packet] = [
        eth() / v4(1),
        CookedLinux(proto=0x86DD) / v6(2),
        v4(3),  # written as LINKTYPE_IPV4 (228)
        CookedLinuxV2(proto=0x0800) / v4(4),
        eth() / ARP(),
        CookedLinux(proto=0x0806) / ARP(),
    ]
    ifnames = ["eth0", "any", "tun0", "any2", "eth0", "any"]
    for i, (p, ifname) in enumerate(zip(pkts, ifnames, strict=True)):
        p.sniffed_on = ifname
        p.time = T0 + i + 0.25
    path = tmp_path / "multi.pcapng"
    with PcapNgWriter(str(path)) as w:
        w.write(pkts)
    got = read(path)
    assert [p.number for p in got] == [1, 2, 3, 4]
    assert [p.ip for p in got] == [ip_of(p) for p in pkts[:4]]
    assert [p.time for p in got] == [T0 + i + 0.25 for i in range(4)]


def test_pcapng_sections_blocks_and_timestamp_options(tmp_path: Path) -> None:
    a, b, c, d = (bytes(v4(i)) for i in range(4))
    custom = block(0x00000BAD, b"ignored")
    spb_body = struct.pack("<I", len(b)) + b
    pb = block(2, struct.pack("<HHIIII", 0, 0, 0, 5, len(c), len(c)) + c)
    path = tmp_path / "sections.pcapng"
    path.write_bytes(
        shb(">")  # big-endian section: nanosecond interface with a 100 s offset
        + idb(101, ">", option(9, b"\x09", ">") + option(14, struct.pack(">q", 100), ">"))
        + epb(0, 1_500_000_000, a, ">")
        + shb("<")  # new little-endian section: interfaces start over
        + idb(228, "<", option(9, b"\x81"))  # 2^-1 s units
        + block(3, spb_body)  # Simple Packet Block: no timestamp
        + custom
        + pb  # obsolete Packet Block
        + epb(0, 2 * T0 + 1, d)
    )
    got = read(path)
    assert [(p.number, p.ip) for p in got] == [(1, a), (2, b), (3, c), (4, d)]
    assert [p.time for p in got] == [101.5, 0.0, 2.5, T0 + 0.5]


V4, V6 = bytes(v4()), bytes(v6())
LINK_CASES: dict[str, tuple[int, bytes, bytes | None]] = {
    # name: (link type, frame, the IP packet expected from it or None)
    "sll-v4": (113, bytes(CookedLinux(proto=0x0800)) + V4, V4),
    "sll-v6": (113, bytes(CookedLinux(proto=0x86DD)) + V6, V6),
    "sll-arp": (113, bytes(CookedLinux(proto=0x0806) / ARP()), None),
    "sll-short": (113, bytes(CookedLinux(proto=0x0800))[:12], None),
    "sll2-v4": (276, bytes(CookedLinuxV2(proto=0x0800)) + V4, V4),
    "sll2-v6": (276, bytes(CookedLinuxV2(proto=0x86DD)) + V6, V6),
    "sll2-short": (276, b"\x08\x00" + b"\0" * 10, None),
    "raw-v4": (101, V4, V4),
    "raw-v6": (101, V6, V6),
    "raw-junk": (101, b"\x20junk", None),
    "raw-empty": (101, b"", None),
    "dlt12-v4": (12, V4, V4),
    "dlt14-v6": (14, V6, V6),
    "ipv4-lt": (228, V4, V4),
    "ipv4-lt-given-v6": (228, V6, None),
    "ipv6-lt": (229, V6, V6),
    "null-le-v4": (0, struct.pack("<I", 2) + V4, V4),
    "null-be-v4": (0, struct.pack(">I", 2) + V4, V4),
    "null-le-v6-linux": (0, struct.pack("<I", 10) + V6, V6),
    "null-le-v6-windows": (0, struct.pack("<I", 23) + V6, V6),
    "null-le-v6-freebsd": (0, struct.pack("<I", 28) + V6, V6),
    "null-le-v6-darwin": (0, struct.pack("<I", 30) + V6, V6),
    "null-v6-family-given-v4": (0, struct.pack("<I", 30) + V4, None),
    "null-be-v6-openbsd": (0, struct.pack(">I", 24) + V6, V6),
    "null-other-family": (0, struct.pack("<I", 7) + V4, None),
    "null-short": (0, b"\x02\0", None),
    "loop-v4": (108, struct.pack(">I", 2) + V4, V4),
    "loop-v6": (108, struct.pack(">I", 24) + V6, V6),
    "loop-le-is-wrong": (108, struct.pack("<I", 2) + V4, None),
    "ether-v6": (1, bytes(eth(type=0x86DD)) + V6, V6),
    "ether-v6-given-v4": (1, bytes(eth(type=0x86DD)) + V4, None),
    "ether-v6-empty": (1, bytes(eth(type=0x86DD)), None),
    "ether-vlan-v6": (1, bytes(eth(type=0x8100) / Dot1Q(vlan=9, type=0x86DD)) + V6, V6),
    # the upper bits of a pcap link type carry FCS information
    "ether-fcs-bits": (0x30000001, bytes(eth(type=0x0800)) + V4, V4),
    "unsupported-lt": (147, V4, None),
}


@pytest.mark.parametrize("name", list(LINK_CASES))
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_link_types(tmp_path: Path, name: str, fmt: str) -> None:
    linktype, frame, expected = LINK_CASES[name]
    path = tmp_path / f"t.{fmt}"
    if fmt == "pcap":
        path.write_bytes(pcap_bytes([frame], linktype))
    else:  # pcapng link types are 16 bits: no FCS bits there
        path.write_bytes(shb() + idb(linktype & 0xFFFF) + epb(0, T0 * 10**6, frame))
    got = read(path)
    assert got == ([] if expected is None else [CapturedPacket(1, float(T0), expected)])


def test_packets_are_frozen_values(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_bytes(ether_frames(1), 1))
    (p,) = read(path)
    assert p == CapturedPacket(1, float(T0), bytes(v4(0)))
    assert hash(p) == hash(CapturedPacket(1, float(T0), bytes(v4(0))))
    with pytest.raises(AttributeError):
        p.number = 2  # type: ignore[misc]


# --- not a capture -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.pcap"
    with pytest.raises(CaptureError) as info:
        read_ip_packets(str(path))  # at call time, before iterating
    assert str(info.value) == f"cannot open capture '{path}': No such file or directory"
    assert not isinstance(info.value, CaptureTruncated)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"cannot open capture .*: Is a directory"):
        read_ip_packets(str(tmp_path))


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xd4\xc3",
        b"hello, this is not a capture at all\n" * 10,
        gzip.compress(b"plain text, gzip'd"),
        b"\x1f\x8b\x08\x00garbage after a gzip magic",
        shb()[:8] + b"\x11\x22\x33\x44" + shb()[12:],  # pcapng block type, bad byte-order mark
    ],
    ids=["empty", "two-bytes", "text", "gzip-text", "bad-gzip", "pcapng-bad-bom"],
)
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as info:
        read_ip_packets(str(path))
    assert str(info.value) == f"'{path}' is not a pcap or pcapng capture"


def test_pcap_header_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes([], 1)[:20])
    with pytest.raises(CaptureTruncated) as info:
        read_ip_packets(str(path))
    assert info.value.packets_read == 0
    assert "file header is cut short" in str(info.value)


def test_empty_but_valid_captures(tmp_path: Path) -> None:
    (tmp_path / "a.pcap").write_bytes(pcap_bytes([], 1))
    (tmp_path / "b.pcapng").write_bytes(shb())
    assert read(tmp_path / "a.pcap") == []
    assert read(tmp_path / "b.pcapng") == []


# --- damage part way ---------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 10, 17, 40])
def test_pcap_truncated_tail(tmp_path: Path, cut: int) -> None:
    data = pcap_bytes(ether_frames(5), 1)
    path = tmp_path / "t.pcap"
    path.write_bytes(data[:-cut])
    got, err = read_until_error(path)
    record = 16 + len(ether_frames(1)[0])
    assert isinstance(err, CaptureTruncated)
    assert [p.number for p in got] == [1, 2, 3, 4]
    assert err.packets_read == 4
    assert err.frame == 5
    assert err.offset == 24 + 4 * record
    assert f"damaged at frame 5 (byte offset {err.offset})" in str(err)
    assert "\n" not in str(err)


def test_pcap_bogus_record_length_mid_file(tmp_path: Path) -> None:
    data = bytearray(pcap_bytes(ether_frames(5), 1))
    record = 16 + len(ether_frames(1)[0])
    struct.pack_into("<I", data, 24 + 2 * record + 8, 0xFFFFFFF0)  # frame 3's caplen
    path = tmp_path / "t.pcap"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        got, err = read_until_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [p.number for p in got] == [1, 2]
    assert isinstance(err, CaptureTruncated) and err.frame == 3 and err.packets_read == 2
    assert "bogus record length 4294967280" in str(err)
    assert peak < 1 << 20  # nothing sized by the bogus length


def test_pcap_non_ip_frames_count_but_are_not_read(tmp_path: Path) -> None:
    arp = bytes(eth() / ARP())
    data = pcap_bytes([arp, *ether_frames(1), arp], 1)
    path = tmp_path / "t.pcap"
    path.write_bytes(data[:-5])
    got, err = read_until_error(path)
    assert [p.number for p in got] == [2]
    assert isinstance(err, CaptureTruncated) and err.packets_read == 1 and err.frame == 3


def pcapng_bytes(n: int) -> bytes:
    packets = b"".join(epb(0, T0 * 10**6 + i, f) for i, f in enumerate(ether_frames(n)))
    return shb() + idb(1) + packets


@pytest.mark.parametrize("cut", [1, 4, 12, 30])
def test_pcapng_truncated_tail(tmp_path: Path, cut: int) -> None:
    data = pcapng_bytes(4)
    path = tmp_path / "t.pcapng"
    path.write_bytes(data[:-cut])
    got, err = read_until_error(path)
    assert [p.number for p in got] == [1, 2, 3]
    assert isinstance(err, CaptureTruncated)
    assert err.packets_read == 3 and err.frame == 4
    assert err.offset == len(data) - len(epb(0, 0, ether_frames(1)[0]))


@pytest.mark.parametrize(
    ("length", "why"),
    [
        (0xFFFFFFF0, "bogus block length"),
        (0x7FFFFFFC, "bogus block length"),
        (8, "bogus block length"),
        (102, "bogus block length"),  # not a multiple of 4
        (200_000, "block cut short"),  # plausible length, past the end of the file
        (64, "leading and trailing lengths disagree"),
    ],
)
def test_pcapng_bogus_block_length(tmp_path: Path, length: int, why: str) -> None:
    data = bytearray(pcapng_bytes(4))
    third = len(shb()) + len(idb(1)) + 2 * len(epb(0, 0, ether_frames(1)[0]))
    struct.pack_into("<I", data, third + 4, length)
    path = tmp_path / "t.pcapng"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        got, err = read_until_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [p.number for p in got] == [1, 2]
    assert isinstance(err, CaptureTruncated) and err.frame == 3 and err.offset == third
    assert why in str(err)
    assert peak < 2 << 20


def test_pcapng_packet_overrunning_its_block(tmp_path: Path) -> None:
    frame = ether_frames(1)[0]
    bad = bytearray(epb(0, 0, frame))
    struct.pack_into("<I", bad, 8 + 12, len(frame) + 100)  # caplen
    path = tmp_path / "t.pcapng"
    path.write_bytes(shb() + idb(1) + epb(0, 0, frame) + bytes(bad))
    got, err = read_until_error(path)
    assert len(got) == 1 and "overruns its block" in str(err)


def test_pcapng_packet_on_undeclared_interface(tmp_path: Path) -> None:
    frame = ether_frames(1)[0]
    path = tmp_path / "t.pcapng"
    path.write_bytes(shb() + idb(1) + epb(0, 0, frame) + epb(3, 0, frame))
    got, err = read_until_error(path)
    assert len(got) == 1 and isinstance(err, CaptureTruncated) and err.frame == 2
    assert "undeclared interface 3" in str(err)


def test_gzip_truncated(tmp_path: Path) -> None:
    packed = gzip.compress(pcap_bytes(many_frames(2000), 1))
    path = tmp_path / "t.pcap.gz"
    path.write_bytes(packed[: len(packed) // 2])
    got, err = read_until_error(path)
    assert isinstance(err, CaptureTruncated)
    assert 0 < len(got) < 2000 and err.packets_read == len(got)
    assert [p.number for p in got] == list(range(1, len(got) + 1))


def test_gzip_complete_but_stream_ends_early(tmp_path: Path) -> None:
    packed = gzip.compress(pcap_bytes(ether_frames(3), 1))
    path = tmp_path / "t.pcap.gz"
    path.write_bytes(packed[:-8])  # drop the CRC/size trailer: every record is still there
    got, err = read_until_error(path)
    assert isinstance(err, CaptureTruncated)
    assert len(got) == 3 and err.packets_read == 3
    assert "compressed stream ends early" in str(err)


def test_gzip_corrupt(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(pcap_bytes(many_frames(2000), 1), compresslevel=1))
    for i in range(len(packed) // 2, len(packed) // 2 + 64):
        packed[i] ^= 0x5A
    path = tmp_path / "t.pcap.gz"
    path.write_bytes(bytes(packed))
    got, err = read_until_error(path)
    assert isinstance(err, CaptureTruncated) and err.packets_read == len(got) < 2000


# --- resources ---------------------------------------------------------------------------


def test_unused_or_abandoned_reader_closes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_bytes(ether_frames(3), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        it = read_ip_packets(str(path))
        del it
        it = read_ip_packets(str(path))
        next(it)
        del it
        gc.collect()


def test_streams_large_captures_in_small_memory(tmp_path: Path) -> None:
    frame = ether_frames(1)[0]
    path = tmp_path / "big.pcap"
    n = 20_000
    with path.open("wb") as f:
        f.write(pcap_bytes([], 1))
        f.write((struct.pack("<IIII", T0, 0, len(frame), len(frame)) + frame) * n)
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_ip_packets(str(path)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 1 << 20  # the file is 1.4 MB


# --- batches: the bulk reader of rawscan analyze ------------------------------------------


def mixed_frames(n: int) -> list[bytes]:
    """Frames of many sizes: IPv4, IPv6, VLAN-tagged, ARP, cut Ethernet headers, and a
    version nibble that disagrees with the ethertype."""
    kinds = [
        lambda i: bytes(eth() / v4(i)),
        lambda i: bytes(eth() / v6(i)) + b"x" * (i % 300),
        lambda i: bytes(eth() / Dot1Q(vlan=i % 4000) / v4(i)),
        lambda i: bytes(eth() / Dot1AD(vlan=5) / Dot1Q(vlan=6) / v6(i)),
        lambda i: bytes(eth() / ARP()),
        lambda i: bytes(eth() / v4(i))[: i % 15],
        lambda i: bytes(eth(type=0x86DD) / v4(i)),
    ]
    return [kinds[i % len(kinds)](i) for i in range(n)]


def _read_until_error_or_end(path: Path) -> tuple[list[CapturedPacket], CaptureError | None]:
    got: list[CapturedPacket] = []
    try:
        for p in read_ip_packets(str(path)):
            got.append(p)
    except CaptureError as exc:
        return got, exc
    return got, None


@pytest.mark.parametrize("fmt", ["pcap", "pcap-nano-be", "pcapng", "pcap.gz"])
def test_batches_give_the_packets_read_ip_packets_gives(tmp_path: Path, fmt: str) -> None:
    """Whatever the batch size (records split across buffers at every kind of boundary),
    and wherever the file is cut, the bulk reader gives the same packets, frame numbers,
    times and damage report as read_ip_packets."""
    frames = mixed_frames(700)
    if fmt.startswith("pcapng"):
        data = shb() + idb(1, options=option(9, b"\x09")) + b"".join(
            epb(0, (T0 + i) * 10**9 + i * 7919, f) for i, f in enumerate(frames))
    else:
        data = pcap_bytes(frames, 1, ">" if "be" in fmt else "<", nano="nano" in fmt)
    rng = random.Random(fmt)
    for cut in [len(data), *(rng.randrange(24, len(data)) for _ in range(6))]:
        path = tmp_path / f"c.{fmt}"
        path.write_bytes(gzip.compress(data[:cut]) if fmt.endswith(".gz") else data[:cut])
        got, err = _read_until_error_or_end(path)
        expected = ([(p.number, p.time, p.ip) for p in got], str(err) if err is not None else None)
        assert len(expected[0]) > 0
        for ahead in (0, 1000, 4096, 1 << 20):
            assert read_bulk(path, ahead) == expected, (cut, ahead)


# --- capture bombs and absurd pcapng offsets ------------------------------------------------


def _gzip_bomb(path: Path, inflated: int) -> int:
    """A valid pcap of one repeated frame: deflate packs it about 1000x. Its record count."""
    frame = bytes.fromhex("020000000002020000000001080045000028000100004006000098120002"
                          "98120001005038400000000000000000500220000000000000")
    record = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    count = inflated // len(record)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as f:
        f.write(packer.compress(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)))
        chunk = record * 1000
        for _ in range(count // 1000):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    return count // 1000 * 1000


def test_a_gzip_bomb_is_read_no_further_than_its_bound(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Was ~28 s of CPU per compressed MB, reading on to the end."""
    monkeypatch.setattr(capture, "GZIP_FREE_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.pcap.gz"
    records = _gzip_bomb(bomb, 16 << 20)
    assert bomb.stat().st_size * capture.GZIP_MAX_RATIO < 16 << 20
    got = 0
    with pytest.raises(CaptureTruncated) as info:
        for _ in read_ip_packets(str(bomb)):
            got += 1
    assert "gzip bomb" in str(info.value) and "bomb.pcap.gz" in str(info.value)
    assert 0 < got < records // 4


def test_real_gzip_captures_are_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "GZIP_FREE_BYTES", 0)  # the ratio alone decides
    for name in ("analyze-nmap-dual.pcap", "analyze-masscan.pcap", "syn-every-reply-kind.pcap"):
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress((PCAPS / name).read_bytes(), 9))
        plain = [(p.number, p.ip) for p in read_ip_packets(str(PCAPS / name))]
        assert [(p.number, p.ip) for p in read_ip_packets(str(packed))] == plain


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_an_absurd_pcapng_tsoffset_is_ignored_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """if_tsoffset 2^62: a float keeps no second of the times, so every reply came 'at once'
    and 199 of 200 ports were filtered."""
    ip = bytes.fromhex("4500002800010000400600009812000298120001005038400000000000000000"
                       "5012200000000000")
    offset = struct.pack("<HHq", 14, 8, 2**62) + struct.pack("<HH", 0, 0)
    epbs = b"".join(_block(6, struct.pack("<IIIII", 0, 0, t * 250_000, len(ip), len(ip)) + ip)
                    for t in range(4))
    path = tmp_path / "offset.pcapng"
    path.write_bytes(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                     + _block(1, struct.pack("<HHI", 101, 0, 0) + offset) + epbs)
    times = [p.time for p in read_ip_packets(str(path))]
    assert times == [0.0, 0.25, 0.5, 0.75]
    err = capsys.readouterr().err
    assert "offset.pcapng" in err and "if_tsoffset" in err and len(err.splitlines()) == 1
