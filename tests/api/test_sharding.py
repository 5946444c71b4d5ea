"""The Python API's shards (issue 14's options on rawscan.syn & co) and rawscan.merge: their
results are the command line's, record for record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import rawscan
from rawscan.testing import SimulatedNetwork

from tests.support.paths import PCAPS
from tests.support.rawscan_cli import rawscan_command, read_jsonl

HOSTS = {"198.18.0.2": {"tcp": {22: "open", 80: "open"}, "other": "closed"},
         "198.18.0.3": {"tcp": {443: "open"}, "other": "dropped"}}


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rawscan_command(), *argv], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def records(result: rawscan.ScanResult) -> list[dict[str, object]]:
    return [p.as_dict() for p in result]  # in address order


def in_order(found: list[dict[str, object]]) -> list[dict[str, object]]:
    """JSON Lines records (in the order they were decided) in the ScanResult's order."""
    return sorted(found, key=lambda r: (tuple(map(int, str(r["ip"]).split("."))),
                                        str(r["proto"]), int(r["port"])))  # type: ignore[call-overload]


def test_a_shards_replay_is_the_clis(tmp_path: Path) -> None:
    capture = PCAPS / "syn-shard-1-of-3.pcap"
    done = cli("replay", str(capture), "-oJ", "cli.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = rawscan.replay(capture)
    assert records(result) == in_order(read_jsonl(tmp_path / "cli.jsonl"))
    result.write(str(tmp_path / "api.jsonl"), "json")  # a shard's output: merge reads it
    assert (tmp_path / "api.jsonl").read_text() == (tmp_path / "cli.jsonl").read_text()


def test_shards_scanned_by_the_api_merge_as_the_cli_merges_them(tmp_path: Path) -> None:
    net = SimulatedNetwork(hosts=HOSTS)
    targets, ports = ["198.18.0.2", "198.18.0.3"], "1-100,443"
    whole = net.scan("syn", targets, ports, timeout=0.2, retries=1)
    files = []
    for k in range(3):
        shard = net.scan("syn", targets, ports, shards=3, shard=k, timeout=0.2, retries=1)
        assert 0 < len(shard) < len(whole)
        shard.write(str(tmp_path / f"shard{k}.jsonl"), "json")
        files.append(f"shard{k}.jsonl")
    done = cli("merge", *files, "-oJ", "cli.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    merged = rawscan.merge(*(tmp_path / f for f in files))
    assert records(merged) == in_order(read_jsonl(tmp_path / "cli.jsonl"))
    assert merged == whole and len(merged) == len(whole) == 2 * 101
    assert merged.summary[-1] == "rawscan merge done: 2 IP address(es) (2 host(s) up)"
    assert [p.port for p in merged.open()] == [22, 80, 443]


def test_merge_of_an_incomplete_set_is_refused_unless_partial(tmp_path: Path) -> None:
    net = SimulatedNetwork(hosts=HOSTS)
    for k in (0, 2):
        net.scan("syn", "198.18.0.2", "1-60", shards=3, shard=k, timeout=0.2,
                 retries=0).write(str(tmp_path / f"s{k}.jsonl"), "json")
    paths = [tmp_path / "s0.jsonl", tmp_path / "s2.jsonl"]
    with pytest.raises(rawscan.RawscanError, match=r"shard\(s\) 1 of 3 missing"):
        rawscan.merge(*paths)
    done = cli("merge", "--partial", "s0.jsonl", "s2.jsonl", "-oJ", "cli.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    partial = rawscan.merge(*paths, partial=True)
    assert partial.summary[0] == "shard(s) 1 of 3 missing"
    assert records(partial) == in_order(read_jsonl(tmp_path / "cli.jsonl")) and 0 < len(partial) < 60


def test_shard_options_are_checked_as_the_clis() -> None:
    net = SimulatedNetwork(hosts=HOSTS)
    with pytest.raises(rawscan.RawscanError, match=r"--shard 3 is not one of 0..2"):
        net.scan("syn", "198.18.0.2", "22", shards=3, shard=3)
    with pytest.raises(rawscan.RawscanError, match="not both"):
        net.scan("syn", "198.18.0.2", "22", shards=3, shard=0, workers=2)
    with pytest.raises(rawscan.RawscanError, match="simulated network"):
        net.scan("syn", "198.18.0.2", "22", workers=2)


def test_a_ping_replay_is_the_clis(tmp_path: Path) -> None:
    capture = PCAPS / "ping-every-host-kind.pcap"
    done = cli("replay", str(capture), "-oJ", "cli.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = rawscan.replay_ping(capture)
    by_ip = lambda r: str(r["ip"])  # noqa: E731
    cli_hosts = sorted(read_jsonl(tmp_path / "cli.jsonl"), key=by_ip)
    assert sorted((r.as_dict() for r in result.host_results), key=by_ip) == cli_hosts
    assert len(cli_hosts) == 17 and result.stats is not None
    assert result.stats.hosts_up == sum(r["status"] == "up" for r in cli_hosts) == 11
    assert {r.reason for r in result.host_results} >= {"echo-reply", "reset", "no-response"}
    assert result.summary[-1] in done.stdout + done.stderr  # 'rawscan done: ...', as printed
    result.write(str(tmp_path / "api.jsonl"), "json")
    assert sorted((tmp_path / "api.jsonl").read_text().splitlines()) == sorted(
        (tmp_path / "cli.jsonl").read_text().splitlines())
    assert result == rawscan.replay_ping(capture) and result.ports == ()
    with pytest.raises(rawscan.RawscanError, match="not host discovery: use rawscan.replay"):
        rawscan.replay_ping(PCAPS / "syn-shard-1-of-3.pcap")


def test_ping_refuses_bad_options_as_the_cli_does(tmp_path: Path) -> None:
    for argv, options in (
            (["::1", "--probes", "timestamp"], {"probes": "timestamp"}),
            (["127.0.0.1", "--probes", "bogus"], {"probes": "bogus"}),
            (["127.0.0.1", "--rate", "10", "--max-rate", "20"], {"rate": 10.0, "max_rate": 20.0})):
        done = cli("ping", *argv, cwd=tmp_path)  # refused before any probe is sent
        assert done.returncode != 0 and "Traceback" not in done.stderr
        with pytest.raises(rawscan.RawscanError) as refused:
            rawscan.ping(argv[0], **options)  # type: ignore[arg-type]
        assert done.stderr.strip() == f"rawscan: error: {refused.value}"


def test_ping_options_are_the_ping_commands_long_names() -> None:
    import inspect

    from rawscan.api.pinging import prepare_ping
    from rawscan.commands.ping import _command

    cli_names = set(inspect.signature(_command).parameters) - {"targets", "output"}
    plan_names = set(inspect.signature(prepare_ping).parameters) - {
        "targets", "argv", "ask", "require_privilege"}
    assert plan_names == cli_names
    assert set(rawscan.PingOptions.__annotations__) == cli_names - {"resume_file"}
