"""The Python API (rawscan/__init__.py): its results are the command line's, record for
record (replay, analyze, load of every format, a live scan in the lab); rawscan.testing's
simulated network; the option names; start-up; mypy --strict on code that uses it."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import rawscan
from rawscan.testing import SimulatedNetwork, expect_exposure

from tests.support.lab import Lab, LabSpec
from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan_command, read_jsonl

REPLAYS = ["syn-every-reply-kind.pcap", "dual-udp-every-reply-kind.pcap"]


def cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), *argv], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def records(result: rawscan.ScanResult) -> list[dict[str, object]]:
    return sorted((p.as_dict() for p in result.ports), key=json.dumps)


def by_key(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=json.dumps)


@pytest.mark.parametrize("capture", REPLAYS)
def test_replay_is_the_cli_replay_record_for_record(capture: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run = cli("replay", str(PCAPS / capture), "-oJ", str(out), "-q")
    assert run.returncode == 0, run.stderr
    result = rawscan.replay(PCAPS / capture)
    assert records(result) == by_key(read_jsonl(out))
    for line in result.summary:  # the summary is the lines the command prints
        assert line in run.stdout.splitlines(), line
    assert result.stats is not None and result.stats.hosts_up >= 1
    assert result.summary[-1].startswith(f"rawscan done: {result.stats.hosts} IP address(es) "
                                         f"({result.stats.hosts_up} host(s) up)")


def test_analyze_is_the_cli_analyze_record_for_record(tmp_path: Path) -> None:
    captures = [PCAPS / "syn-every-reply-kind.pcap", PCAPS / "analyze-mixed.pcap"]
    out = tmp_path / "out.jsonl"
    run = cli("analyze", *map(str, captures), "-oJ", str(out), "-q")
    assert run.returncode == 0, run.stderr
    result = rawscan.analyze(*captures)
    assert records(result) == by_key(read_jsonl(out))
    assert result.summary[-1] in run.stdout.splitlines()
    assert {p.details["scanner"] for p in result.ports} >= {"198.18.0.1"}


# what each format carries of a JSON Lines record (grepable: no reason or TTL)
CARRIED = {"xml": ("ip", "proto", "port", "state", "reason", "ttl", "service", "class"),
           "gnmap": ("ip", "proto", "port", "state", "service", "class"),
           "jsonl": None, "csv": None}


def test_load_reads_every_format_as_the_cli_wrote_it(tmp_path: Path) -> None:
    base = tmp_path / "scan"
    run = cli("replay", str(PCAPS / "syn-every-reply-kind.pcap"), "-oA", str(base), "-q")
    assert run.returncode == 0, run.stderr
    written = read_jsonl(Path(f"{base}.jsonl"))
    full = rawscan.load(f"{base}.jsonl")
    assert records(full) == by_key(written)
    for suffix, fields in CARRIED.items():
        loaded = rawscan.load(f"{base}.{suffix}")
        assert loaded.diff(full) == [] and loaded == full, suffix
        listed = {(p.ip, p.proto, p.port) for p in loaded.ports}
        expect = [r for r in written if (r["ip"], r["proto"], r["port"]) in listed]
        assert len(expect) == len(loaded.ports), suffix
        if fields is not None:  # closed ports are summarised in XML and grepable: not listed
            assert by_key([{f: r[f] for f in fields} for r in expect]) == \
                by_key([{f: p.as_dict()[f] for f in fields} for p in loaded.ports]), suffix
        else:
            assert records(loaded) == by_key(written), suffix
        # a summarised port still has its state where the file says which ports it summarises
        # (XML's extrareasons; grepable's 'Ignored State: closed (189)' does not)
        closed = next(r for r in written if r["state"] == "closed")
        state = loaded.state(str(closed["ip"]), "tcp", int(str(closed["port"])))
        assert state == (None if suffix == "gnmap" else "closed"), suffix


def test_write_is_what_the_cli_writes(tmp_path: Path) -> None:
    result = rawscan.replay(PCAPS / "syn-every-reply-kind.pcap")
    run = cli("replay", str(PCAPS / "syn-every-reply-kind.pcap"), "-oC", str(tmp_path / "cli.csv"), "-q")
    assert run.returncode == 0, run.stderr
    for fmt, suffix in (("csv", "csv"), ("xml", "xml"), ("grep", "gnmap"), ("json", "jsonl")):
        result.write(str(tmp_path / f"api.{suffix}"), fmt)
        assert rawscan.load(tmp_path / f"api.{suffix}") == result, fmt
    assert (tmp_path / "api.csv").read_text() == (tmp_path / "cli.csv").read_text()
    with pytest.raises(rawscan.RawscanError, match="unknown output format 'yaml'"):
        result.write(str(tmp_path / "x"), "yaml")
    (tmp_path / "mine.txt").write_text("not rawscan's\n")
    with pytest.raises(rawscan.RawscanError, match="--force"):  # the CLI's refusal and words
        result.write(str(tmp_path / "mine.txt"), "json")


def test_errors_are_the_cli_messages(tmp_path: Path) -> None:
    with pytest.raises(rawscan.RawscanError) as raised:
        rawscan.replay(tmp_path / "none.pcap")
    run = cli("replay", str(tmp_path / "none.pcap"))
    assert run.stderr.strip() == f"rawscan: error: {raised.value}"
    with pytest.raises(rawscan.PortError):
        SimulatedNetwork(hosts={}).scan("syn", "198.18.0.2", ports="70000")
    with pytest.raises(rawscan.TargetError):
        SimulatedNetwork(hosts={}).scan("syn", "198.18.0.300")
    with pytest.raises(rawscan.RawscanError, match="--data-hex and --data-string are for UDP"):
        SimulatedNetwork(hosts={}).scan("syn", "198.18.0.2", ports=[22], data_hex="00")
    if os.geteuid() != 0:
        with pytest.raises(rawscan.PrivilegeError):
            rawscan.syn("127.0.0.1", ports=[22])


def test_live_options_are_the_cli_long_names() -> None:
    from rawscan.api.plans import prepare_live_scan
    from rawscan.commands.scan import _options

    cli_names = set(inspect.signature(_options).parameters) - {"targets", "ports", "output"}
    plan_names = set(inspect.signature(prepare_live_scan).parameters) - {
        "kind", "targets", "ports", "argv", "ask", "require_privilege"}
    sharding = {"shards", "shard", "workers", "metadata_file"}  # the command line's (issue 14)
    cli_only = {"resume_file"}  # the command line's: resume files
    assert plan_names == cli_names - {"discover", "discover_probes"} - sharding
    assert set(rawscan.LiveOptions.__annotations__) == cli_names - cli_only


def test_simulated_hosts_ports_loss_and_icmp_rate_limit() -> None:
    hosts = {"198.18.0.2": {"tcp": {22: "open", 443: "open", 25: "rejected", 81: "dropped"},
                            "other": "closed"},
             "2001:2::2": {"tcp": {80: "open"}, "other": "dropped"}}
    net = SimulatedNetwork(hosts=hosts, loss=0.1, seed=7)
    result = net.scan("syn", ["198.18.0.2", "2001:2::2"], ports=range(1, 201), rate=50000)
    assert net.lost > 0 and net.closed
    assert [(p.ip, p.port) for p in result.open()] == [("198.18.0.2", 22), ("2001:2::2", 80)]
    assert result.state("198.18.0.2", "tcp", 25) == "filtered"
    assert result.port("198.18.0.2", "tcp", 25).reason == "admin-prohibited"  # type: ignore[union-attr]
    assert result.port("198.18.0.2", "tcp", 81).reason == "no-response"  # type: ignore[union-attr]
    assert result.state("2001:2::2", "tcp", 7) == "filtered"
    expect_exposure(result, {"198.18.0.2": {"tcp": {22: "open", 25: "filtered", 81: "filtered"},
                                            "other": "closed"},
                             "2001:2::2": {"tcp": {80: "open"}, "other": "filtered"}})
    with pytest.raises(AssertionError, match=r"\+ 198.18.0.2 22/tcp appeared: not open -> open"):
        expect_exposure(result, {"other": "not open"})
    udp_net = SimulatedNetwork(hosts={"198.18.0.2": {"udp": {53: "open"}, "other": "closed"}},
                               icmp_rate_limit=2.0, icmp_burst=4)
    udp = udp_net.scan("udp", "198.18.0.2", ports=[*range(1, 41), 53])
    assert udp_net.limited > 0 and udp.stats is not None and udp.stats.icmp_rate_limited
    assert [p.port for p in udp.open()] == [53]
    assert {p.state for p in udp.ports if p.port != 53} == {"closed"}


def test_a_handler_network_and_its_recording_replay_alike(tmp_path: Path) -> None:
    from rawscan.testing import Probe, Reply, syn_ack

    def handler(probe: Probe) -> list[Reply]:  # every even port open, answered after 50 ms
        return [Reply(syn_ack(probe), delay=0.05)] if probe.dport % 2 == 0 else []

    pcap = tmp_path / "sim.pcap"
    net = SimulatedNetwork(handler)
    live = net.scan("syn", "198.18.0.9", ports="1-20", retries=1, pcap=str(pcap))
    assert [p.port for p in live.open()] == list(range(2, 21, 2))
    assert len(net.sent) == 20 + 10  # the odd ports tried twice
    assert rawscan.replay(pcap) == live and records(rawscan.replay(pcap)) == records(live)


def test_import_rawscan_loads_nothing_heavy() -> None:
    code = ("import sys, rawscan; rawscan.syn; rawscan.ScanResult; import rawscan.testing; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('scapy', 'numpy', 'typer', 'rich', 'click')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.live
def test_live_syn_is_the_cli_scan_record_for_record(make_lab: Callable[..., Lab],
                                                     tmp_path: Path) -> None:
    lab = make_lab(LabSpec(open_tcp=(22, 80), drop_tcp=(81,), reject_admin_tcp=(82,)))
    out = tmp_path / "cli.jsonl"
    run = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, lab.target_ip6,
                            "-p", "1-100", "--rate", "5000", "-oJ", str(out), "-q"])
    assert run.returncode == 0, run.stderr
    code = ("import json, rawscan; r = rawscan.syn([sys.argv[1], sys.argv[2]], ports='1-100', "
            "rate=5000); print(json.dumps([p.as_dict() for p in r.ports]))")
    api = lab.exec_scanner([sys.executable, "-c", "import sys; " + code, lab.target_ip,
                            lab.target_ip6])
    assert api.returncode == 0, api.stderr
    assert by_key(json.loads(api.stdout)) == by_key(read_jsonl(out))


TYPED_USE = '''
import rawscan
from rawscan.testing import SimulatedNetwork, expect_exposure

def open_ports(path: str) -> list[int]:
    result: rawscan.ScanResult = rawscan.replay(path)
    state: str | None = result.state("198.18.0.2", "tcp", 22)
    changes: list[rawscan.Change] = result.diff(rawscan.load("old.xml"))
    stats: rawscan.Stats | None = result.stats
    net = SimulatedNetwork(hosts={"198.18.0.2": {"tcp": {22: "open"}, "other": "closed"}})
    expect_exposure(net.scan("syn", "198.18.0.2", ports=[22, 80], rate=1000.0), {"198.18.0.2": {}})
    rawscan.syn(["198.18.0.2"], ports="1-1024", max_rate=5e4, pcap="x.pcap", banners=True)
    return [p.port for p in result.open()] + [len(changes), int(state is None), int(stats is None)]
'''
TYPED_MISUSE = '''
import rawscan
rawscan.syn("198.18.0.2", rate="fast")
rawscan.udp("198.18.0.2", resume_file="x")
'''


def test_mypy_strict_accepts_typed_use_of_the_api_and_rejects_misuse(tmp_path: Path) -> None:
    """py.typed ships, so a user's mypy --strict checks calls against the API's types."""
    (tmp_path / "use.py").write_text(TYPED_USE)
    (tmp_path / "misuse.py").write_text(TYPED_MISUSE)
    from importlib.resources import files

    assert files("rawscan").joinpath("py.typed").is_file()
    mypy = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    # (an editable install's import hook is invisible to mypy: the tree is named instead)
    env = {**os.environ, "MYPYPATH": str(Path(rawscan.__file__).parents[1])}
    good = subprocess.run([*mypy, "use.py"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert good.returncode == 0, good.stdout
    bad = subprocess.run([*mypy, "misuse.py"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env=env)
    assert bad.returncode == 1, bad.stdout
    assert 'Argument "rate" to "syn" has incompatible type "str"' in bad.stdout, bad.stdout
    assert 'Unexpected keyword argument "resume_file" for "udp"' in bad.stdout, bad.stdout


def test_the_flag_scans_over_ready_hosts_answer_as_linux_does() -> None:
    hosts = {"198.18.0.2": {"tcp": {22: "open", 23: "dropped", 25: "rejected"}, "other": "closed"}}
    expected = {  # port 22 open, 23 dropped, 25 rejected, 24 closed
        "ack": ("unfiltered", "filtered", "filtered", "unfiltered"),
        "fin": ("open|filtered", "open|filtered", "filtered", "closed"),
        "xmas": ("open|filtered", "open|filtered", "filtered", "closed"),
    }
    for kind, states in expected.items():
        result = SimulatedNetwork(hosts=hosts).scan(kind, "198.18.0.2", ports="22-25", retries=1)
        assert tuple(result.state("198.18.0.2", "tcp", p) for p in (22, 23, 25, 24)) == states, kind
    with pytest.raises(rawscan.RawscanError, match="'ping' is not a port scan"):
        rawscan.port_scan("ping", "198.18.0.2")
    with pytest.raises(rawscan.RawscanError, match="records a ping scan; the library replays port"):
        rawscan.replay(PCAPS / "ping-every-host-kind.pcap")


def test_no_public_name_is_shadowed_by_a_subpackage() -> None:
    """Importing rawscan.X makes rawscan.X that module: a public name may not be one (analyze
    is, and the package is callable for that)."""
    import importlib
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(rawscan.__path__)}
    assert set(rawscan.__all__) & modules == {"analyze"}
    importlib.import_module("rawscan.analyze.flows")
    assert callable(rawscan.analyze)
