"""read_ip_packets over tcpdump's test captures (many malformed), and over damaged copies of them.

Every file must either be read to the end or fail with CaptureError, within a time bound and
in bounded memory. The corpus lives next to the project (../shared/corpus/tcpdump-tests).
Measured: the 831 files read in ~0.1 s (~1 s with tracemalloc); the whole module ~5 s.
"""

from __future__ import annotations

import gzip
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawscan.capture import CaptureError, read_ip_packets

from tests.support.captures import read_bulk
from tests.support.deadline import Hung, deadline
from tests.support.paths import CORPUS

FILES = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
ABSENT = pytest.mark.skip(reason=f"tcpdump test corpus not found at {CORPUS}")

PER_FILE_SECONDS = 10.0
PEAK_BYTES = 24 << 20  # the largest block the reader accepts is 16 MiB; real files need far less


def read_all(path: Path) -> int | str:
    """The number of IP packets, or the CaptureError message; anything else propagates."""
    with deadline(PER_FILE_SECONDS):
        try:
            return sum(1 for _ in read_ip_packets(str(path)))
        except CaptureError as exc:
            assert str(exc) and "\n" not in str(exc)
            return str(exc)


@pytest.mark.parametrize(
    "path", FILES or [pytest.param(None, marks=ABSENT)], ids=lambda p: p.name if p else "absent"
)
def test_corpus_file_reads_or_fails_cleanly(path: Path) -> None:
    tracemalloc.start()
    try:
        read_all(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES


# Cross-checked against `tcpdump -r FILE --count 'ip or ip6 or (vlan and (ip or ip6))'`.
KNOWN_COUNTS = {
    "NHRP_registration.pcap": 4,  # Ethernet + 802.1Q
    "babel.pcap": 25,  # Linux cooked (113)
    "ikev2four.pcap": 21,  # BSD loopback (0)
    "babel_rtt.pcap": 9,  # raw IP (101)
    "LINKTYPE_IPV6.pcap": 1,  # 229
    "LINKTYPE_IPV4_invalid.pcap": 0,  # 228 carrying a non-IPv4 version nibble
    "OSPFv2_Capture_FINAL.pcapng": 30,
    "802.1ad_QinQ.pcap": 0,  # QinQ, but only ARP inside
}


@pytest.mark.parametrize("name", list(KNOWN_COUNTS))
def test_known_corpus_counts(name: str) -> None:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    assert read_all(path) == KNOWN_COUNTS[name]


# IPv6 packets only, cross-checked against `tcpdump -r FILE --count 'ip6 or (vlan and ip6)'`
# ('ip6' alone for link types without VLANs).
KNOWN_V6_COUNTS = {
    "babel_rfc6126bis.pcap": 130,  # Ethernet
    "ahcp.pcapng": 8,  # pcapng, Ethernet
    "bgp-orf.pcapng": 1,  # pcapng, Linux cooked
    "babel.pcap": 25,  # Linux cooked (113)
    "icmpv6-RFC2894-RR.pcap": 6,  # BSD loopback, AF_INET6 = 28 (FreeBSD)
    "quic_retry.pcap": 23,  # BSD loopback, AF_INET6 = 30 (Darwin)
    "LINKTYPE_RAW_ipv6.pcap": 1,  # raw IP (101)
    "ipv6_mobility_1.pcap": 16,  # LINKTYPE_IPV6 (229)
    "ipv6-bad-version.pcap": 2,  # tcpdump counts 4: two carry a version nibble other than 6
}


@pytest.mark.parametrize("name", list(KNOWN_V6_COUNTS))
def test_known_corpus_ipv6_counts(name: str) -> None:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with deadline(PER_FILE_SECONDS):
        assert sum(1 for p in read_ip_packets(str(path)) if p.ip[0] >> 4 == 6) == KNOWN_V6_COUNTS[name]


def mutations(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Damaged variants of a capture: cut short, bogus lengths, flipped bytes, gzip'd and cut."""
    n = len(data)
    yield "cut", data[: rng.randrange(24, n)] if n > 24 else data[:-1]
    for value in (0xFFFFFFFF, 0x7FFFFFFC, 0x00040010, rng.getrandbits(32)):
        at = rng.randrange(24, n - 3) if n > 28 else 0
        yield f"u32@{at}={value:#x}", data[:at] + value.to_bytes(4, "little") + data[at + 4 :]
    flipped = bytearray(data)
    for _ in range(8):
        flipped[rng.randrange(n)] ^= 1 << rng.randrange(8)
    yield "flips", bytes(flipped)
    packed = gzip.compress(data, compresslevel=1)
    yield "gzip-cut", packed[: rng.randrange(10, len(packed))]


@pytest.mark.skipif(not FILES, reason=f"tcpdump test corpus not found at {CORPUS}")
def test_damaged_corpus_copies_read_or_fail_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "damaged"
    failures: list[str] = []
    for path in FILES:
        data = path.read_bytes()
        if len(data) < 8:
            continue
        rng = random.Random(path.name)  # deterministic per file
        for label, damaged in mutations(data, rng):
            target.write_bytes(damaged)
            try:
                read_all(target)
            except (Exception, Hung) as exc:  # collect them all, report once
                failures.append(f"{path.name} [{label}]: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures[:20])


# --- the bulk reader (rawscan analyze): batches parsed with numpy ------------------------


def read_each(path: Path) -> tuple[list[tuple[int, float, bytes]], str | None]:
    got: list[tuple[int, float, bytes]] = []
    try:
        for p in read_ip_packets(str(path)):
            got.append((p.number, p.time, p.ip))
    except CaptureError as exc:
        return got, str(exc)
    return got, None


def analyze_bulk(path: Path) -> None:
    """The whole analysis pass: a result, or the one clean error a damaged capture gives."""
    from rawscan.analyze.flows import FlowAnalyzer
    from rawscan.capture import BATCH_BYTES, CaptureTruncated, open_capture

    try:
        capture = open_capture(str(path), BATCH_BYTES)
    except CaptureError:
        return
    try:
        FlowAnalyzer().feed_capture(capture)
    except CaptureTruncated as exc:
        assert str(exc) and "\n" not in str(exc)


@pytest.mark.skipif(not FILES, reason=f"tcpdump test corpus not found at {CORPUS}")
def test_the_bulk_reader_takes_every_corpus_file_as_read_ip_packets_does() -> None:
    """Frame numbers, times and bytes of every IP packet, and the error, are the same; the
    analysis pass over each file gives a result or a clean error."""
    differ: list[str] = []
    for path in FILES:
        with deadline(PER_FILE_SECONDS):
            if read_bulk(path) != read_each(path):
                differ.append(path.name)
            analyze_bulk(path)
    assert not differ, differ[:20]


@pytest.mark.skipif(not FILES, reason=f"tcpdump test corpus not found at {CORPUS}")
def test_damaged_corpus_copies_read_in_bulk_as_one_at_a_time(tmp_path: Path) -> None:
    target = tmp_path / "damaged"
    differ: list[str] = []
    for path in FILES[::5]:  # a fifth of the corpus: the per-packet test above takes all
        data = path.read_bytes()
        if len(data) < 8:
            continue
        rng = random.Random(path.name)
        for label, damaged in mutations(data, rng):
            target.write_bytes(damaged)
            with deadline(PER_FILE_SECONDS):
                if read_bulk(target) != read_each(target):
                    differ.append(f"{path.name} [{label}]")
                analyze_bulk(target)
    assert not differ, differ[:20]
