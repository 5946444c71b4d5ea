"""rawscan's pytest plugin (rawscan/pytest_plugin.py), run by pytest's own pytester: the
rawscan_replay fixture, exposure failures as `rawscan diff` lines, the rawscan_live skip,
--rawscan-record in the live lab, and the examples/ci-replay CI step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.lab import Lab, LabSpec
from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]

EXAMPLE = EXAMPLES / "ci-replay"
TARGET = "198.18.0.2"


def with_capture(pytester: pytest.Pytester) -> Path:
    """The example's recording (22 and 443 open of 1-1024) beside the test files."""
    for name in ("staging.pcap", "staging.pcap.json"):
        shutil.copy(EXAMPLE / name, pytester.path / name)
    return pytester.path / "staging.pcap"


def test_a_passing_exposure_test_passes(pytester: pytest.Pytester) -> None:
    with_capture(pytester)
    pytester.makepyfile(test_mine="""
        from rawscan.testing import Exposure, expect_exposure

        def test_exposure(rawscan_replay):
            result = rawscan_replay("staging.pcap")
            expect_exposure(result, {"198.18.0.2": {"tcp": {22: "open", 443: "open"}, "other": "closed"}})
            assert result == Exposure({"198.18.0.2": {"tcp": {22: "open", 443: "open"}, "other": "not open"}})
            assert [p.port for p in result.open()] == [22, 443]
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_failing_exposure_test_lists_the_ports_that_differ(pytester: pytest.Pytester) -> None:
    capture = with_capture(pytester)
    pytester.makepyfile(test_mine="""
        from rawscan.testing import Exposure, expect_exposure

        def test_with_expect(rawscan_replay):
            expect_exposure(rawscan_replay("staging.pcap"),
                            {"198.18.0.2": {"tcp": {22: "open", 25: "open"}, "other": "closed"}})

        def test_with_assert(rawscan_replay):
            assert rawscan_replay("staging.pcap") == Exposure(
                {"198.18.0.2": {"tcp": {22: "open", 25: "open"}, "other": "closed"}})
    """)
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    run.assert_outcomes(failed=2)
    diff = ["- 198.18.0.2 25/tcp disappeared: open -> closed",
            "+ 198.18.0.2 443/tcp appeared: closed -> open",
            "2 port(s) differ: 1 appeared, 1 disappeared."]
    # expect_exposure: its AssertionError's lines, exactly
    assert capture.name == "staging.pcap"  # named relative to where pytest runs
    run.stdout.fnmatch_lines(["E   *AssertionError: staging.pcap: exposure differs from the expected",
                              *(f"E       {line}" for line in diff)], consecutive=True)
    # assert ==: the plugin's pytest_assertrepr_compare explains it with the same lines
    run.stdout.fnmatch_lines(["E       assert staging.pcap: exposure differs from the expected",
                              *(f"E         {line}" for line in diff)], consecutive=True)


def test_two_results_compared_with_assert_show_rawscan_diff_lines(pytester: pytest.Pytester) -> None:
    with_capture(pytester)
    pytester.makepyfile(test_mine="""
        import rawscan

        def test_same(rawscan_replay, tmp_path):
            result = rawscan_replay("staging.pcap")
            result.write(str(tmp_path / "r.jsonl"), "json")
            assert rawscan.load(tmp_path / "r.jsonl") == result
            lines = (tmp_path / "r.jsonl").read_text().replace('"port":22,"state":"open"',
                                                               '"port":22,"state":"closed"')
            (tmp_path / "changed.jsonl").write_text(lines)
            assert result == rawscan.load(tmp_path / "changed.jsonl")
    """)
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    run.assert_outcomes(failed=1)
    run.stdout.fnmatch_lines(["E       assert staging.pcap == */changed.jsonl: ports differ",
                              "E         - 198.18.0.2 22/tcp disappeared: open -> closed",
                              "E         1 port(s) differ: 1 disappeared."], consecutive=True)


LIVE_TEST = """
    import pytest

    @pytest.mark.rawscan_live
    def test_needs_raw_sockets():
        pass
"""
SKIP_REASON = ("rawscan_live: no raw-socket privilege (run the tests as root, or give this "
               "interpreter CAP_NET_RAW)")


def test_rawscan_live_is_skipped_with_its_reason_without_the_privilege(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_live=LIVE_TEST)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(pytester.path)]
    if os.geteuid() == 0:  # root, without CAP_NET_RAW: the check is the capability, not the uid
        argv = ["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", *argv]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=pytester.path)
    assert "1 skipped" in run.stdout, run.stdout
    assert f"SKIPPED [1] test_live.py:3: {SKIP_REASON}" in run.stdout, run.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a test marked rawscan_live must run")
def test_rawscan_live_runs_with_the_privilege(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_live=LIVE_TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_example_ci_step_passes() -> None:
    """examples/ci-replay/ci-step.sh, as CI runs it: the ~10-line test against its pcap."""
    assert len((EXAMPLE / "test_staging.py").read_text().splitlines()) <= 10
    run = subprocess.run(["sh", str(EXAMPLE / "ci-step.sh")], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHON": sys.executable})
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


@pytest.mark.live
def test_rawscan_record_records_the_captures_again_from_their_live_scans(
        pytester: pytest.Pytester, make_lab: Callable[..., Lab]) -> None:
    """The lab now also listens on 80: --rawscan-record runs the capture's scan again inside
    the scanner namespace, so the example's test fails on the new port, and the replay of
    the new recording (without the option) shows it too."""
    capture = with_capture(pytester)
    shutil.copy(EXAMPLE / "test_staging.py", pytester.path / "test_staging.py")
    before = capture.read_bytes()
    lab = make_lab(LabSpec(open_tcp=(22, 80, 443), ipv6=False))
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(pytester.path)]
    recorded = lab.exec_scanner([*argv, "--rawscan-record"], cwd=pytester.path)
    assert "1 failed" in recorded.stdout, recorded.stdout + recorded.stderr
    assert "+ 198.18.0.2 80/tcp appeared: closed -> open" in recorded.stdout, recorded.stdout
    assert capture.read_bytes() != before
    import rawscan

    assert [p.port for p in rawscan.replay(capture).open()] == [22, 80, 443]
    replayed = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=pytester.path)
    assert "1 failed" in replayed.stdout and "80/tcp appeared" in replayed.stdout, replayed.stdout


def test_rawscan_record_without_the_privilege_fails_saying_so(pytester: pytest.Pytester) -> None:
    capture = with_capture(pytester)
    shutil.copy(EXAMPLE / "test_staging.py", pytester.path / "test_staging.py")
    before = capture.read_bytes()
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rawscan-record",
            str(pytester.path)]
    if os.geteuid() == 0:
        argv = ["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", *argv]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=pytester.path)
    assert "1 failed" in run.stdout, run.stdout
    assert f"--rawscan-record: cannot record 'staging.pcap': {SKIP_REASON}" in run.stdout, run.stdout
    assert capture.read_bytes() == before
