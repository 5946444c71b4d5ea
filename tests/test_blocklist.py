"""The default blocklist (IANA special-purpose registries) and --blocklist FILE: what a wide
scan leaves out, and that a target wholly inside a reserved block is still scanned."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import pytest

from rawscan.addresses import V6, parse_addr
from rawscan.blocklist import SPECIAL_PURPOSE, Blocklist, cidr_range, default_blocks, read_blocklist
from rawscan.errors import RawscanError
from rawscan.plan import ScanPlan
from rawscan.targets import TargetError, select_targets

from tests.support.rawscan_cli import one_error_line, rawscan_command, read_jsonl

DEFAULT = Blocklist()


def a(text: str) -> int:
    return parse_addr(text)


def test_the_table_is_the_registries_blocks() -> None:
    for block, _blocked, why in SPECIAL_PURPOSE:
        net = ipaddress.ip_network(block)  # strict: no host bits set
        lo, hi = cidr_range(block)
        assert (lo & ~V6, hi & ~V6) == (int(net[0]), int(net[-1])), block
        assert "RFC" in why
    blocks = default_blocks()
    reserved = [ipaddress.ip_network(b) for b, blocked, _ in SPECIAL_PURPOSE if blocked]
    reachable = [ipaddress.ip_network(b) for b, blocked, _ in SPECIAL_PURPOSE if not blocked]

    def blocked(text: str) -> bool:
        return any(lo <= a(text) <= hi for lo, hi in blocks)

    for text in ("10.1.2.3", "192.168.0.1", "127.0.0.1", "224.0.0.1", "255.255.255.255",
                 "198.18.0.1", "100.64.0.1", "169.254.1.1", "192.0.0.8", "fe80::1", "fc00::1",
                 "ff02::1", "2001:db8::1", "2001:2::1", "::1", "3fff::1", "5f00::1", "2001:10::1"):
        assert blocked(text), text
        assert any(ipaddress.ip_address(text) in n for n in reserved)
    for text in ("8.8.8.8", "1.1.1.1", "192.0.0.9", "192.0.0.10", "192.31.196.1", "192.175.48.1",
                 "2001::1", "2002::1", "2606:4700::1", "64:ff9b::808:808", "2001:4:112::1",
                 "2001:20::1"):
        assert not blocked(text), text
        net_reachable = any(ipaddress.ip_address(text) in n for n in reachable)
        assert net_reachable or not any(ipaddress.ip_address(text) in n for n in reserved)


@pytest.mark.parametrize("spec", ["198.18.0.0/15", "2001:2::/112", "127.0.0.0/8", "10.1.2.3",
                                  "10.0.0.0/8", "192.168.1.0/24", "198.18.0.1-198.18.3.255",
                                  "fe80::/112", "2001:2::1"])
def test_a_target_wholly_inside_a_reserved_block_is_scanned(spec: str) -> None:
    chosen = select_targets([spec], blocklist=DEFAULT, allow_large=True)
    assert chosen.blocked == 0
    assert chosen.targets.ranges == select_targets([spec], allow_large=True).targets.ranges


def test_a_target_reaching_past_a_reserved_block_loses_only_the_block() -> None:
    chosen = select_targets(["198.17.255.0-198.18.0.255"], blocklist=DEFAULT)
    assert chosen.blocked == chosen.blocked_default == 256
    assert tuple(chosen.targets.ranges) == ((a("198.17.255.0"), a("198.17.255.255")),)
    whole = select_targets(["0.0.0.0/0", "10.1.2.3"], blocklist=DEFAULT, allow_large=True)
    reserved_v4 = sum(hi - lo + 1 for lo, hi in default_blocks() if hi < 1 << 32)
    assert whole.blocked == reserved_v4 - 1  # 10.1.2.3 was named on its own: kept
    t = whole.targets
    assert a("10.1.2.3") in t and a("8.8.8.8") in t and a("192.0.0.9") in t
    assert a("10.1.2.4") not in t and a("127.0.0.1") not in t and a("224.0.0.1") not in t
    assert len(t) == 2**32 - reserved_v4 + 1
    off = select_targets(["0.0.0.0/0"], blocklist=Blocklist(default=False), allow_large=True)
    assert off.blocked == 0 and len(off.targets) == 2**32
    v6 = select_targets(["2001:db7:ffff:ffff:ffff:ffff:ffff:ff00-2001:db8::ff"], blocklist=DEFAULT)
    assert v6.blocked == 256 and len(v6.targets) == 256  # the documentation prefix's half goes
    assert a("2001:db8::1") not in v6.targets


def test_octet_patterns_and_names_are_one_spec() -> None:
    """'*.*.*.1' is one spec reaching past every block: its 10.x.y.1 go too."""
    chosen = select_targets(["10-11.0.0.1"], blocklist=DEFAULT)
    assert tuple(chosen.targets.ranges) == ((a("11.0.0.1"), a("11.0.0.1")),)
    named = select_targets(["lab.example"], blocklist=DEFAULT,
                           resolve=lambda name: ["10.9.9.9"])
    assert a("10.9.9.9") in named.targets and named.blocked == 0


def test_the_users_blocklist_applies_to_every_target(tmp_path: Path) -> None:
    path = tmp_path / "opt-out.txt"
    path.write_text("# opted out\n198.18.0.5\n198.18.0.64/26  # a block\n\n2001:2::9\n")
    user = read_blocklist(str(path))
    chosen = select_targets(["198.18.0.0/24", "2001:2::/120"], blocklist=Blocklist(user=user))
    assert chosen.blocked == 1 + 64 + 1 and chosen.blocked_default == 0
    assert a("198.18.0.5") not in chosen.targets and a("198.18.0.4") in chosen.targets
    with pytest.raises(TargetError, match="every target is in the blocklist"):
        select_targets(["198.18.0.5"], blocklist=Blocklist(user=user))
    for bad, words in (("198.18.0.1/33", "line 2"), ("198.18.0.1/24", "host bits"),
                       ("nonsense", "not an address"), ("198.18.0.\x001", "line 2")):
        path.write_text(f"198.18.0.1\n{bad}\n")
        with pytest.raises(RawscanError, match=words):
            read_blocklist(str(path))
    with pytest.raises(RawscanError, match="cannot read blocklist"):
        read_blocklist(str(tmp_path / "missing"))


def test_a_bad_blocklist_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "bl.txt"
    path.write_text("198.18.0.0/15\n10.0.0.0/33\n")
    proc = subprocess.run([rawscan_command(), "syn", "127.0.0.1", "-p", "22", "--blocklist",
                           str(path)], capture_output=True, text=True, timeout=60)
    one_error_line(proc, "blocklist", "line 2", "10.0.0.0/33")
    assert proc.returncode == 2


def test_the_plan_keeps_what_the_blocklist_did() -> None:
    plan = ScanPlan(scan="syn", targets=select_targets(["198.18.0.0/30"]).targets, ports=(22,),
                    seed=1, sources=(a("198.18.0.1"),), source_port=40000, blocklisted=7,
                    blocklisted_reserved=5, bandwidth=1e7, max_targets=3)
    assert ScanPlan.from_json(plan.to_json(), "x") == plan


@pytest.mark.skipif(os.geteuid() != 0, reason="a live loopback scan needs raw sockets (root)")
def test_the_start_report_says_what_the_blocklist_removed(tmp_path: Path) -> None:
    path = tmp_path / "bl.txt"
    path.write_text("127.0.0.2\n")
    proc = subprocess.run([rawscan_command(), "syn", "127.0.0.0/30", "-p", "22", "-q",
                           "--blocklist", str(path), "--resume-file", str(tmp_path / "r"),
                           "-oJ", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Blocklist: 1 address(es) of the targets not scanned: 1 in --blocklist" in proc.stdout
    hosts = {str(r["ip"]) for r in read_jsonl(tmp_path / "o.jsonl")}
    assert hosts == {"127.0.0.0", "127.0.0.1", "127.0.0.3"}


def _ping_plan(monkeypatch: pytest.MonkeyPatch, *args: str) -> ScanPlan:
    """The plan `rawscan ping ARGS` would run (nothing is sent: the run is caught)."""
    from typer.testing import CliRunner

    import rawscan.commands.scan
    import rawscan.privileges
    from rawscan.cli import app

    plans: list[ScanPlan] = []
    monkeypatch.setattr(rawscan.commands.scan, "_run_live", lambda plan, *_a: plans.append(plan))
    monkeypatch.setattr(rawscan.privileges, "require_raw_sockets", lambda: None)
    result = CliRunner().invoke(app, ["ping", *args])
    assert result.exit_code == 0 and len(plans) == 1, result.output
    return plans[0]


def test_a_ping_sweep_leaves_out_the_reserved_blocks_as_a_port_scan_does(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Found by trying the features together: `rawscan ping 198.16.0.0/13` would have pinged
    # the benchmark block 198.18.0.0/15 (and --blocklist was refused) while syn left it out.
    plan = _ping_plan(monkeypatch, "198.16.0.0/13", "--seed", "1")
    swept = {(lo, hi) for lo, hi in plan.targets.ranges}
    assert plan.blocklisted_reserved == plan.blocklisted == 2**17
    assert all(hi < a("198.18.0.0") or lo > a("198.19.255.255") for lo, hi in swept)
    assert len(plan.targets) == 2**19 - 2**17
    path = tmp_path / "bl.txt"
    path.write_text("198.18.0.2\n")
    plan = _ping_plan(monkeypatch, "198.18.0.0/30", "--blocklist", str(path))
    assert len(plan.targets) == 3 and plan.blocklisted == 1
    plan = _ping_plan(monkeypatch, "198.16.0.0/13", "--no-default-blocklist")
    assert len(plan.targets) == 2**19 and plan.blocklisted == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a live loopback sweep needs raw sockets (root)")
def test_a_ping_sweep_says_what_the_blocklist_removed(tmp_path: Path) -> None:
    path = tmp_path / "bl.txt"
    path.write_text("127.0.0.2\n")
    proc = subprocess.run([rawscan_command(), "ping", "127.0.0.0/30", "-q", "--blocklist", str(path),
                           "--resume-file", str(tmp_path / "r"), "-oJ", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Blocklist: 1 address(es) of the targets not scanned: 1 in --blocklist" in proc.stdout
    hosts = {str(r["ip"]) for r in read_jsonl(tmp_path / "o.jsonl")}
    assert hosts == {"127.0.0.0", "127.0.0.1", "127.0.0.3"}
