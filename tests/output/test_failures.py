"""A write error costs one output, said in one line (rawscan/output/failures.py): a full device
or a disk filling up mid-scan is exit 74, stdout's reader going away exit 141; the other outputs
end whole and agree, and nothing is a traceback. Runs `rawscan replay` and `rawscan analyze`, so
nothing is sent.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan, rawscan_command
from tests.support.result_files import open_ports, results_in
from tests.support.syn_recording import SYN

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


XML_CSV_JSON = ("-oX", "-oC", "-oJ")


@pytest.mark.parametrize("failing", XML_CSV_JSON)
@pytest.mark.parametrize("command", ["replay", "analyze"])
def test_an_output_on_a_full_device_is_one_line_and_the_others_stay_whole(
        tmp_path: Path, failing: str, command: str) -> None:
    capture = SYN if command == "replay" else PCAPS / "analyze-nmap-syn.pcap"
    others = {o: tmp_path / f"out{s}" for o, s in zip(XML_CSV_JSON, (".xml", ".csv", ".jsonl"))
              if o != failing}
    args = [command, str(capture), "-q", failing, "/dev/full"]
    for option, path in others.items():
        args += [option, str(path)]
    proc = rawscan(*args)
    assert proc.returncode == 74, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rawscan: error:")]
    assert len(errors) == 1 and "'/dev/full': No space left on device" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    written = [path for path in others.values() if path.exists()]
    if failing == "-oX":  # its preamble fails on opening: refused before a probe or a table
        assert written == [] and "Starting" not in proc.stdout and "PORT" not in proc.stdout
        return
    assert len(written) == 2, proc.stderr
    sets = [results_in(path) for path in written]  # each parses: whole documents
    assert open_ports(sets[0]) == open_ports(sets[1])  # and they agree
    if "-oX" not in others:
        assert sets[0] == sets[1]


@as_root
def test_a_disk_filling_up_mid_scan_stops_cleanly(tmp_path: Path) -> None:
    """A real ENOSPC part way (a 16 KiB tmpfs): the JSON Lines cut there, the XML elsewhere whole."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(small)], check=True)
    try:
        (small / "filler").write_bytes(b"x" * 8192)
        proc = rawscan("replay", str(SYN), "-q", "-oJ", str(small / "scan.jsonl"),
                       "-oX", str(tmp_path / "scan.xml"))
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert proc.returncode == 74, proc.stderr
    assert "No space left on device; stopping the scan" in proc.stderr
    assert "Traceback" not in proc.stderr and "Stopped:" in proc.stdout
    results_in(tmp_path / "scan.xml")  # parses


def test_a_pcap_recording_that_fails_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from scapy.utils import PcapWriter

    from rawscan.output import failures
    from rawscan.output.failures import GuardedBinaryFile

    stopped: list[bool] = []
    record = failures.begin(on_file_failure=lambda: stopped.append(True))
    writer = PcapWriter(GuardedBinaryFile(open("/dev/full", "wb"), "/dev/full"), linktype=101)
    writer.write_header(None)
    for _ in range(1000):
        writer.write_packet(b"\x45" + b"\0" * 59, sec=1, usec=0)
    writer.close()
    assert record.failed == ["/dev/full"] and stopped == [True] and record.exit_code == 74


def test_stdouts_reader_going_away_costs_only_stdout(tmp_path: Path) -> None:
    """`-oJ - | head -1`: the reader is gone before the first record."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [rawscan_command(), "replay", str(SYN), "-q", "-oJ", "-", "-oC", str(tmp_path / "a.csv"),
             "-oX", str(tmp_path / "a.xml")], stdout=write_end, stderr=subprocess.PIPE, text=True,
            timeout=60, env={**os.environ, "SUDO_UID": ""})
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert "stdout's reader went away" in proc.stderr and "Traceback" not in proc.stderr
    every = results_in(tmp_path / "a.csv")
    assert len(every) == 200  # the whole scan
    assert open_ports(every) == open_ports(results_in(tmp_path / "a.xml"))
