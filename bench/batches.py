"""numpy batch paths' cost: build() and judge() of 4,096-row batches for SynBatcher,
FlagsBatcher (ack, fin) and PingBatcher (echo, syn:443, ack:80, timestamp).

Run: python -m bench.batches [--repeat N]
Each figure is the best of --repeat timings of 20 calls, in milliseconds a call. The replies
judged are the built probes' own answers (addresses and ports swapped, the cookie echoed where
the target would put it), so every row takes the fast path and decides its endpoint. Sends
nothing. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import timeit
from typing import Any, Callable

import numpy as np

from rawscan.cookies import Cookie
from rawscan.probes.ping import PingProbe, parse_probes
from rawscan.probes.tcp_flags import FLAG_SCANS, FlagsProbe
from rawscan.probes.tcp_syn import SynProbe
from rawscan.targets import TargetSet
from rawscan.vector import frames_from

LAB4 = 0xC6120000  # 198.18.0.0/15
SOURCES = (LAB4 | 1,)
TARGETS = TargetSet(((LAB4 + 256, LAB4 + 256 + 4095),))
PORTS = (22, 80, 443, 8080)
ROWS = 4096
RST, SYN_ACK, RST_ACK = 0x04, 0x12, 0x14


def _swapped(row: np.ndarray) -> bytearray:
    b = bytearray(bytes(row[:40]))
    b[12:16], b[16:20] = b[16:20], b[12:16]
    return b


def _tcp_answer(b: bytearray, flags: int, echo_ack: bool, plus: int) -> bytes:
    b[20:22], b[22:24] = b[22:24], b[20:22]
    seq = int.from_bytes(b[24:28], "big")
    if echo_ack:  # an ACK probe's RST: its sequence number is our acknowledgement number
        b[24:28], b[28:32] = b[28:32], bytes(4)
    else:
        b[24:28], b[28:32] = bytes(4), ((seq + plus) & 0xFFFFFFFF).to_bytes(4, "big")
    b[32], b[33] = 0x50, flags
    return bytes(b)


def tcp_answers(flags: int, echo_ack: bool, plus: int) -> Callable[[np.ndarray], list[bytes]]:
    return lambda rows: [_tcp_answer(_swapped(r), flags, echo_ack, plus) for r in rows]


def ping_answers(rows: np.ndarray) -> list[bytes]:
    out = []
    for r in rows:
        b = _swapped(r)
        if b[9] == 1:  # echo -> echo reply, timestamp -> timestamp reply
            b[20] = 0 if b[20] == 8 else 14
            out.append(bytes(b))
        elif b[33] & 0x10:  # ACK probe -> RST with seq = our ack
            out.append(_tcp_answer(b, RST, True, 0))
        else:
            out.append(_tcp_answer(b, SYN_ACK, False, 1))
    return out


def measure(batcher: Any, endpoints: np.ndarray, answers: Callable[[np.ndarray], list[bytes]],
            repeat: int) -> tuple[float, float, int]:
    frames = frames_from(answers(batcher.build(endpoints, 0)), 0.0)
    decided = len(batcher.judge(frames).endpoints)
    build = min(timeit.repeat(lambda: batcher.build(endpoints, 1), number=20, repeat=repeat))
    judge = min(timeit.repeat(lambda: batcher.judge(frames), number=20, repeat=repeat))
    return build / 20 * 1e3, judge / 20 * 1e3, decided


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timings of each loop (best shown)")
    repeat = parser.parse_args().repeat
    rng = np.random.default_rng(1)
    cookie = Cookie(bytes(range(16)))
    tcp_endpoints = rng.permutation(len(TARGETS) * len(PORTS))[:ROWS].astype(np.int64)
    cases: list[tuple[str, Any, np.ndarray, Callable[[np.ndarray], list[bytes]]]] = [
        ("syn", SynProbe(SOURCES, 40000, cookie).batcher(TARGETS, PORTS), tcp_endpoints,
         tcp_answers(SYN_ACK, False, 1)),
        ("ack", FlagsProbe(FLAG_SCANS["ack"], SOURCES, 40000, cookie).batcher(TARGETS, PORTS),
         tcp_endpoints, tcp_answers(RST, True, 0)),
        ("fin", FlagsProbe(FLAG_SCANS["fin"], SOURCES, 40000, cookie).batcher(TARGETS, PORTS),
         tcp_endpoints, tcp_answers(RST_ACK, False, 1)),
    ]
    kinds = parse_probes("echo,syn:443,ack:80,timestamp")
    ping = PingProbe(SOURCES, 41000, cookie, kinds).batcher(TARGETS, tuple(range(len(kinds))))
    cases.append(("ping", ping, rng.permutation(len(TARGETS) * len(kinds))[:ROWS].astype(np.int64),
                  ping_answers))
    print(f"| batcher | build ms / {ROWS} rows | judge ms / {ROWS} replies | decided |")
    print("| --- | ---: | ---: | ---: |")
    for name, batcher, endpoints, answers in cases:
        build, judge, decided = measure(batcher, endpoints, answers, repeat)
        print(f"| {name} | {build:.3f} | {judge:.3f} | {decided} |")


if __name__ == "__main__":
    main()
