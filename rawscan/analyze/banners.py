"""What servers said in a capture: the first data a port found open sent back, identified
with the --banners rules (rawscan/banners/rules.py).

The flow loop (flows.py) names a connection when its initiator completes the handshake
to an open port or sends data on it (never for a SYN scan's probes, which reset), and hands
over only TCP segments with payload on such a connection's server-to-client key, so the
per-packet cost elsewhere is nil. Each such connection keeps at most MAX_SEGMENTS in-order segments and CAP bytes:
server-first greetings (SSH, SMTP, FTP...) and the answer to the client's first data
(HTTP) both arrive this way. Retransmitted or out-of-order segments are left out.
"""

from __future__ import annotations

import struct

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the rules and ssl load only when a capture holds server data
    from ..banners.grab import Grab

MAX_SEGMENTS = 4  # server segments kept per connection
TALKS_MAX = 1 << 16  # connections waiting for server data at once (the table is then emptied)
KEPT_MAX = 64 << 20  # bytes of server data kept in all: a capture of busy ordinary traffic
# (a web server's day) would otherwise keep 4 KiB per client; later endpoints get none
_SEQ_OFFSET = struct.Struct("!4xI4xB")  # after the ports: sequence number; past ack: data offset


def server_segment(packet: bytes) -> tuple[int, bytes] | None:
    """(sequence number, payload) of a TCP segment in an IP packet (None: not parseable).
    The payload ends at the IP length (Ethernet pads short frames) or the captured bytes."""
    from ..wire import PROTO_TCP, ip_header

    ip = ip_header(packet)
    if ip is None or ip.proto != PROTO_TCP:
        return None
    start = ip.header_len
    if len(packet) < start + 20:
        return None
    if packet[0] >> 4 == 4:
        end = int.from_bytes(packet[2:4], "big") or len(packet)
    else:
        end = 40 + int.from_bytes(packet[4:6], "big")
    seq, off = _SEQ_OFFSET.unpack_from(packet, start)
    data = packet[start + ((off >> 4) << 2) : min(end, len(packet))]
    return (seq, data) if data else None


class BannerKeeper:
    """The server data of connections to open ports, by endpoint row."""

    def __init__(self) -> None:
        self.talks: dict[bytes, int] = {}  # server->client flow key -> endpoint row
        self.kept: dict[int, list[Any]] = {}  # row -> [next sequence number, bytearray, segments]
        self.kept_bytes = 0

    def listen(self, key: bytes, row: int) -> None:
        """A connection to this open endpoint was completed (or carried the client's data):
        its server's segments, on this server-to-client key, are wanted."""
        talks = self.talks
        if key in talks:
            return
        if len(talks) >= TALKS_MAX:  # bounded: the waiting ones are forgotten
            talks.clear()
        talks[key] = row

    def segment(self, key: bytes, packet: bytes) -> None:
        """A segment with payload on a server-to-client flow key: kept if it is one of ours."""
        row = self.talks.get(key)
        if row is None:
            return
        found = server_segment(packet)
        if found is None:
            return
        from ..banners.grab import CAP

        seq, data = found
        state = self.kept.get(row)
        if state is None:
            if self.kept_bytes >= KEPT_MAX:
                return
            state = self.kept[row] = [seq, bytearray(), 0]
        elif seq != state[0]:
            return  # a retransmission, or a gap: only what follows in order is kept
        buf: bytearray = state[1]
        before = len(buf)
        buf += data[: CAP - before]
        self.kept_bytes += len(buf) - before
        state[0] = (seq + len(data)) & 0xFFFFFFFF
        state[2] += 1
        if state[2] >= MAX_SEGMENTS or len(buf) >= CAP:
            del self.talks[key]

    def grabs(self) -> dict[int, Grab]:
        """Each row's kept bytes, identified."""
        if not self.kept:
            return {}
        from ..banners.grab import Grab
        from ..banners.rules import identify

        return {row: Grab(bytes(buf), None, identify(bytes(buf)))
                for row, (_seq, buf, _n) in self.kept.items() if buf}
