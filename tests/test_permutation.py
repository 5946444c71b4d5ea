from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.permutation import Permutation

KEY = bytes(range(16))


def test_bijection_for_every_small_n() -> None:
    for n in range(301):
        p = Permutation(n, KEY)
        assert len(p) == n
        values = list(p)
        assert sorted(values) == list(range(n)), n
        assert [p[i] for i in range(n)] == values


def test_bijection_for_larger_n() -> None:
    for n in (65536, 65536 * 3, 65537):
        assert sorted(Permutation(n, KEY)) == list(range(n))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5000), st.binary(min_size=1, max_size=32))
def test_bijection_random_n_and_key(n: int, key: bytes) -> None:
    assert sorted(Permutation(n, key)) == list(range(n))


@settings(max_examples=50, deadline=None)
@given(st.integers(2**40, 2**48), st.integers(0, 2**40 - 1))
def test_huge_n_without_lists(n: int, i: int) -> None:
    p = Permutation(n, KEY)
    assert len(p) == n
    assert 0 <= p[i] < n
    assert 0 <= p[n - 1] < n
    assert p[i] == p[i]


def test_tiny() -> None:
    assert list(Permutation(0, KEY)) == []
    assert list(Permutation(1, KEY)) == [0]
    assert sorted(Permutation(2, KEY)) == [0, 1]


def test_index_errors() -> None:
    p = Permutation(10, KEY)
    for bad in (-1, 10, 2**70):
        with pytest.raises(IndexError):
            p[bad]
    with pytest.raises(IndexError):
        Permutation(0, KEY)[0]
    with pytest.raises(TypeError):
        p[1.5]  # type: ignore[index]
    with pytest.raises(ValueError):
        Permutation(-1, KEY)


def test_key_decides_order() -> None:
    n = 1000
    a = list(Permutation(n, b"key-a"))
    assert a == list(Permutation(n, b"key-a"))
    assert a != list(Permutation(n, b"key-b"))
    assert a != list(range(n))
    # Distinct keys should agree on few positions (about 1 expected by chance).
    agree = sum(x == y for x, y in zip(a, Permutation(n, b"key-b")))
    assert agree < 20


def test_looks_shuffled() -> None:
    # Consecutive outputs should jump around: mean |step| of a random order is n/3.
    n = 2**14
    values = list(Permutation(n, KEY))
    mean_step = sum(abs(b - a) for a, b in zip(values, values[1:])) / (n - 1)
    assert 0.3 * n < mean_step < 0.37 * n
    # And the first tenth should hit every tenth of the range.
    assert len({v * 10 // n for v in values[: n // 10]}) == 10
