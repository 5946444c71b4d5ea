"""Streaming reader for pcap / pcapng captures (optionally gzip'd), yielding the IP packets.

This is a small struct-based reader rather than a wrapper around Scapy's RawPcapReader /
RawPcapNgReader. Scapy 2.8 survives the tcpdump corpus, but it cannot report damage: a
truncated last record is returned as a short packet, and a bogus length or an I/O error
becomes a silent end of file with only a log warning, so a damaged capture looks complete.
Its pcapng reader also reads a whole block of whatever length the file claims, and builds a
namedtuple and parses options for every packet. Here every length is checked against a cap
before anything is read, damage is reported with its frame number and byte offset, and the
per-packet path is one struct unpack, a link-header check and a slice.

Both formats are read in batches over one buffer (open_capture): a pcap batch is the record
offsets found in the buffer (the only per-record Python work is reading each length), a
pcapng batch the IP packets' offsets, frame numbers and times. read_ip_packets makes a
CapturedPacket of each; rawscan analyze parses whole batches with numpy (analyze/batches.py)
and reads ahead BATCH_BYTES at a time. Memory stays constant: one buffer (64 KiB chunks, or
BATCH_BYTES when reading ahead) plus at most one record or block (capped).
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, cast

from .errors import RawscanError, one_line

MAX_RECORD = 256 * 1024  # libpcap's MAXIMUM_SNAPLEN: no real capture has bigger records
_MAX_PACKET_BLOCK = MAX_RECORD + 64 * 1024  # pcapng packet block: data plus room for options
_MAX_BLOCK = 16 * 1024 * 1024  # any other pcapng block (libpcap's limit too)
_CHUNK = 64 * 1024  # bigger chunks measured no faster

_PCAP_MAGICS = {  # magic -> (byte order, timestamp fraction units per second)
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_SHB_TYPE = 0x0A0D0D0A  # a palindrome: reads the same in either byte order
_GZIP_MAGIC = b"\x1f\x8b"
# A gzip'd capture may inflate this much past its compressed size before reading stops as
# damaged (a bomb: deflate reaches ~1000x; real scan captures measure 3-7x), once it is past
# GZIP_FREE_BYTES, which any capture may inflate to.
GZIP_MAX_RATIO = 100
GZIP_FREE_BYTES = 64 * 1024 * 1024
# if_tsoffset past this many seconds (year 2106) is no capture's start time; ignored with a
# warning: at 2^62 a float keeps no second of the timestamps, so every packet looks simultaneous
MAX_TSOFFSET = 2**32


class CaptureError(RawscanError):
    """The capture cannot be opened or read."""


class CaptureTruncated(CaptureError):
    """The capture is damaged part way; the packets before the damage were yielded."""

    def __init__(self, message: str, packets_read: int, frame: int, offset: int) -> None:
        super().__init__(message)
        self.packets_read = packets_read  # IP packets yielded before the damage
        self.frame = frame  # 1-based number of the frame that could not be read
        self.offset = offset  # byte offset of its record (in the uncompressed stream)


@dataclass(frozen=True, slots=True)
class CapturedPacket:
    number: int  # 1-based frame number in the file (as Wireshark counts)
    time: float  # epoch seconds
    ip: bytes  # the packet from its IPv4 or IPv6 header on (link header stripped)


# --- link layers: each returns the offset of the IP header in buf[s:e], or -1 to skip ---

_Strip = Callable[[bytes, int, int], int]
_VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))


def _ip_at(buf: bytes, p: int, e: int, ethertype: int) -> int:
    # The version nibble must agree with the ethertype, and at least one byte of IP must exist.
    if p >= e:
        return -1
    version = buf[p] >> 4
    if (ethertype == 0x0800 and version == 4) or (ethertype == 0x86DD and version == 6):
        return p
    return -1


def _strip_ethernet(buf: bytes, s: int, e: int) -> int:
    p = s + 14
    if p >= e:
        return -1
    t = buf[p - 2] << 8 | buf[p - 1]
    if t == 0x0800:  # the common cases first, inline: this runs for every packet
        return p if buf[p] >> 4 == 4 else -1
    if t == 0x86DD:
        return p if buf[p] >> 4 == 6 else -1
    while t in _VLAN_TPIDS:  # 802.1Q, QinQ
        p += 4
        if p > e:
            return -1
        t = buf[p - 2] << 8 | buf[p - 1]
    return _ip_at(buf, p, e, t)


def _strip_sll(buf: bytes, s: int, e: int) -> int:
    if s + 16 > e:
        return -1
    return _ip_at(buf, s + 16, e, buf[s + 14] << 8 | buf[s + 15])


def _strip_sll2(buf: bytes, s: int, e: int) -> int:
    if s + 20 > e:
        return -1
    return _ip_at(buf, s + 20, e, buf[s] << 8 | buf[s + 1])


def _strip_raw(buf: bytes, s: int, e: int) -> int:
    return s if s < e and buf[s] >> 4 in (4, 6) else -1


def _strip_ipv4(buf: bytes, s: int, e: int) -> int:
    return s if s < e and buf[s] >> 4 == 4 else -1


def _strip_ipv6(buf: bytes, s: int, e: int) -> int:
    return s if s < e and buf[s] >> 4 == 6 else -1


# AF_INET6 differs per OS (Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
_AF_INET6 = frozenset((10, 23, 24, 28, 30))


def _loop_family(family: int, buf: bytes, p: int, e: int) -> int:
    if family == 2:
        return _ip_at(buf, p, e, 0x0800)
    if family in _AF_INET6:
        return _ip_at(buf, p, e, 0x86DD)
    return -1


def _strip_null(buf: bytes, s: int, e: int) -> int:
    # DLT_NULL: 4-byte address family in the byte order of the capturing host.
    if s + 4 > e:
        return -1
    family = int.from_bytes(buf[s : s + 4], "little")
    if family > 0xFFFF:
        family = int.from_bytes(buf[s : s + 4], "big")
    return _loop_family(family, buf, s + 4, e)


def _strip_loop(buf: bytes, s: int, e: int) -> int:
    # OpenBSD DLT_LOOP: like DLT_NULL but always network byte order.
    if s + 4 > e:
        return -1
    return _loop_family(int.from_bytes(buf[s : s + 4], "big"), buf, s + 4, e)


_STRIPPERS: dict[int, _Strip] = {
    0: _strip_null,
    1: _strip_ethernet,
    12: _strip_raw,  # DLT_RAW on most BSDs
    14: _strip_raw,  # DLT_RAW on OpenBSD
    101: _strip_raw,
    108: _strip_loop,
    113: _strip_sll,
    228: _strip_ipv4,
    229: _strip_ipv6,
    276: _strip_sll2,
}


def _stripper(linktype: int) -> _Strip | None:
    # The upper 16 bits of a pcap link type carry FCS info, not the type.
    return _STRIPPERS.get(linktype & 0xFFFF)


# --- byte source -----------------------------------------------------------------------


class _StreamError(Exception):
    """The underlying file or gzip stream failed while reading."""


class _Damage(Exception):
    """The current record or block is damaged."""


class _CountingReader:
    """The compressed file under a GzipFile, counting the bytes it hands over."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.consumed += len(data)
        return data


