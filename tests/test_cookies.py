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
