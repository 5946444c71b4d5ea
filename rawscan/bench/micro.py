"""Micro-benchmarks behind design choices the code comments name: the figures of the README's
"Design figures" table, each beside the alternative it was chosen over.

    python -m rawscan.bench.micro [--repeat 5]

Each figure is the best of --repeat timings of a loop of calls, in microseconds a call, in
this process (so the machine's other work shows less than in a median). Needs nothing but
rawscan's dependencies; the Scapy and rich rows import them.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import timeit
from collections.abc import Callable

from ..addresses import V6
from .pcapgen import RST, SYN, icmp_error as icmp_packet, tcp

SRC, DST = 0xC6120001, 0xC6120002  # 198.18.0.1, .2
SRC6, DST6 = V6 | 0x20010002 << 96 | 1, V6 | 0x20010002 << 96 | 2


def per_call(work: Callable[[], object], repeat: int, number: int = 20_000) -> float:
    """Microseconds a call: the best of `repeat` timings of `number` calls."""
    return min(timeit.repeat(work, number=number, repeat=repeat)) / number * 1e6


Row = tuple[str, str, str, float]
Add = Callable[..., None]  # add(where, what, measured, work, number=20_000)


def rows(repeat: int) -> list[Row]:
    """(where, what, measured, us a call) for every figure, a module's rows at a time."""
    out: list[Row] = []

    def add(where: str, what: str, measured: str, work: Callable[[], object], number: int = 20_000) -> None:
        out.append((where, what, measured, per_call(work, repeat, number)))

    _wire(add)
    _capture(add)
    out.append(_cyclic_step(repeat))  # timed as a statement, as the engine runs it
    _cookies(add)
    _services(add)
    _outputs(add)
    _numpy(add)
    _system_calls(add)
    return out


def _wire(add: Add) -> None:
    from scapy.layers.inet import IP

    from ..wire import icmp_error, ip_header, ip_icmp_error

    reply4 = tcp(DST, SRC, 80, 40000, RST, 0, 1)
    reply6 = tcp(DST6, SRC6, 80, 40000, RST, 0, 1)
    add("wire.py", "reply header, IPv4", "ip_header()", lambda: ip_header(reply4))
    add("wire.py", "", "Scapy IP(packet)", lambda: IP(reply4), 2_000)
    add("wire.py", "reply header, IPv6", "ip_header()", lambda: ip_header(reply6))
    error = icmp_packet(DST, tcp(SRC, DST, 40000, 80, SYN, 7))
    outer = ip_header(error)
    assert outer is not None
    add("wire.py", "ICMP error and its quote, IPv4", "ip_icmp_error()", lambda: ip_icmp_error(error, outer))
    add("wire.py", "", "icmp_error()", lambda: icmp_error(error, outer))  # type: ignore[arg-type]  # IPv4 here


def _capture(add: Add) -> None:
    from ..capture import CapturedPacket, _new_packet, _set_ip, _set_number, _set_time

    reply4 = tcp(DST, SRC, 80, 40000, RST, 0, 1)

    def fresh_packet() -> CapturedPacket:
        pkt = _new_packet(CapturedPacket)
        _set_number(pkt, 1)
        _set_time(pkt, 2.0)
        _set_ip(pkt, reply4)
        return pkt

    add("capture.py", "a CapturedPacket", "__new__ and slot setters", fresh_packet)
    add("capture.py", "", "its frozen dataclass __init__", lambda: CapturedPacket(1, 2.0, reply4))


def _cyclic_step(repeat: int) -> Row:
    from ..cyclic import CyclicOrder

    order = CyclicOrder(1 << 30, b"key")
    steps = 200_000
    walk = timeit.repeat("x = x * g % p", setup=f"x, g, p = {order.start}, {order.generator}, {order.prime}",
                         number=steps, repeat=repeat)
    return ("cyclic.py", "one step of the probe order", "x * g % p, as the engine inlines it",
            min(walk) / steps * 1e6)


def _cookies(add: Add) -> None:
    from ..cookies import Cookie, derive_key

    cookie = Cookie(derive_key(1, "cookie"))
    cookie(SRC, DST, 40000, 80)  # tables made
    pairs = iter(range(1 << 40))
    add("cookies.py", "a flow's cookie", "keyed BLAKE2 of the flow (one a flow)",
        lambda: cookie._compute(next(pairs)))
    add("cookies.py", "", "Cookie(): host value cached, two table reads",
        lambda: cookie(SRC, DST, 40000, 80))


def _services(add: Add) -> None:
    from ..services import service_name

    add("services.py", "a port's service name", "service_name() (/etc/services read once)",
        lambda: service_name(443, "tcp"))
    add("services.py", "", "socket.getservbyport()", lambda: _service_or_none(443), 2_000)


def _outputs(add: Add) -> None:
    from rich.console import Console

    from ..output.jsonl import record_line
    from ..output.table import host_block
    from ..results import PortResult

    result = PortResult("198.18.0.2", "tcp", 443, "open", "syn-ack", 64, "https")
    add("output/jsonl.py", "a JSON Lines record", "record_line()", lambda: record_line(result))
    add("output/jsonl.py", "", "json.dumps(as_dict())", lambda: json.dumps(result.as_dict()))

    console = Console(file=io.StringIO(), force_terminal=False, width=100)
    block = host_block("198.18.0.2", [result] * 3)
    add("output/table.py", "a host's report block", "written to the console's file",
        lambda: console.file.write(block))
    add("output/table.py", "", "console.print()", lambda: console.print(block), 500)


def _numpy(add: Add) -> None:
    import numpy as np

    small, large = np.zeros(1, np.uint32), np.zeros(4096, np.uint32)
    add("engine.py (VECTOR_MIN_BATCH)", "a numpy operation", "on 1 element", lambda: small & 7)
    add("engine.py (VECTOR_MIN_BATCH)", "", "on 4,096 elements", lambda: large & 7)


def _system_calls(add: Add) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        datagram = bytes(40)
        add("transports/sendmmsg.py", "a system call per packet", "sendto() on loopback (port 9)",
            lambda: udp.sendto(datagram, ("127.0.0.1", 9)), 5_000)
    finally:
        udp.close()


def _service_or_none(port: int) -> str | None:
    try:
        return socket.getservbyport(port, "tcp")
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings of each loop (best shown)")
    args = parser.parse_args()
    print("| where | what | measured | us a call |")
    print("| --- | --- | --- | --- |")
    for where, what, measured, us in rows(args.repeat):
        print(f"| {where} | {what} | {measured} | {us:.3g} |")


if __name__ == "__main__":
    main()