class _Source:
    """Chunked reads from the (maybe gzip'd) file, with read errors turned into _StreamError."""

    def __init__(self, raw: BinaryIO, f: BinaryIO, compressed: _CountingReader | None = None) -> None:
        self.raw = raw
        self.f = f
        self._compressed = compressed
        self._inflated = 0
        # read1: a gzip stream that breaks mid-way still hands over what it decoded before.
        self._read = cast(Callable[[int], bytes], getattr(f, "read1", f.read))
        self._error: _StreamError | None = None  # met while reading ahead: raised when needed

    def read(self) -> bytes:
        if self._error is not None:
            raise self._error
        try:
            chunk = self._read(_CHUNK)
        except Exception as exc:  # EOFError, BadGzipFile, zlib.error, OSError, ...
            raise _StreamError(_describe(exc)) from None
        if self._compressed is not None:
            self._inflated += len(chunk)
            packed = max(self._compressed.consumed, 1)
            if self._inflated > GZIP_FREE_BYTES and self._inflated > GZIP_MAX_RATIO * packed:
                raise _StreamError(
                    f"the gzip stream inflates over {GZIP_MAX_RATIO} times its size "
                    f"({self._inflated:,} bytes from {packed:,}): a gzip bomb, not read further")
        return chunk

    def defer(self, error: _StreamError) -> None:
        self._error = error

    def close(self) -> None:
        self.f.close()
        self.raw.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the compressed stream ends early"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _refill(src: _Source, rest: bytes, need: int, ahead: int = 0) -> bytes:
    """`rest` plus enough new data to hold `need` bytes (reading on to `ahead` bytes when it
    can), or as much as there is before EOF. A read error past `need` waits for the next
    call, so reading ahead never loses a record that the data read so far holds whole."""
    parts = [rest]
    have = len(rest)
    want = max(need, ahead)
    while have < want:
        try:
            chunk = src.read()
        except _StreamError as exc:
            if have < need:
                raise
            src.defer(exc)
            break
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


