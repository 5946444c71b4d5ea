"""rawscan's pytest plugin (entry point pytest11 "rawscan"; loaded by pytest on its own).

- `rawscan_replay` fixture: `rawscan_replay("staging.pcap")` replays a capture recorded with
  `--pcap` (relative paths are the test file's directory's) and returns its ScanResult.
- `--rawscan-record`: before replaying, each capture is recorded again by running the live
  scan it came from (its sidecar's targets, ports, seed and options): the lab job refreshes
  the captures CI replays. Needs the raw-socket privilege.
- `@pytest.mark.rawscan_live`: the test is skipped, with the reason, without the raw-socket
  privilege (root or CAP_NET_RAW).
- `assert result == Exposure({...})` and `assert old == new` (ScanResults) fail with the
  ports that differ, as `rawscan diff` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .api.result import ScanResult

RECORD_OPTION = "--rawscan-record"
_recorded = pytest.StashKey[set[str]]()

Replayer = Callable[..., "ScanResult"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rawscan")
    group.addoption(RECORD_OPTION, action="store_true", default=False,
                    help="record the captures rawscan_replay is given again, by running the "
                         "live scans they came from (needs the raw-socket privilege)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rawscan_live: needs the raw-socket privilege (root or CAP_NET_RAW); "
                   "skipped without it")
    config.stash[_recorded] = set()


def live_unavailable_reason() -> str | None:
    """Why live scans cannot run here, or None when they can."""
    from .privileges import has_raw_socket_capability

    if has_raw_socket_capability():
        return None
    return ("rawscan_live: no raw-socket privilege (run the tests as root, or give this "
            "interpreter CAP_NET_RAW)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("rawscan_live") is not None]
    reason = live_unavailable_reason() if marked else None
    if reason is None:
        return
    for item in marked:
        item.add_marker(pytest.mark.skip(reason=reason))  # reported at the test's own line


@pytest.fixture
def rawscan_replay(request: pytest.FixtureRequest) -> Replayer:
    """replay(capture, plan=None) -> ScanResult; with --rawscan-record, recorded anew first."""
    import rawscan

    record = bool(request.config.getoption(RECORD_OPTION))
    recorded = request.config.stash[_recorded]
    here = Path(request.path).parent

    def replay(capture: str | PathLike[str], plan: str | PathLike[str] | None = None) -> ScanResult:
        path = _beside(here, capture)
        plan_path = None if plan is None else _beside(here, plan)
        if record and str(path) not in recorded:
            _record(path, plan_path)
            recorded.add(str(path))
        return rawscan.replay(path, plan_path)

    return replay


def _beside(here: Path, name: str | PathLike[str]) -> Path:
    """A relative name is the test file's directory's; shown relative to where pytest runs."""
    import os

    path = Path(name) if Path(name).is_absolute() else here / name
    shown = os.path.relpath(path)
    return Path(shown) if not shown.startswith("..") else path


def _record(path: Path, plan: Path | None) -> None:
    from .api.public import record_again
    from .errors import RawscanError, one_line

    reason = live_unavailable_reason()
    if reason is not None:
        pytest.fail(f"{RECORD_OPTION}: cannot record '{path}': {reason}", pytrace=False)
    try:
        record_again(path, plan)
    except RawscanError as exc:
        pytest.fail(f"{RECORD_OPTION}: cannot record '{path}': {one_line(exc)}", pytrace=False)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object,
                              right: object) -> list[str] | None:
    if op != "==":
        return None
    from .api.result import ScanResult
    from .testing import Exposure, difference_lines

    if isinstance(left, ScanResult) and isinstance(right, Exposure):
        return [f"{left.source}: exposure differs from the expected", *right.explain(left)]
    if isinstance(left, Exposure) and isinstance(right, ScanResult):
        return [f"{right.source}: exposure differs from the expected", *left.explain(right)]
    if isinstance(left, ScanResult) and isinstance(right, ScanResult):
        return [f"{left.source} == {right.source}: ports differ", *difference_lines(left.diff(right))]
    return None
