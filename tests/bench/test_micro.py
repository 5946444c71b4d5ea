"""rawscan.bench.micro (the README's "Design figures") still runs: every row measured."""

from __future__ import annotations

from rawscan.bench.micro import rows


def test_every_design_figure_is_measured() -> None:
    measured = rows(repeat=1)
    assert len(measured) >= 19
    assert all(us > 0 for _where, _what, _how, us in measured)