# --- batches ---------------------------------------------------------------------------
# Both formats are read in batches over one buffer: the per-packet path (read_ip_packets)
# and the bulk one (rawscan analyze, which parses a batch's fixed-offset fields with numpy)
# share every length check and every damage report.


class RecordBatch(NamedTuple):
    """pcap records in `buf`: record headers at `offsets`, frames first_frame, first_frame + 1,
    ... (every record is a frame; the link header is not yet stripped)."""

    buf: bytes
    offsets: list[int]
    first_frame: int


class PacketBatch(NamedTuple):
    """IP packets (pcapng, link header stripped): buf[starts[i]:ends[i]] is frame numbers[i],
    captured at times[i]."""

    buf: bytes
    numbers: list[int]
    times: list[float]
    starts: list[int]
    ends: list[int]


@dataclass(frozen=True)
class PcapFormat:
    """How a pcap file's records read: one link type and timestamp unit for the whole file."""

    linktype: int  # without the FCS bits
    strip: _Strip | None  # None: a link type without IP that we know of
    endian: str  # struct byte order of the record headers
    divisor: float  # timestamp fraction units per second


class CaptureDamaged(Exception):
    """A batch reader met damage after yielding every batch before it (internal: the reader
    knows frames and bytes, its consumer how many IP packets it took)."""

    def __init__(self, why: str, frame: int, offset: int) -> None:
        super().__init__(why)
        self.why = why
        self.frame = frame  # 1-based number of the frame that could not be read
        self.offset = offset  # byte offset of its record (in the uncompressed stream)

    def truncated(self, path: str, packets: int) -> CaptureTruncated:
        return CaptureTruncated(
            f"capture '{path}' is damaged at frame {self.frame} (byte offset {self.offset}):"
            f" {self.why}; {packets} packets read before it",
            packets_read=packets, frame=self.frame, offset=self.offset,
        )


Batch = RecordBatch | PacketBatch


class Capture:
    """An open capture, read as batches (`batches`: RecordBatch for pcap, whose format is
    `pcap`, PacketBatch for pcapng). Iterating raises CaptureDamaged once the batches before
    the damage are out; closing (or dropping) it closes the file."""

    def __init__(self, path: str, pcap: PcapFormat | None, batches: Generator[Batch | None, None, None]) -> None:
        self.path = path
        self.pcap = pcap
        self._batches = batches

    @property
    def batches(self) -> Iterator[Batch]:
        return cast(Iterator[Batch], self._batches)

    def close(self) -> None:
        self._batches.close()


BATCH_BYTES = 1 << 20  # the bulk reader's buffer: ~13k packets of a scan a batch


