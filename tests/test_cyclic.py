"""The cyclic-group order (rawscan/cyclic.py), and the copies of its walk made for speed held
to it: the numpy walk a block at a time (vector.walk_blocks, and its per-step fallback for
primes past 2^32) and the engine's inlined per-item walk (Engine._send_round)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

import rawscan.engine
from rawscan.cookies import derive_key
from rawscan.cyclic import CyclicOrder, is_probable_prime, safe_prime_above
from rawscan.engine import ScanOptions
from rawscan.vector import WALK_BLOCK, _walk_slow, walk_blocks

from tests.support.engine import run_engine
from tests.support.simnet import SimulatedNetwork


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 1000, 65535])
def test_cyclic_order_visits_every_index_once(n: int) -> None:
    order = list(CyclicOrder(n, b"key"))
    assert sorted(order) == list(range(n))
    if n > 10:
        assert order != sorted(order)
        assert order != list(CyclicOrder(n, b"other key"))


def test_safe_primes() -> None:
    for n in (5, 100, 2**32, 2**48 + 12345):
        p = safe_prime_above(n)
        assert p > n and is_probable_prime(p) and is_probable_prime((p - 1) // 2)
    assert not is_probable_prime(2**32 + 1)  # 641 x 6700417
    assert not is_probable_prime(3215031751)  # a strong pseudoprime to bases 2, 3, 5, 7


def _joined(blocks: list[np.ndarray]) -> list[int]:
    return [int(i) for block in blocks for i in block.tolist()]


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(0, 50), st.integers(WALK_BLOCK - 5, 3 * WALK_BLOCK + 5)),
       st.binary(min_size=1, max_size=8))
def test_the_numpy_walk_is_the_cyclic_order(n: int, key: bytes) -> None:
    order = CyclicOrder(n, key)
    assert _joined(list(walk_blocks(order))) == list(order)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 3 * WALK_BLOCK), st.binary(min_size=1, max_size=8))
def test_the_per_step_fallback_walk_is_the_cyclic_order(n: int, key: bytes) -> None:
    """(walk_blocks takes it for primes past 2^32, too large to walk here whole)"""
    order = CyclicOrder(n, key)
    walked = _walk_slow(order.n, order.generator, order.prime, order.start, order.prime - 1)
    assert _joined(list(walked)) == list(order)


@pytest.mark.parametrize("vector", [False, True])
def test_the_engines_walk_sends_in_the_cyclic_order(vector: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine._send_round (and _send_round_vector) walk the group inlined: the first round's
    probes leave in CyclicOrder's order for the round's key."""
    monkeypatch.setattr(rawscan.engine, "VECTOR_MIN_ENDPOINTS", 0 if vector else 1 << 60)
    ports = tuple(range(1, 701))
    net = SimulatedNetwork({})  # every port closed: one round
    run_engine(net, ports, ScanOptions(retries=0), seed=7)
    key = derive_key(7, "order")
    sent = [IP(p)[TCP].dport for p in net.packets]
    assert sent == [ports[i] for i in CyclicOrder(len(ports), key + bytes([0]))]
