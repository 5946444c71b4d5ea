"""Reply cookies: the batch form equals the per-flow one, keys differ per seed and purpose."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.cookies import Cookie, derive_key

address = st.integers(0, 2**32 - 1)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**63 - 1), address, st.lists(address, max_size=50))
def test_batch_host_values_are_the_per_flow_ones(seed: int, src: int, targets: list[int]) -> None:
    cookie = Cookie(derive_key(seed, "cookie"))
    raw = cookie.host_values(src, targets)
    assert [int.from_bytes(raw[i * 4 : i * 4 + 4], "big") for i in range(len(targets))] == [
        cookie.host(src, t) for t in targets]


def test_cookies_depend_on_every_part_of_the_flow() -> None:
    cookie = Cookie(derive_key(1, "cookie"))
    base = cookie(1, 2, 40000, 80)
    assert len({base, cookie(1, 3, 40000, 80), cookie(1, 2, 40001, 80), cookie(1, 2, 40000, 81),
                cookie(5, 2, 40000, 80)}) == 5
    assert Cookie(derive_key(2, "cookie"))(1, 2, 40000, 80) != base
    assert derive_key(1, "cookie") != derive_key(1, "order")


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**63 - 1), address, st.lists(st.tuples(address, st.integers(0, 65535),
       st.integers(0, 65535)), min_size=1, max_size=30), st.booleans())
def test_the_inlined_cookie_is_the_sum_of_its_parts(seed: int, src: int,
                                                    flows: list[tuple[int, int, int]],
                                                    ranged: bool) -> None:
    """Cookie.__call__'s fast path (its tables read inline, the range table or the small
    cache) gives host ^ dport ^ sport, before the tables exist and after."""
    cookie = Cookie(derive_key(seed, "cookie"))
    if ranged:
        targets = [t for t, _s, _d in flows]
        cookie.remember_range(min(targets), min(targets) + 1000)
    fresh = Cookie(derive_key(seed, "cookie"))
    for _ in range(2):  # the first call makes the tables, the second reads them inline
        for dst, sport, dport in flows:
            assert cookie(src, dst, sport, dport) == \
                fresh.host(src, dst) ^ fresh.dport(dport) ^ fresh.sport(sport)