def open_capture(path: str, ahead: int = 0) -> Capture:
    """Open a pcap / pcapng capture (maybe gzip'd) for reading in batches of about `ahead`
    bytes (0: as little as each record needs). Opening and the file header are checked here
    (CaptureError; CaptureTruncated for a pcap file header cut short)."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise CaptureError(f"cannot open capture '{path}': {exc.strerror or exc}") from None
    src = _Source(raw, raw)
    try:
        try:  # peek, not read + seek: a pipe works too
            gzipped = raw.peek(2)[:2] == _GZIP_MAGIC
        except OSError as exc:
            raise CaptureError(f"cannot read capture '{path}': {exc.strerror or exc}") from None
        if gzipped:
            compressed = _CountingReader(raw)
            src = _Source(raw, cast(BinaryIO, gzip.GzipFile(fileobj=cast(BinaryIO, compressed), mode="rb")),
                          compressed)
        try:
            buf = _refill(src, b"", 24)
        except _StreamError:
            raise CaptureError(f"'{path}' is not a pcap or pcapng capture") from None
        magic = buf[:4]
        pcap: PcapFormat | None = None
        gen: Generator[Batch | None, None, None]
        if magic in _PCAP_MAGICS:
            endian, divisor = _PCAP_MAGICS[magic]
            if len(buf) < 24:
                raise CaptureDamaged(f"the file header is cut short ({len(buf)} of 24 bytes)", 1, 0)
            linktype = struct.unpack_from(endian + "I", buf, 20)[0] & 0xFFFF
            pcap = PcapFormat(linktype, _stripper(linktype), endian, divisor)
            gen = _pcap(src, buf, endian, ahead)
        elif magic == _PCAPNG_SHB and buf[8:12] in _BYTE_ORDER:
            gen = _pcapng(src, buf, ahead, path)
        else:
            raise CaptureError(f"'{path}' is not a pcap or pcapng capture")
    except CaptureDamaged as exc:
        src.close()
        raise exc.truncated(path, 0) from None
    except BaseException:
        src.close()
        raise
    # Run to the generator's first yield, inside its try/finally: from here on closing or
    # dropping the iterator closes the file, even if it is never iterated.
    next(gen)
    return Capture(path, pcap, gen)


def read_ip_packets(path: str) -> Generator[CapturedPacket, None, None]:
    """Yield the IP packets of a pcap / pcapng capture (maybe gzip'd), streaming.

    Opening and the file header are checked at call time (CaptureError). Frames that are
    not IPv4/IPv6 (or whose version nibble disagrees with the link header), and unsupported
    link types, are skipped. Damage part way raises CaptureTruncated after every packet
    before it was yielded.
    """
    gen = _packets(open_capture(path))
    next(gen)  # primed: its finally closes the capture from here on
    return cast(Generator[CapturedPacket, None, None], gen)  # past the primed None


# CapturedPacket without its frozen __init__ (three object.__setattr__ calls; README, Design figures).
_new_packet = CapturedPacket.__new__
_set_number = CapturedPacket.__dict__["number"].__set__  # the slot descriptors
_set_time = CapturedPacket.__dict__["time"].__set__
_set_ip = CapturedPacket.__dict__["ip"].__set__


def _packets(capture: Capture) -> Generator[CapturedPacket | None, None, None]:
    count = 0  # IP packets yielded
    cls = CapturedPacket
    try:
        yield None
        fmt = capture.pcap
        for batch in capture.batches:
            if isinstance(batch, PacketBatch):
                buf = batch.buf
                for number, time, start, stop in zip(batch.numbers, batch.times, batch.starts, batch.ends):
                    count += 1
                    pkt = _new_packet(cls)
                    _set_number(pkt, number)
                    _set_time(pkt, time)
                    _set_ip(pkt, buf[start:stop])
                    yield pkt
                continue
            assert fmt is not None
            strip = fmt.strip
            if strip is None:
                continue
            buf, divisor = batch.buf, fmt.divisor
            unpack = struct.Struct(fmt.endian + "III").unpack_from
            number = batch.first_frame
            for pos in batch.offsets:
                sec, frac, caplen = unpack(buf, pos)
                end = pos + 16 + caplen
                ip = strip(buf, pos + 16, end)
                if ip >= 0:
                    count += 1
                    pkt = _new_packet(cls)
                    _set_number(pkt, number)
                    _set_time(pkt, sec + frac / divisor)
                    _set_ip(pkt, buf[ip:end])
                    yield pkt
                number += 1
    except CaptureDamaged as exc:
        raise exc.truncated(capture.path, count) from None
    finally:
        capture.close()


def _damage(exc: Exception, frame: int, offset: int) -> CaptureDamaged:
    if isinstance(exc, _Damage):
        why = str(exc)
    elif isinstance(exc, _StreamError):
        why = f"read error: {exc}"
    else:  # a bug must not become a traceback for the user
        why = f"unexpected {type(exc).__name__}: {exc}"
    return CaptureDamaged(why, frame, offset)


# Both readers keep `number` = frames fully read and `pos` = start of the record being read,
# so on damage the report is frame `number + 1` at byte `base + pos`; every batch before the
# damage is yielded first.


def _pcap(src: _Source, buf: bytes, endian: str, ahead: int) -> Generator[RecordBatch | None, None, None]:
    base = 0  # stream offset of buf[0]
    pos = 24
    number = 0
    try:
        yield None  # primed by open_capture
        u32 = struct.Struct(endian + "I").unpack_from
        while True:
            # The hot loop: only the record lengths, to cut the buffer into records.
            n = len(buf)
            offsets: list[int] = []
            add = offsets.append
            caplen = 0
            while pos + 16 <= n:
                caplen = u32(buf, pos + 8)[0]
                end = pos + 16 + caplen
                if end > n or caplen > MAX_RECORD:
                    break
                add(pos)
                pos = end
            if offsets:
                yield RecordBatch(buf, offsets, number + 1)
                number += len(offsets)
            need = 16
            if pos + 16 <= n:
                if caplen > MAX_RECORD:
                    raise _Damage(f"bogus record length {caplen} (limit {MAX_RECORD})")
                need += caplen
            base += pos
            buf, pos = buf[pos:], 0
            buf = _refill(src, buf, need, ahead)
            if len(buf) < 16:
                if not buf:
                    return
                raise _Damage(f"record header cut short ({len(buf)} of 16 bytes)")
            caplen = u32(buf, 8)[0]
            if caplen > MAX_RECORD:
                raise _Damage(f"bogus record length {caplen} (limit {MAX_RECORD})")
            if 16 + caplen > len(buf):
                buf = _refill(src, buf, 16 + caplen, ahead)
                if 16 + caplen > len(buf):
                    raise _Damage(f"record cut short ({len(buf) - 16} of {caplen} bytes)")
    except Exception as exc:
        raise _damage(exc, number + 1, base + pos) from None
    finally:
        src.close()


class _Interface(NamedTuple):  # a tuple: unpacked per packet, cheaper than attributes
    strip: _Strip | None
    snaplen: int
    divisor: float  # timestamp units per second
    tsoffset: int  # seconds added to every timestamp


def _pcapng(src: _Source, buf: bytes, ahead: int, path: str = "") -> Generator[PacketBatch | None, None, None]:
    """A pcapng stream's packets in batches (_pcap reads pcap's records): the loop over blocks.

    Longer than the rest on purpose: it runs per block, so the unpackers, the batch's lists
    and the interface table stay locals and an Enhanced Packet Block (the usual one) is read
    inline; the rarer blocks are calls (_section, _simple_packet, _old_packet, _other_block).
    Damage raises _Damage after the packets before it were yielded."""
    base = 0  # stream offset of buf[0]
    pos = 0
    number = 0
    numbers: list[int] = []
    times: list[float] = []
    starts: list[int] = []
    ends: list[int] = []
    try:
        yield None  # primed by open_capture
        endian, u32, hdr, epb = _unpackers("<")
        interfaces: list[_Interface] = []
        while True:
            if len(buf) - pos < 12:
                if numbers:
                    yield PacketBatch(buf, numbers, times, starts, ends)
                    numbers, times, starts, ends = [], [], [], []
                base += pos
                buf, pos = buf[pos:], 0
                buf = _refill(src, buf, 12, ahead)
                if len(buf) < 12:
                    if not buf:
                        return
                    raise _Damage(f"block header cut short ({len(buf)} of 12 bytes)")
            btype, blen = hdr(buf, pos)
            if btype == _SHB_TYPE:  # new section: the byte order may change
                endian, u32, hdr, epb = _unpackers(_section(buf, pos))
                interfaces = []
                blen = u32(buf, pos + 4)[0]
            if (
                blen < 12
                or blen & 3
                or (blen > _MAX_PACKET_BLOCK and (btype in (2, 3, 6) or blen > _MAX_BLOCK))
            ):
                raise _Damage(f"bogus block length {blen}")
            if len(buf) - pos < blen:
                if numbers:
                    yield PacketBatch(buf, numbers, times, starts, ends)
                    numbers, times, starts, ends = [], [], [], []
                base += pos
                buf, pos = buf[pos:], 0
                buf = _refill(src, buf, blen, ahead)
                if len(buf) < blen:
                    raise _Damage(f"block cut short ({len(buf)} of {blen} bytes)")
            body = pos + 8
            end = pos + blen - 4
            if u32(buf, end)[0] != blen:
                raise _Damage("the block's leading and trailing lengths disagree")

            if btype == 6:  # Enhanced Packet Block: the usual case
                if blen < 32:
                    raise _Damage("enhanced packet block too short")
                iid, hi, lo, caplen, _ = epb(buf, body)
                start = body + 20
            elif btype == 3:
                iid, hi, lo, caplen, start = _simple_packet(buf, body, end, blen, u32, interfaces)
            elif btype == 2:
                iid, hi, lo, caplen, start = _old_packet(buf, body, blen, endian)
            else:
                _other_block(btype, buf, body, end, endian, interfaces, path)
                pos = end + 4
                continue

            stop = start + caplen
            if stop > end:
                raise _Damage(f"packet length {caplen} overruns its block")
            if iid >= len(interfaces):
                raise _Damage(f"packet on undeclared interface {iid}")
            strip, _, divisor, tsoffset = interfaces[iid]
            number += 1
            pos = end + 4
            if strip is not None:
                ip = strip(buf, start, stop)
                if ip >= 0:
                    numbers.append(number)
                    times.append(((hi << 32) | lo) / divisor + tsoffset)
                    starts.append(ip)
                    ends.append(stop)
    except Exception as exc:
        if numbers:  # the packets before the damage first
            yield PacketBatch(buf, numbers, times, starts, ends)
        raise _damage(exc, number + 1, base + pos) from None
    finally:
        src.close()


_Unpack = Callable[[bytes, int], tuple[Any, ...]]


def _unpackers(endian: str) -> tuple[str, _Unpack, _Unpack, _Unpack]:
    """A section's byte order and its unpackers: a u32, a block header, an EPB's fields."""
    return (endian, struct.Struct(endian + "I").unpack_from,
            struct.Struct(endian + "II").unpack_from, struct.Struct(endian + "5I").unpack_from)


def _section(buf: bytes, pos: int) -> str:
    """A section header block's byte order, from its byte-order mark."""
    order = _BYTE_ORDER.get(buf[pos + 8 : pos + 12])
    if order is None:
        raise _Damage("section header with a bad byte-order mark")
    return order


