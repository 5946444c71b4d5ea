"""The tests' own house (README "Tests", Layout): test files in the package's mirror, helpers
in tests/support/, benchmarks in bench/, recorders in tools/, and nothing reaching for
sys.path to find them."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import REPO

TESTS = REPO / "tests"
PATH_HACK = re.compile(r"sys\.path\.(insert|append)\(")
# a top-level import of a helper by its bare name: works only with tests/ on sys.path
BARE_HELPER = re.compile(r"^\s*(from|import) (?!tests\b|bench\b|tools\b|rawscan\b)("
                         + "|".join(sorted(p.stem for p in (TESTS / "support").glob("*.py")
                                           if p.stem != "__init__")) + r")\b", re.M)


def _python_files(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (REPO / top).rglob("*.py") if ".venv" not in p.parts)


def test_every_test_directory_is_a_package() -> None:
    """Without __init__.py two test files of one name (analyze/test_banners.py and
    live/test_banners.py) would collide as top-level modules."""
    missing = [str(d.relative_to(REPO)) for d in [TESTS, *TESTS.rglob("*")]
               if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
               and not (d / "__init__.py").exists()]
    assert missing == []


def test_helpers_live_in_support_benchmarks_in_bench_recorders_in_tools() -> None:
    strays = [str(p.relative_to(REPO)) for p in TESTS.rglob("*.py")
              if p.parent.name != "support" and p.name != "__init__.py" and p.name != "conftest.py"
              and not p.name.startswith("test_")]
    assert strays == [], "helpers go to tests/support/, benchmarks to bench/, recorders to tools/"


def test_nothing_reaches_for_sys_path() -> None:
    offenders = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in _python_files("tests", "bench", "tools")
                 if p != Path(__file__) for m in [*PATH_HACK.finditer(p.read_text()),
                                                  *BARE_HELPER.finditer(p.read_text())]]
    assert offenders == [], "import helpers as tests.support.NAME (README, Tests: Layout)"
