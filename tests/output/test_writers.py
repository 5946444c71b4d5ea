"""The writers in-process: any set of results survives a write and a read back, in every format;
documents stay well-formed however the run ends; hosts and lines go out as soon as they can."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawscan.compare.load import load_results
from rawscan.output import RunInfo, RunSummary
from rawscan.output.csvfile import CsvWriter
from rawscan.output.grepable import GrepableWriter
from rawscan.output.hosts import collapsed_states
from rawscan.output.jsonl import JsonLinesWriter
from rawscan.output.nmapxml import NmapXmlWriter
from rawscan.results import PortResult

from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report

REASONS = {
    "open": ("syn-ack", 64), "closed": ("reset", 64), "filtered": ("no-response", None),
    "open|filtered": ("no-response", None),
}
WRITERS = {"xml": NmapXmlWriter, "grep": GrepableWriter, "json": JsonLinesWriter, "csv": CsvWriter}


def result(ip: str, port: int, state: str, proto: str = "tcp", host: str | None = None) -> PortResult:
    reason, ttl = REASONS[state]
    return PortResult(ip, proto, port, state, reason, ttl, "ssh" if port == 22 else "unknown", host)


def info_for(ports: tuple[int, ...], hosts: int, **kw: object) -> RunInfo:
    return RunInfo(scan="syn", proto="tcp", ports=ports, total_hosts=hosts,
                   argv=("syn", "198.18.0.2", "-p", "1-100"), started=1_700_000_000.0, **kw)  # type: ignore[arg-type]


FINISHED = RunSummary(elapsed=1.5)


def write_all(kind: str, path: Path, info: RunInfo, results: list[PortResult],
              summary: RunSummary | None = FINISHED) -> None:
    writer = WRITERS[kind](str(path), info)
    for r in results:
        writer.write(r)
    writer.close(summary)


scans = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 65535), min_size=n, max_size=n, unique=True).map(lambda p: tuple(sorted(p))),
    st.lists(st.sampled_from(sorted(REASONS)), min_size=3 * n, max_size=3 * n),
    st.integers(1, 3),
    st.booleans(),
))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scan=scans)
def test_every_format_reads_back_what_was_written(scan: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    ports, states, nhosts, named = scan
    results = [
        result(f"198.18.0.{h + 1}", port, states[h * len(ports) + i], host="gw.example" if named and h == 0 else None)
        for h in range(nhosts) for i, port in enumerate(ports)
    ]
    want = {(r.ip, r.proto, r.port): r.state for r in results}
    info = info_for(ports, nhosts)
    for kind in ("xml", "json", "csv", "grep"):
        path = tmp_path / f"out.{kind}"
        write_all(kind, path, info, results)
        got = load_results(str(path))
        if kind == "grep":  # lists what is not summarised; 'Ignored State' counts the rest
            assert set(got.states.items()) <= set(want.items())
            assert all(state not in collapsed_states([r for r in results if r.ip == ip])
                       for (ip, _p, _n), state in got.states.items())
        else:
            assert got.states == want, kind
        if named:
            assert got.names.get("198.18.0.1") == "gw.example", kind


def test_xml_of_several_hosts_validates_and_libnmap_counts_them(tmp_path: Path) -> None:
    ports = tuple(range(1, 41))
    results = [result(f"198.18.0.{h}", p, "open" if p % 10 == 0 else "closed" if h == 1 else "filtered")
               for h in (1, 2) for p in ports]
    path = tmp_path / "two.xml"
    write_all("xml", path, info_for(ports, 2), results)
    assert_valid_against_dtd(path)
    report = libnmap_report(path)
    assert [h.address for h in report.hosts] == ["198.18.0.1", "198.18.0.2"]
    assert all(sorted(h.get_open_ports()) == [(p, "tcp") for p in (10, 20, 30, 40)] for h in report.hosts)


def test_extraports_follow_nmaps_rule_and_order(tmp_path: Path) -> None:
    ports = tuple(range(1, 81))
    # 40 filtered and 30 closed (both > 25: summarised, closed first as nmap orders them),
    # 10 open (never summarised)
    states = ["filtered"] * 40 + ["closed"] * 30 + ["open"] * 10
    results = [result("198.18.0.2", p, s) for p, s in zip(ports, states)]
    path = tmp_path / "x.xml"
    write_all("xml", path, info_for(ports, 1), results)
    root = ET.parse(path).getroot()
    assert [(e.get("state"), e.get("count")) for e in root.iter("extraports")] == [
        ("closed", "30"), ("filtered", "40")]
    assert len(list(root.iter("port"))) == 10
    small = [result("198.18.0.2", p, "closed") for p in range(1, 26)]
    assert collapsed_states(small) == []  # 25 closed ports are listed, like nmap
    assert collapsed_states(small, open_only=True) == ["closed"]


@pytest.mark.parametrize("summary, exit_, message", [
    (RunSummary(elapsed=0.5, interrupted=True), "error", "interrupted"),
    (None, "error", "error"),
    (RunSummary(elapsed=0.5), "success", None),
])
def test_xml_document_is_closed_however_the_run_ends(
    tmp_path: Path, summary: RunSummary | None, exit_: str, message: str | None
) -> None:
    ports = tuple(range(1, 11))
    path = tmp_path / "partial.xml"
    # half the ports of the only host: nothing is complete until close() writes what it has
    write_all("xml", path, info_for(ports, 1), [result("198.18.0.2", p, "open") for p in ports[:5]],
              summary)
    root = ET.parse(path).getroot()
    finished = root.find("runstats/finished")
    assert finished is not None and finished.get("exit") == exit_
    assert (message or "") in finished.get("errormsg", "")
    assert len(list(root.iter("port"))) == 5
    assert_valid_against_dtd(path)


def test_a_complete_host_is_written_before_the_scan_ends(tmp_path: Path) -> None:
    ports = (22, 80)
    path = tmp_path / "live.xml"
    writer = NmapXmlWriter(str(path), info_for(ports, 2))
    assert "<nmaprun" in path.read_text() and "<host>" not in path.read_text()
    writer.write(result("198.18.0.1", 22, "open"))
    writer.write(result("198.18.0.2", 22, "open"))
    assert "<host>" not in path.read_text()
    writer.write(result("198.18.0.1", 80, "closed"))  # 198.18.0.1 is now complete
    text = path.read_text()
    assert text.count("<host>") == 1 and 'addr="198.18.0.1"' in text
    writer.close(RunSummary(elapsed=1.0))
    assert ET.parse(path).getroot().find("runstats/hosts").get("up") == "2"  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_line_formats_reach_the_disk_while_the_scan_runs(tmp_path: Path, kind: str) -> None:
    import time

    path = tmp_path / f"out.{kind}"
    writer = WRITERS[kind](str(path), info_for((1, 2, 3, 4), 1))
    header = 1 if kind == "csv" else 0
    writer.write(result("198.18.0.2", 1, "closed"))
    assert len(path.read_text().splitlines()) == 1 + header  # the first write flushes
    writer.write(result("198.18.0.2", 2, "closed"))
    writer.flush()  # what the scan does at each progress tick
    assert len(path.read_text().splitlines()) == 2 + header
    time.sleep(writer.FLUSH_EVERY * 1.5)
    writer.write(result("198.18.0.2", 3, "closed"))  # a write after FLUSH_EVERY flushes too
    assert len(path.read_text().splitlines()) == 3 + header  # on disk before close()
    writer.close()


def test_awkward_arguments_still_make_well_formed_xml(tmp_path: Path) -> None:
    path = tmp_path / "odd.xml"
    info = RunInfo(scan="syn", proto="tcp", ports=(22,), total_hosts=1, started=0.0,
                   argv=("syn", "--seed", "1", "a<b>&\"c\"", "bell\x07", "bad\udcff", "end-"))
    write_all("xml", path, info, [result("198.18.0.2", 22, "open", host="x<y>&z")])
    root = ET.parse(path).getroot()
    assert "a<b>&\"c\"" in root.get("args", "")
    assert root.find("host/hostnames/hostname").get("name") == "x<y>&z"  # type: ignore[union-attr]
    assert_valid_against_dtd(path)


def test_open_only_filters_line_formats(tmp_path: Path) -> None:
    ports = (1, 2, 3)
    results = [result("198.18.0.2", 1, "open"), result("198.18.0.2", 2, "closed"),
               result("198.18.0.2", 3, "open|filtered")]
    for kind in ("json", "csv"):
        path = tmp_path / f"o.{kind}"
        write_all(kind, path, info_for(ports, 1, open_only=True), results)
        assert sorted(load_results(str(path)).states.values()) == ["open", "open|filtered"]


@given(
    ip=st.sampled_from(["198.18.0.2", "2001:2::2", "::1"]),
    port=st.integers(0, 65535),
    ttl=st.one_of(st.none(), st.integers(0, 255)),
    service=st.text(max_size=20),
    host=st.one_of(st.none(), st.text(max_size=20)),
)
def test_json_lines_record_is_the_json_encoding_of_the_result(ip: str, port: int, ttl: int | None,
                                                              service: str, host: str | None) -> None:
    import json

    from rawscan.output.jsonl import record_line
    from rawscan.results import PortResult

    r = PortResult(ip=ip, proto="tcp", port=port, state="open|filtered", reason="no-response",
                   ttl=ttl, service=service, host=host)
    line = record_line(r)
    assert line.endswith("\n") and "\n" not in line[:-1]
    assert json.loads(line) == r.as_dict()


# --- -oX / -oG memory does not grow with the number of results ------------------------------


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


# --- argv bytes that are not UTF-8 ----------------------------------------------------------


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