def _simple_packet(buf: bytes, body: int, end: int, blen: int, u32: _Unpack,
                   interfaces: list[_Interface]) -> tuple[int, int, int, int, int]:
    """A Simple Packet Block: interface 0, no timestamp; (iid, hi, lo, caplen, start)."""
    if blen < 16:
        raise _Damage("simple packet block too short")
    caplen = min(u32(buf, body)[0], end - body - 4)
    if interfaces and interfaces[0].snaplen:  # SPB data is cut at the snaplen
        caplen = min(caplen, interfaces[0].snaplen)
    return 0, 0, 0, caplen, body + 4


def _old_packet(buf: bytes, body: int, blen: int, endian: str) -> tuple[int, int, int, int, int]:
    """The obsolete Packet Block: (iid, hi, lo, caplen, start)."""
    if blen < 32:
        raise _Damage("packet block too short")
    iid, _, hi, lo, caplen, _ = struct.unpack_from(endian + "HHIIII", buf, body)
    return iid, hi, lo, caplen, body + 20


def _other_block(btype: int, buf: bytes, body: int, end: int, endian: str,
                 interfaces: list[_Interface], path: str) -> None:
    """A block that holds no packet: an interface description is added to the section's
    table, a section header checked; any other kind is skipped."""
    if btype == 1:
        interface = _parse_idb(buf, body, end, endian)
        if abs(interface.tsoffset) > MAX_TSOFFSET:
            _warn(f"capture '{path}': interface {len(interfaces)}'s if_tsoffset of "
                  f"{interface.tsoffset} seconds is no start time; ignored")
            interface = interface._replace(tsoffset=0)
        interfaces.append(interface)
    elif btype == _SHB_TYPE:
        _check_shb(buf, body, end, endian)


