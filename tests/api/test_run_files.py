"""api/run_files.open_run: a scan's and a ping's files opened in one order, and whatever
fails closes what was opened before it (and the transport), leaving no file it created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rawscan.api.run_files import open_run
from rawscan.errors import RawscanError
from rawscan.engine import ScanStats
from rawscan.output import RunInfo
from rawscan.output.options import OutputOptions, open_writers

from tests.support.rawscan_cli import one_error_line, rawscan

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")


class Transport:
    closed = 0

    def close(self) -> None:
        self.closed += 1


def _info() -> RunInfo:
    return RunInfo(scan="syn", proto="tcp", ports=(80,), total_hosts=1)


def test_files_open_in_order_and_end_whole(tmp_path: Path) -> None:
    out, resume, meta = tmp_path / "r.jsonl", tmp_path / "r.resume", tmp_path / "m.json"
    options = OutputOptions(json_out=str(out))
    transport = Transport()
    files, info = open_run(options, transport, _info, open_writers, resume_path=str(resume),
                           warn=None, metadata_path=str(meta))
    assert transport.closed == 0 and info.proto == "tcp"
    assert files.resume is not None and files.metadata is not None and len(files.writers) == 1
    assert out.exists() and resume.exists() and meta.exists()
    files.end_outputs(ScanStats())
    assert files.written.on_file_failure is None
    files.close_resume()
    files.metadata.close()
    assert not resume.exists()  # created by this run and never written: removed


def test_a_failing_output_closes_the_others_and_the_transport(tmp_path: Path) -> None:
    resume, meta = tmp_path / "r.resume", tmp_path / "m.json"
    opened: list[str] = []

    def failing_writers(options: OutputOptions, info: RunInfo) -> list[object]:
        opened.append("writers")
        raise RawscanError("cannot write the output")

    transport = Transport()
    with pytest.raises(RawscanError, match="cannot write the output"):
        open_run(OutputOptions(), transport, _info, failing_writers,  # type: ignore[arg-type]
                 resume_path=str(resume), warn=None, metadata_path=str(meta))
    assert opened == ["writers"] and transport.closed == 1
    assert not resume.exists()  # the resume file is opened after the outputs


def test_a_resume_file_that_is_an_output_is_refused_before_any_is_emptied(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"ip": "198.18.0.2"}\n')
    transport = Transport()
    with pytest.raises(RawscanError, match="same file"):
        open_run(OutputOptions(json_out=str(out), force=True), transport, _info, open_writers,
                 resume_path=str(out), warn=None)
    assert transport.closed == 1 and out.read_text() == '{"ip": "198.18.0.2"}\n'


def test_a_failed_scan_abandons_every_file(tmp_path: Path) -> None:
    out, resume = tmp_path / "r.jsonl", tmp_path / "r.resume"
    files, _info_ = open_run(OutputOptions(json_out=str(out)), Transport(), _info, open_writers,
                             resume_path=str(resume), warn=None)
    with pytest.raises(KeyboardInterrupt):
        with files.abandoned_on_failure():
            raise KeyboardInterrupt
    assert not resume.exists()
    assert out.exists()  # unfinished, as each format marks itself, and still valid


# --- a refused --pcap leaves nothing behind -------------------------------------------------


@as_root
def test_a_refused_scan_leaves_no_recording_behind(tmp_path: Path) -> None:
    """The resume file is refused after the recording's files were made: they were left."""
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", "--pcap", "b.pcap",
                   "--resume-file", "/proc/nope/x", cwd=tmp_path)
    one_error_line(proc, "/proc/nope/x")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "b.pcap").write_bytes(b"mine")  # one that was there before stays
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", "--pcap", "b.pcap", "--force",
                   "--resume-file", "/proc/nope/x", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.pcap"]
    proc = rawscan("syn", "127.0.0.1", "-p", "1", "-q", "--pcap", "c.pcap", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # a scan that ran keeps its recording
    assert {"c.pcap", "c.pcap.json"} <= {p.name for p in tmp_path.iterdir()}
