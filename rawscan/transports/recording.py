"""Write every probe sent and every reply received to a pcap, around any transport."""

from __future__ import annotations

from typing import BinaryIO

from .base import Counters, Probes, Replies, Transport, probe_list

LINKTYPE_RAW = 101  # packets start at the IP header; tshark and Wireshark read it


class RecordingTransport:
    def __init__(self, inner: Transport, path: str | BinaryIO) -> None:
        """`path`: a file name, or a file opened by the caller (rawscan.output.files opens
        it safely: no links, no foreign file overwritten); the writer closes it."""
        from scapy.utils import PcapWriter

        self._inner = inner
        self.clock = inner.clock
        self._writer = PcapWriter(path, linktype=LINKTYPE_RAW, sync=False)
        self._writer.write_header(None)  # a scan that sent nothing still leaves a valid pcap

    def _write(self, packet: bytes, wall: float) -> None:
        sec = int(wall)
        usec = int(round((wall - sec) * 1_000_000))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        self._writer.write_packet(packet, sec=sec, usec=usec)

    def send(self, packet: bytes) -> None:
        self._write(packet, self.clock.wall())
        self._inner.send(packet)

    def send_batch(self, packets: Probes) -> None:
        wall = self.clock.wall()
        for packet in probe_list(packets):
            self._write(packet, wall)
        self._inner.send_batch(packets)

    def counters(self) -> Counters:
        return self._inner.counters()

    def drain(self) -> None:
        self._inner.drain()

    def receive(self, deadline: float) -> Replies:
        received = self._inner.receive(deadline)
        if isinstance(received, list):
            for item in received:
                self._write(item.packet, item.wall_time)
        else:  # a numpy batch from the receive ring
            for i in range(len(received)):
                self._write(received.packet(i), received.wall_time)
        return received

    def close(self) -> None:
        self._writer.close()
        self._inner.close()
