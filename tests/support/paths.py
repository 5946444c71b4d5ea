"""Where the tests' fixed inputs live, whatever the depth of the test file that needs them."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "pcaps"  # recorded lab scans (tools/record_*.py)
EXAMPLES = REPO / "examples"
# tcpdump's test captures, beside the project (../shared), not part of it
CORPUS = REPO.parent / "shared" / "corpus" / "tcpdump-tests"
