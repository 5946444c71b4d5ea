"""Resume files (rawscan/resume.py, `rawscan resume`): a resumed run never writes over the first
run's results; a resume file never needed is not left behind; a crafted one (a progress bomb, a
plan no live scan may run) is one error line, found cheaply."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

from rawscan.errors import RawscanError

from tests.support.rawscan_cli import one_error_line, rawscan
from tests.support.syn_recording import SYN, sidecar_plan


# --- a resumed run never writes over the first run's results --------------------------------


def test_resume_refuses_to_write_over_the_first_runs_results(tmp_path: Path) -> None:
    from rawscan.resume import resume_document

    plan = sidecar_plan()
    resume_file = tmp_path / "rawscan.resume"
    resume_file.write_text(resume_document(plan, b"\0" * ((len(plan.ports) + 7) // 8)))
    first = tmp_path / "scan.jsonl"
    assert rawscan("replay", str(SYN), "-q", "-oJ", str(first)).returncode == 0
    before = first.read_bytes()
    for extra in ([], ["--force"]):
        proc = rawscan("resume", str(resume_file), "-q", "-oJ", str(first), *extra)
        one_error_line(proc, "scan.jsonl", "already holds results", "new names")
        assert first.read_bytes() == before


# --- opened at the start, removed when the scan finishes ------------------------------------


def test_a_resume_file_never_needed_is_not_left_behind(tmp_path: Path) -> None:
    """Opened at the start, it is removed again when the scan finishes."""
    from rawscan.commands.common import run_and_report
    from rawscan.capture import read_ip_packets
    from rawscan.output.options import OutputOptions
    from rawscan.scan import probe_for
    from rawscan.transports.replay import ReplayTransport

    plan = sidecar_plan()
    probe = probe_for(plan)
    transport = ReplayTransport(((p.time, p.ip) for p in read_ip_packets(str(SYN))), probe.flow)
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        run_and_report(plan, probe, transport, OutputOptions(quiet=True),
                       resume_path=str(tmp_path / "rawscan.resume"))
    assert list(tmp_path.iterdir()) == []


# --- crafted resume files: a progress bomb, a plan beyond a live scan's bounds --------------


def test_a_resume_file_whose_progress_inflates_hugely_is_refused_cheaply(tmp_path: Path) -> None:
    import base64
    import tracemalloc
    import zlib

    from rawscan.resume import load_resume

    plan = sidecar_plan()
    bomb = base64.b64encode(zlib.compress(b"\0" * (64 << 20), 9)).decode()  # 64 MiB inflated
    path = tmp_path / "bomb.resume"
    path.write_text(json.dumps({"rawscan_resume": 1, "plan": plan.to_json(), "done": bomb}))
    tracemalloc.start()
    with pytest.raises(RawscanError, match="damaged"):
        load_resume(str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, peak  # was the whole 64 MiB (8.4 GB for a crafted file)


def test_a_resume_file_holds_the_bounds_of_a_live_scan(tmp_path: Path) -> None:
    """A resume file whose plan asks --timeout 1e5 (a sidecar may say that) is one error line."""
    import dataclasses

    from rawscan.errors import RawscanError
    from rawscan.plan import ScanPlan
    from rawscan.resume import load_resume, write_resume
    from rawscan.targets import TargetSet

    plan = ScanPlan(scan="syn", targets=TargetSet(((0x7F000001, 0x7F000001),)), ports=(22,),
                    seed=1, sources=(0x7F000001,), source_port=40000)
    good, bad = tmp_path / "good.resume", tmp_path / "bad.resume"
    write_resume(str(good), plan, b"\0")
    assert load_resume(str(good))[0] == plan
    write_resume(str(bad), dataclasses.replace(plan, timeout=1e5), b"\0")
    with pytest.raises(RawscanError, match="--timeout 100000 is more than any scan can use"):
        load_resume(str(bad))
