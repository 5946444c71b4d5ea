"""Issue 13, hostile use: sudo, full disks, closed pipes, one file named two ways, resumed
runs, crafted sidecars. Runs `rawscan replay` and `rawscan analyze` (no network) and the live
command's recording step with its transport replaced, so nothing is sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawscan.errors import RawscanError

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import one_error_line, rawscan_command

SYN = PCAPS / "syn-every-reply-kind.pcap"
NOBODY = 65534
SUDO_NOBODY = {"SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)}

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")


def rawscan(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (SUDO_UID cleared unless env sets it)."""
    return subprocess.run([rawscan_command(), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd,
                          env={**os.environ, "SUDO_UID": "", "SUDO_GID": "", **(env or {})})


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory tree the sudo user (nobody) can reach: pytest's own tmp_path is root's 0700.
    Inside: `home` (nobody's own directory) and `system` (root's, 0755, like /etc)."""
    top = Path(tempfile.mkdtemp(prefix="rawscan-reliab-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        (top / "home").mkdir()
        os.chown(top / "home", NOBODY, NOBODY)
        (top / "system").mkdir(mode=0o755)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


# --- High 1: under sudo, files are opened with the user's rights ----------------------------


@as_root
@pytest.mark.parametrize("option", ["-oG", "-oX", "-oJ", "-oC", "-oA"])
def test_under_sudo_no_output_lands_where_the_user_could_not_write(world: Path, option: str) -> None:
    """`sudo rawscan -oG /etc/profile.d/x.sh` gave the user a root-sourced script."""
    system, home = world / "system", world / "home"
    link = home / "etc"  # nobody's link into root's directory: a directory part of the path
    link.symlink_to(system)
    os.lchown(link, NOBODY, NOBODY)
    for path in (system / "x.sh", link / "x.sh"):
        proc = rawscan("replay", str(SYN), "-q", option, str(path), env=SUDO_NOBODY)
        one_error_line(proc, "Permission denied", "uid 65534")
        assert list(system.iterdir()) == [], proc.stderr


@as_root
def test_under_sudo_outputs_are_created_by_the_user(world: Path) -> None:
    home = world / "home"
    proc = rawscan("replay", str(SYN), "-q", "-oA", str(home / "scan"), env=SUDO_NOBODY)
    assert proc.returncode == 0, proc.stderr
    for suffix in (".xml", ".gnmap", ".jsonl", ".csv"):
        st = (home / "scan").with_suffix(suffix).stat()
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


class _NoNetwork:
    def __init__(self, *_args: object, **_kwargs: object) -> None:
        from rawscan.transports.base import SystemClock

        self.clock = SystemClock()

    def close(self) -> None:
        pass


@contextlib.contextmanager
def recording_step() -> Iterator[None]:
    """The live command's file opening, with nothing sent: run_and_report only closes."""
    from unittest import mock

    def report(_plan: object, _probe: object, transport: object, _output: object,
               **_options: object) -> None:
        transport.close()  # type: ignore[attr-defined]

    with mock.patch("rawscan.transports.live.LiveTransport", _NoNetwork), \
         mock.patch("rawscan.commands.scan.run_and_report", report):
        yield


def sidecar_plan():  # type: ignore[no-untyped-def]
    from rawscan.plan import ScanPlan

    return ScanPlan.from_json(Path(f"{SYN}.json").read_text(), "sidecar")


@as_root
def test_under_sudo_pcap_sidecar_and_resume_file_have_the_users_rights(
        world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rawscan.commands.scan import _run_live
    from rawscan.output.options import OutputOptions
    from rawscan.resume import write_resume

    for name, value in SUDO_NOBODY.items():
        monkeypatch.setenv(name, value)
    system, home = world / "system", world / "home"
    (home / "etc").symlink_to(system)
    plan = sidecar_plan()
    for pcap in (system / "x.pcap", home / "etc" / "x.pcap"):
        with recording_step(), pytest.raises(RawscanError, match="Permission denied"):
            _run_live(plan, None, pcap, OutputOptions())
        with pytest.raises(RawscanError, match="Permission denied"):
            write_resume(str(pcap.with_suffix(".resume")), plan, b"\0")
    assert list(system.iterdir()) == []
    with recording_step():
        _run_live(plan, None, home / "x.pcap", OutputOptions())
    write_resume(str(home / "x.resume"), plan, b"\0" * ((len(plan.targets) * len(plan.ports) + 7) // 8))
    for made in ("x.pcap", "x.pcap.json", "x.resume"):
        assert (home / made).stat().st_uid == NOBODY, made


# --- High 3 and Medium 4: a write error costs one output, said in one line ------------------

XML_CSV_JSON = ("-oX", "-oC", "-oJ")


def results_in(path: Path) -> set[tuple[str, int, str]]:
    """(ip, port, state) of every port a rawscan output lists, whatever its format."""
    import csv
    import xml.etree.ElementTree as ET

    text = path.read_text()
    if path.suffix == ".xml":
        root = ET.fromstring(text)  # also: the document is whole
        return {(h.find("address").get("addr"), int(p.get("portid")), p.find("state").get("state"))
                for h in root.iter("host") for p in h.iter("port")}
    if path.suffix == ".csv":
        return {(r["ip"], int(r["port"]), r["state"]) for r in csv.DictReader(text.splitlines())}
    return {(r["ip"], r["port"], r["state"]) for r in map(json.loads, text.splitlines())}


def open_ports(results: set[tuple[str, int, str]]) -> set[tuple[str, int, str]]:
    return {r for r in results if r[2] == "open"}  # the XML lists only these and the few others


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


# --- Medium 5: one file named two ways ------------------------------------------------------


def test_one_file_named_two_ways_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    for first, second in (("a", "./a"), ("real/b", "linked/b"), (str(tmp_path / "c"), "c")):
        proc = rawscan("replay", str(SYN), "-q", "-oJ", first, "-oC", second, cwd=tmp_path)
        one_error_line(proc, "same file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linked", "real"]
    assert list((tmp_path / "real").iterdir()) == []
    proc = rawscan("replay", str(SYN), "-q", "-oJ", "/dev/null", "-oC", "/dev/null")
    assert proc.returncode == 0, proc.stderr  # a device takes any number of writers


# --- Medium 6: a resumed run never writes over the first run's results ----------------------


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


# --- Medium 9: analyze and replay parse as the user, never as root --------------------------


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@as_root
@pytest.mark.parametrize("command", ["replay", "analyze"])
def test_under_sudo_captures_and_sidecars_are_parsed_as_the_user(world: Path, command: str) -> None:
    """The input is a FIFO: the moment rawscan opens it to read, its ids are looked at."""
    fifo = world / "home" / "input"
    os.mkfifo(fifo, 0o644)
    if command == "replay":
        args, feed = ["replay", str(SYN), "--plan", str(fifo)], Path(f"{SYN}.json").read_bytes()
    else:
        args, feed = ["analyze", str(fifo)], (PCAPS / "analyze-nmap-syn.pcap").read_bytes()
    proc = subprocess.Popen([rawscan_command(), *args, "-q", "-oJ", str(world / "home" / "out.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **SUDO_NOBODY})
    try:
        writer = -1
        for _ in range(3000):  # until the reader is there (ENXIO before): it is about to read
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                import time

                time.sleep(0.01)
        assert writer >= 0, "rawscan never opened its input"
        status = _status(proc.pid)
        os.set_blocking(writer, True)
        os.write(writer, feed)
        os.close(writer)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert status["Uid"].split() == [str(NOBODY)] * 4 and int(status["CapEff"], 16) == 0, status
    assert proc.returncode == 0, err
    assert (world / "home" / "out.jsonl").stat().st_uid == NOBODY


# --- Medium 8: the resume file is opened with the outputs, with the user's rights -----------

_INTERRUPTED_REPLAY = """
import sys
from pathlib import Path
from rawscan.commands.common import run_and_report, user_errors
from rawscan.interrupts import request_stop
from rawscan.output.options import OutputOptions
from rawscan.plan import ScanPlan
from rawscan.privileges import drop_privileges
from rawscan.scan import probe_for
from rawscan.capture import read_ip_packets
from rawscan.transports.replay import ReplayTransport

capture, resume_path, out = sys.argv[1:4]
plan = ScanPlan.from_json(Path(capture + ".json").read_text(), "sidecar")
probe = probe_for(plan)
transport = ReplayTransport(((p.time, p.ip) for p in read_ip_packets(capture)), probe.flow)
def stop_at_once():  # as a Ctrl-C right after root is given up
    drop_privileges()
    request_stop()
import click
try:
    with user_errors():
        run_and_report(plan, probe, transport, OutputOptions(json_out=out, quiet=True),
                       resume_path=resume_path, before_scan=stop_at_once)
except click.exceptions.Exit as exc:
    sys.exit(exc.exit_code)
"""


def interrupted_scan(cwd: Path, resume_path: str, out: Path) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-c", _INTERRUPTED_REPLAY, str(SYN), resume_path, str(out)],
                          capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **SUDO_NOBODY})


@as_root
def test_under_sudo_the_resume_file_is_opened_before_root_is_given_up(world: Path) -> None:
    home, system = world / "home", world / "system"
    proc = interrupted_scan(home, "rawscan.resume", home / "a.jsonl")
    assert proc.returncode == 130, proc.stderr
    assert "To finish this scan: rawscan resume rawscan.resume" in proc.stdout
    assert (home / "rawscan.resume").stat().st_uid == NOBODY
    from rawscan.resume import load_resume

    load_resume(str(home / "rawscan.resume"))
    # named, in a directory only root may write to: refused before the scan, not lost after it
    proc = interrupted_scan(home, str(system / "scan.resume"), home / "b.jsonl")
    assert proc.returncode == 2 and "Permission denied" in proc.stderr, proc.stderr
    assert "Starting" not in proc.stdout and list(system.iterdir()) == []
    # the default name in such a directory: the scan runs, and says at once it is not resumable
    proc = interrupted_scan(system, "rawscan.resume", home / "c.jsonl")
    assert proc.returncode == 130, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("rawscan: warning: an interrupted scan will not be resumable"), first
    assert list(system.iterdir()) == []


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


# --- Medium 11: replay validates every field of its sidecar ---------------------------------

SIDECAR = json.loads(Path(f"{SYN}.json").read_text())
CRAFTED = [  # each was a traceback, a hang or gigabytes
    {"rate": 0}, {"rate": -1}, {"timeout": 1e300}, {"ttl": 99999}, {"ttl": 0},
    {"source_port": 70000}, {"source_port": -1}, {"retries": 10**9}, {"seed": -5},
    {"seed": 2**70}, {"sources": []}, {"sources": [2**200]}, {"sources": ["x"]},
    {"targets": []}, {"targets": [[5, 1]]}, {"targets": [["a", "b"]]}, {"targets": [[1]]},
    {"ports": ""}, {"ports": "1-4294967295"}, {"scan": "maimon"}, {"scan": ["syn"]},
    {"names": {"x": "y"}}, {"names": []}, {"payload_hex": "zz"}, {"payload_hex": 5},
    {"argv": "rawscan"}, {"argv": [1, 2]}, {"started": float("inf")}, {"max_rate": 0},
    {"fixed_source_port": "yes"}, {"rate": True}, {"timeout": "1"},
    {"targets": [[0, 2**32 - 1]], "ports": "1-65535"},  # 2^48 probes claimed
    {"targets": [[16777216, 16777216 + 2**24 - 1]], "ports": "1-2"},  # 2^25
]


def _write_sidecar(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "crafted.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("change", CRAFTED, ids=[json.dumps(c)[:50] for c in CRAFTED])
def test_a_crafted_sidecar_is_one_error_line(tmp_path: Path, change: dict[str, object]) -> None:
    sidecar = _write_sidecar(tmp_path, json.dumps({**SIDECAR, **change}))
    proc = rawscan("replay", str(SYN), "--plan", str(sidecar), "-q", timeout=30)
    one_error_line(proc, "crafted.json")


@pytest.mark.parametrize("text", [b"[" * 100000 + b"]" * 100000, b'{"format": "\xff\xfe"}',
                                  b"[]", b"null", b'{"format": "rawscan-scan/1"}'])
def test_a_sidecar_that_is_not_one_is_one_error_line(tmp_path: Path, text: bytes) -> None:
    proc = rawscan("replay", str(SYN), "--plan", str(_write_sidecar(tmp_path, text)), "-q",
                   timeout=30)
    one_error_line(proc, "crafted.json")


def test_the_recorded_sidecars_still_replay() -> None:
    from rawscan.plan import ScanPlan, check_replayable

    for sidecar in PCAPS.glob("*.pcap.json"):
        check_replayable(ScanPlan.from_json(sidecar.read_text(), str(sidecar)), str(sidecar))


# --- Medium 12: another scan's sidecar beside a capture -------------------------------------


def _with_other_seed(tmp_path: Path) -> Path:
    copy = tmp_path / SYN.name
    shutil.copy(SYN, copy)
    Path(f"{copy}.json").write_text(json.dumps({**SIDECAR, "seed": SIDECAR["seed"] + 1}))
    return copy


def test_analyze_with_another_scans_sidecar_says_so_and_goes_without_it(tmp_path: Path) -> None:
    copy = _with_other_seed(tmp_path)
    right = rawscan("analyze", str(SYN), "-q", "-oJ", str(tmp_path / "right.jsonl"))
    wrong = rawscan("analyze", str(copy), "-q", "-oJ", str(tmp_path / "wrong.jsonl"))
    assert right.returncode == 0 and wrong.returncode == 0, wrong.stderr
    assert "is not this capture's scan description" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    found = results_in(tmp_path / "wrong.jsonl")
    assert open_ports(found) == open_ports(results_in(tmp_path / "right.jsonl"))
    assert len(open_ports(found)) >= 4  # were all lost: every port filtered


def test_replay_with_another_scans_sidecar_is_refused(tmp_path: Path) -> None:
    proc = rawscan("replay", str(_with_other_seed(tmp_path)), "-q", "-oJ", str(tmp_path / "x.jsonl"))
    one_error_line(proc, "is not this capture's scan description", "--plan")


# --- Medium 10: -oX / -oG memory does not grow with the number of results -------------------


def _results(hosts: int, ports: int) -> Iterator[object]:
    from rawscan.results import PortResult

    for port in range(1, ports + 1):  # port-major, as a scan's rounds learn them
        for h in range(hosts):
            state = "open" if (h + port) % 7 == 0 else "closed"
            yield PortResult(f"198.18.{h // 250}.{h % 250 + 1}", "tcp", port, state,
                             "syn-ack" if state == "open" else "reset", 64, "unknown")


def _write(kind: str, path: Path, hosts: int, ports: int, spill_over: int,
           monkeypatch: pytest.MonkeyPatch) -> int:
    """Write every result but each host's last port (so no host completes before close);
    return the peak Python memory while the results were held."""
    import tracemalloc

    from rawscan.output import RunInfo, RunSummary
    from rawscan.output.grepable import GrepableWriter
    from rawscan.output.hosts import HostGroups
    from rawscan.output.nmapxml import NmapXmlWriter

    monkeypatch.setattr(HostGroups, "SPILL_OVER", spill_over)
    info = RunInfo(scan="syn", proto="tcp", ports=tuple(range(1, ports + 2)), total_hosts=hosts,
                   started=1_700_000_000.0)
    writer = (NmapXmlWriter if kind == "xml" else GrepableWriter)(str(path), info)
    tracemalloc.start()
    for result in _results(hosts, ports):
        writer.write(result)  # type: ignore[arg-type]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    writer.close(RunSummary(elapsed=1.0))
    return peak


@pytest.mark.parametrize("kind", ["xml", "grep"])
def test_host_documents_hold_results_on_disk_past_a_bound(tmp_path: Path, kind: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    small = _write(kind, tmp_path / "small", 200, 20, 1000, monkeypatch)
    large = _write(kind, tmp_path / "large", 200, 80, 1000, monkeypatch)  # 4x the results
    _write(kind, tmp_path / "memory", 200, 80, 10**9, monkeypatch)  # never spilled
    assert (tmp_path / "large").read_text() == (tmp_path / "memory").read_text()
    assert large < 1.5 * small, (small, large)  # was ~4x: every result held as an object


# --- Low: diff ------------------------------------------------------------------------------


def _nmap_all_ports_xml(hosts: int, extra_open: dict[int, int] | None = None) -> str:
    """What `nmap -p-` of a /24 looks like: every closed port summarised as one range."""
    body = []
    for h in range(hosts):
        ports = [22] + ([extra_open[h]] if extra_open and h in extra_open else [])
        rest = ",".join(f"{a}-{b}" for a, b in zip([0] + [p + 1 for p in ports], [p - 1 for p in ports] + [65535]) if a <= b)
        listed = "".join(f'<port protocol="tcp" portid="{p}"><state state="open" reason="syn-ack"/></port>'
                         for p in ports)
        body.append(f'<host><address addr="198.18.0.{h + 1}" addrtype="ipv4"/><ports>'
                    f'<extraports state="closed" count="{65536 - len(ports)}">'
                    f'<extrareasons reason="reset" count="{65536 - len(ports)}" proto="tcp" ports="{rest}"/>'
                    f'</extraports>{listed}</ports></host>')
    return f'<?xml version="1.0"?><nmaprun scanner="nmap">{"".join(body)}</nmaprun>'


def test_diff_keeps_summarised_ports_as_ranges(tmp_path: Path) -> None:
    from tests.support.deadline import deadline

    from rawscan.compare.changes import compare
    from rawscan.compare.load import load_results

    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(_nmap_all_ports_xml(60))
    new.write_text(_nmap_all_ports_xml(60, {7: 8080}))
    with deadline(10):  # was 40 s and 1.7 GB: 60 x 65,536 ports expanded one by one
        changes = compare(load_results(str(old)), load_results(str(new)))
        assert compare(load_results(str(old)), load_results(str(old))) == []
    assert [(c.ip, c.port, c.old, c.new, c.kind) for c in changes] == [
        ("198.18.0.8", 8080, "closed", "open", "appeared")]


@pytest.mark.parametrize("record", ['{"ip":"198.18.0.2","proto":"tcp","port":1e400,"state":"open"}',
                                    '{"ip":"198.18.0.2","proto":"tcp","port":22.5,"state":"open"}'])
def test_diff_of_a_port_that_is_no_integer_is_one_line(tmp_path: Path, record: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(record + "\n")
    one_error_line(rawscan("diff", str(bad), str(bad)), "bad.jsonl")


def test_diff_of_a_unicode_digit_port_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ip,host,proto,port,state,reason,ttl,service,class\n"
                   "198.18.0.2,,tcp,\u00b2,open,syn-ack,64,x,y\n")
    one_error_line(rawscan("diff", str(bad), str(bad)), "is not a port number")


# --- Low: bombs, -iL, output names -----------------------------------------------------------


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


@pytest.mark.parametrize("content, words", [
    (b"198.18.0.1\n198.18.0.\x002\n", "NUL"),  # silently dropped an address
])
def test_target_files_with_a_nul_are_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    from rawscan.targets import TargetError, read_target_file

    path = tmp_path / "targets.txt"
    path.write_bytes(content)
    with pytest.raises(TargetError, match=words):
        read_target_file(str(path))


def test_a_byte_order_mark_does_not_join_the_first_name(tmp_path: Path) -> None:
    from rawscan.targets import read_target_file

    path = tmp_path / "targets.txt"
    path.write_bytes("\ufeff198.18.0.1\n198.18.0.2\n".encode())
    assert read_target_file(str(path)) == ["198.18.0.1", "198.18.0.2"]


@pytest.mark.parametrize("args, words", [(["-oJ", ""], "-oJ needs a file name"),
                                         (["-oA", "d/"], "-oA takes a base file name"),
                                         (["-oA", "."], "-oA takes a base file name")])
def test_output_names_that_write_nothing_or_hidden_files_are_refused(
        tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "d").mkdir()
    proc = rawscan("replay", str(SYN), "-q", *args, cwd=tmp_path)
    one_error_line(proc, words)
    assert list((tmp_path / "d").iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["d"]


# --- Low: targets that cannot be scanned as given -------------------------------------------


@pytest.mark.parametrize("spec, words", [
    ("::ffff:198.18.0.2", "scan 198.18.0.2"),  # every probe was refused: all "filtered"
    ("0.0.0.0", "unspecified address"), ("::", "unspecified address"),
])
def test_targets_that_cannot_be_scanned_as_given_are_one_line(spec: str, words: str) -> None:
    from rawscan.targets import TargetError, parse_targets

    with pytest.raises(TargetError, match=words):
        parse_targets([spec], resolve=lambda name: [])


def test_a_name_with_several_addresses_says_which_are_not_scanned(
        capsys: pytest.CaptureFixture[str]) -> None:
    from rawscan.addresses import addr_to_str
    from rawscan.targets import parse_targets

    found = parse_targets(["multi.example"], resolve=lambda name: ["198.18.0.2", "198.18.0.3"])
    assert [addr_to_str(found.address(i)) for i in range(len(found))] == ["198.18.0.2"]
    assert "other addresses for multi.example (not scanned): 198.18.0.3" in capsys.readouterr().err


def test_columns_zero_loses_no_report_line() -> None:
    proc = rawscan("replay", str(SYN), "-q", env={"COLUMNS": "0"})
    assert proc.returncode == 0, proc.stderr
    for line in ("Starting rawscan", "Probes:", "rawscan done:"):
        assert line in proc.stdout, proc.stdout


@pytest.mark.parametrize("kind", ["grep", "xml", "json", "csv"])
def test_argv_bytes_that_are_not_utf8_are_written_not_a_traceback(tmp_path: Path, kind: str) -> None:
    from rawscan.output import RunInfo, RunSummary
    from rawscan.output.options import OutputOptions, open_writers
    from rawscan.results import PortResult

    path = tmp_path / "out"
    options = OutputOptions(**{f"{kind}_out": str(path)})
    info = RunInfo(scan="syn", proto="tcp", ports=(22,), total_hosts=1,
                   argv=("syn", "198.18.0.2", "--data-string", "\udcff"))  # os.fsdecode(b"\xff")
    (writer,) = open_writers(options, info)
    writer.write(PortResult("198.18.0.2", "tcp", 22, "open", "syn-ack", 64, "ssh", host="h\udcfe"))
    writer.close(RunSummary(elapsed=1.0))
    assert path.stat().st_size > 0


def test_kernel_interface_files_are_never_written() -> None:
    """As root, -oJ /proc/sys/kernel/hostname renamed the host. /proc/self/comm is harmless to
    try (it names rawscan's own process): it was written, exit 0."""
    proc = rawscan("replay", str(SYN), "-q", "-oJ", "/proc/self/comm")
    one_error_line(proc, "kernel interface file")


def test_an_output_option_given_twice_is_refused(tmp_path: Path) -> None:
    proc = rawscan("replay", str(SYN), "-q", "-oC", "a.csv", "-oC", "b.csv", cwd=tmp_path)
    one_error_line(proc, "-oC is given more than once")
    assert list(tmp_path.iterdir()) == []  # was: b.csv written, a.csv silently not