def _warn(message: str) -> None:
    import sys

    print(f"rawscan: warning: {one_line(message)}", file=sys.stderr)


def _check_shb(buf: bytes, body: int, end: int, endian: str) -> None:
    if end - body < 16:
        raise _Damage("section header block too short")
    major = struct.unpack_from(endian + "H", buf, body + 4)[0]
    if major != 1:
        raise _Damage(f"unsupported pcapng version {major}")


def _parse_idb(buf: bytes, body: int, end: int, endian: str) -> _Interface:
    if end - body < 8:
        raise _Damage("interface description block too short")
    linktype, _, snaplen = struct.unpack_from(endian + "HHI", buf, body)
    divisor = 1e6
    tsoffset = 0
    opt = struct.Struct(endian + "HH").unpack_from
    p = body + 8
    # Options are optional extras: stop quietly at the first malformed one.
    while p + 4 <= end:
        code, length = opt(buf, p)
        value = p + 4
        if code == 0 or value + length > end:
            break
        if code == 9 and length >= 1:  # if_tsresol: power of 10, or of 2 if the top bit is set
            r = buf[value]
            divisor = float(2 ** (r & 0x7F) if r & 0x80 else 10 ** (r & 0x7F))
        elif code == 14 and length >= 8:  # if_tsoffset, seconds
            tsoffset = struct.unpack_from(endian + "q", buf, value)[0]
        p = value + length + (-length % 4)
    return _Interface(_stripper(linktype), snaplen, divisor, tsoffset)
