"""Shared test setup: the `live` marker, the namespace-lab fixture, the engine's hot paths."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.lab import Lab, LabSpec, lab_unavailable_reason, sweep_leftovers


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: needs root and network namespaces (builds a lab)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("live") is not None:
        skip_unless_lab()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    sweep_leftovers()  # labs whose test died before teardown


def skip_unless_lab() -> None:
    """Skip the calling test when no live lab can be built here (not root, no nft, ...)."""
    reason = lab_unavailable_reason()
    if reason is not None:
        pytest.skip(f"live lab unavailable: {reason}")


@pytest.fixture
def make_lab() -> Iterator[Callable[..., Lab]]:
    """make_lab(LabSpec(...)) builds a running lab, torn down when the test ends."""
    skip_unless_lab()
    labs: list[Lab] = []

    def make(spec: LabSpec | None = None) -> Lab:
        lab = Lab(spec)
        labs.append(lab)  # before entering: a half-built lab is closed too
        return lab.__enter__()

    try:
        yield make
    finally:
        for lab in reversed(labs):
            lab.close()


@pytest.fixture(params=["per-item", "numpy"])
def hot_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test runs on each of the engine's hot paths, per item and numpy batches, whatever
    the scan's size: the two must decide alike."""
    import rawscan.engine

    monkeypatch.setattr(rawscan.engine, "VECTOR_MIN_ENDPOINTS", 0 if request.param == "numpy" else 1 << 60)
    return str(request.param)
