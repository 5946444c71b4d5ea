"""A throwaway network for live tests: a scanner and a target namespace joined by a veth pair.

    with Lab(LabSpec(open_tcp=[22, 80], drop_tcp=[81])) as lab:
        lab.exec_scanner(["rawscan", ..., lab.target_ip])

Safety: only 198.18.0.0/24 (RFC 2544 benchmarking space) is used, and only inside the two
namespaces; the veth ends are created directly in them (never in the root namespace), neither
namespace gets a default route or any link to a real interface. Teardown kills the helper by
PID and deletes both namespaces, also when setup fails half way.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCANNER_IP = "198.18.0.1"
TARGET_IP = "198.18.0.2"
PREFIX_LEN = 24
SCANNER_IFACE = "rs-scan0"
TARGET_IFACE = "rs-tgt0"
SERVICES = Path(__file__).with_name("lab_services.py")
READY_TIMEOUT = 30.0  # binding thousands of sockets takes well under a second

_ICMP_UNLIMITED = (  # per-namespace sysctls: the target may answer every probe
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv4.icmp_msgs_per_sec=1000000",
    "net.ipv4.icmp_msgs_burst=1000000",
)
_QUIET_LINK = (  # no IPv6 chatter (router solicitations, MLD) on the veth
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
)

_serial = itertools.count()
_live_namespaces: set[str] = set()  # ours, not yet deleted: swept at exit as a last resort


class LabError(RuntimeError):
    """The lab could not be built."""


_PORT_FIELDS = [
    f"{kind}_{proto}"
    for proto in ("tcp", "udp")
    for kind in ("open", "drop", "reject_admin", "reject_host")
]


@dataclass
class LabSpec:
    open_tcp: Sequence[int] = ()  # real TCP listeners in the target
    drop_tcp: Sequence[int] = ()  # nft drop (silence)
    reject_admin_tcp: Sequence[int] = ()  # nft reject with ICMP 3/13 (admin prohibited)
    reject_host_tcp: Sequence[int] = ()  # nft reject with ICMP 3/10 (host prohibited)
    open_udp: Sequence[int] = ()  # UDP responders answering every datagram
    drop_udp: Sequence[int] = ()
    reject_admin_udp: Sequence[int] = ()
    reject_host_udp: Sequence[int] = ()
    reply_loss_percent: int = 0  # random drop of this share of packets to the scanner
    lift_icmp_ratelimit: bool = True  # sysctls in the target so no ICMP error is suppressed
    dns_server: bool = False  # a real dnsmasq answering on the target's UDP 53
    scanner_extra_ips: Sequence[str] = ()  # more scanner addresses (for -S), same /24

    def __post_init__(self) -> None:
        for name in _PORT_FIELDS:
            bad = [p for p in getattr(self, name) if not 1 <= int(p) <= 65535]
            if bad:
                raise ValueError(f"LabSpec.{name}: ports out of range: {bad[:5]}")
        if not 0 <= self.reply_loss_percent <= 100:
            raise ValueError("LabSpec.reply_loss_percent must be within 0..100")


def _run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _must(argv: list[str], timeout: float = 30) -> None:
    r = _run(argv, timeout)
    if r.returncode != 0:
        detail = (r.stderr or r.stdout).strip().replace("\n", " | ")
        raise LabError(f"`{' '.join(argv)}` failed ({r.returncode}): {detail}")


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _del_netns(name: str) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # checked below
        _run(["ip", "netns", "del", name])
    if not _netns_exists(name):
        _live_namespaces.discard(name)


def _netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


@atexit.register
def sweep_leftovers() -> None:
    """Delete namespaces this process made and did not delete (e.g. after a crash)."""
    for name in sorted(_live_namespaces):
        _del_netns(name)


@functools.cache
def lab_unavailable_reason() -> str | None:
    """Why a live lab cannot be built here, or None if it can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if not _has_caps():
        return "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
    probe = f"rs-probe-{os.getpid()}-{next(_serial)}"
    try:
        r = _run(["ip", "netns", "add", probe])
        if r.returncode != 0:
            return f"`ip netns add` fails: {r.stderr.strip()}"
        _live_namespaces.add(probe)
        checks = [
            ["ip", "-n", probe, "link", "add", "rs-p0", "type", "veth", "peer", "name", "rs-p1"],
            ["ip", "netns", "exec", probe, "nft", "add", "table", "inet", "rawscan_probe"],
        ]
        for argv in checks:
            r = _run(argv)
            if r.returncode != 0:
                return f"`{' '.join(argv[3:])}` fails in a namespace: {r.stderr.strip()}"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run `ip`: {exc}"
    finally:
        _del_netns(probe)
    return None


def _has_caps() -> bool:
    if os.geteuid() == 0:
        return True
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    eff = next((int(ln.split()[1], 16) for ln in status.splitlines() if ln.startswith("CapEff")), 0)
    return bool(eff & (1 << 12)) and bool(eff & (1 << 21))  # CAP_NET_ADMIN, CAP_SYS_ADMIN


def _port_set(ports: Iterable[int]) -> str:
    """nft set syntax with runs collapsed, e.g. { 22, 80-90 }: thousands of ports stay short."""
    runs: list[list[int]] = []
    for p in sorted(set(map(int, ports))):
        if runs and runs[-1][1] == p - 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return "{ " + ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs) + " }"


def nft_ruleset(spec: LabSpec, scanner_ip: str = SCANNER_IP) -> str:
    rules: list[str] = []
    for proto in ("tcp", "udp"):
        for attr, verdict in (
            ("drop", "drop"),
            ("reject_admin", "reject with icmp type admin-prohibited"),
            ("reject_host", "reject with icmp type host-prohibited"),
        ):
            ports = getattr(spec, f"{attr}_{proto}")
            if ports:
                rules.append(f"{proto} dport {_port_set(ports)} {verdict}")
    output = []
    if spec.reply_loss_percent:
        loss = spec.reply_loss_percent
        output.append(f"ip daddr {scanner_ip} numgen random mod 100 < {loss} drop")
    return "\n".join(
        [
            "table inet rawscan_lab {",
            "  chain input {",
            "    type filter hook input priority 0; policy accept;",
            *(f"    {r}" for r in rules),
            "  }",
            "  chain output {",
            "    type filter hook output priority 0; policy accept;",
            *(f"    {r}" for r in output),
            "  }",
            "}",
            "",
        ]
    )


class Lab:
    """Two namespaces on a veth pair, with listeners and nft rules in the target (see LabSpec)."""

    scanner_ip: str = SCANNER_IP
    target_ip: str = TARGET_IP
    scanner_iface: str = SCANNER_IFACE
    target_iface: str = TARGET_IFACE

    def __init__(self, spec: LabSpec | None = None) -> None:
        self.spec = spec or LabSpec()
        n = next(_serial)
        self.scanner_ns = f"rs-scan-{os.getpid()}-{n}"
        self.target_ns = f"rs-tgt-{os.getpid()}-{n}"
        self._created: list[str] = []
        self._helper: subprocess.Popen[str] | None = None
        self._dnsmasq: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Lab:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- running things inside ---

    def exec_scanner(
        self, argv: list[str], timeout: float = 120, **kw: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run argv in the scanner namespace; output captured as text unless kw says otherwise."""
        return self._exec(self.scanner_ns, argv, timeout, kw)

    def exec_target(
        self, argv: list[str], timeout: float = 120, **kw: Any
    ) -> subprocess.CompletedProcess[Any]:
        return self._exec(self.target_ns, argv, timeout, kw)

    @staticmethod
    def _exec(
        ns: str, argv: list[str], timeout: float, kw: dict[str, Any]
    ) -> subprocess.CompletedProcess[Any]:
        if not {"stdout", "stderr", "capture_output"} & kw.keys():
            kw["capture_output"] = True
        kw.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", ns, *argv], timeout=timeout, **kw)

    # --- setup / teardown ---

    def _build(self) -> None:
        for ns in (self.scanner_ns, self.target_ns):
            _must(["ip", "netns", "add", ns])
            self._created.append(ns)
            _live_namespaces.add(ns)
        # Both ends are born inside their namespaces: nothing ever appears in the root one.
        _must(
            ["ip", "link", "add", "name", SCANNER_IFACE, "netns", self.scanner_ns, "type", "veth"]
            + ["peer", "name", TARGET_IFACE, "netns", self.target_ns]
        )
        target_sysctls = _QUIET_LINK + (_ICMP_UNLIMITED if self.spec.lift_icmp_ratelimit else ())
        for ns, iface, ip, sysctls in (
            (self.scanner_ns, SCANNER_IFACE, SCANNER_IP, _QUIET_LINK),
            (self.target_ns, TARGET_IFACE, TARGET_IP, target_sysctls),
        ):
            _must(["ip", "-n", ns, "link", "set", "lo", "up"])
            _must(["ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX_LEN}", "dev", iface])
            _must(["ip", "-n", ns, "link", "set", iface, "up"])
            conf = ["configure", "--iface", iface, *(f"--sysctl={s}" for s in sysctls)]
            _must(["ip", "netns", "exec", ns, sys.executable, str(SERVICES), *conf])
        for extra in self.spec.scanner_extra_ips:
            _must(["ip", "-n", self.scanner_ns, "addr", "add", f"{extra}/{PREFIX_LEN}",
                   "dev", SCANNER_IFACE])
        self._install_rules()
        self._start_helper()
        if self.spec.dns_server:
            self._start_dnsmasq()

    def _start_dnsmasq(self) -> None:
        if not shutil.which("dnsmasq"):
            raise LabError("dns_server needs dnsmasq (Debian package dnsmasq-base)")
        argv = ["ip", "netns", "exec", self.target_ns, "dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                f"--listen-address={self.target_ip}", "--port=53", "--user=root",
                "--pid-file=", "--address=/lab.test/198.18.0.2"]
        self._dnsmasq = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:  # ready once it holds UDP 53
            if self._dnsmasq.poll() is not None:
                err = self._dnsmasq.stderr.read().decode() if self._dnsmasq.stderr else ""
                raise LabError(f"dnsmasq exited: {err.strip()}")
            listening = self.exec_target(["ss", "-Hlun", "sport = :53"]).stdout
            if self.target_ip in listening:
                return
            time.sleep(0.05)
        raise LabError("dnsmasq did not start listening on UDP 53")

    def _install_rules(self) -> None:
        ruleset = nft_ruleset(self.spec, self.scanner_ip)
        r = subprocess.run(
            ["ip", "netns", "exec", self.target_ns, "nft", "-f", "-"],
            input=ruleset, capture_output=True, text=True, timeout=30, check=False,
        )
        if r.returncode != 0:
            raise LabError(f"nft rejected the lab ruleset: {r.stderr.strip()}\n{ruleset}")

    def _start_helper(self) -> None:
        spec = self.spec
        if not spec.open_tcp and not spec.open_udp:
            return
        argv = ["ip", "netns", "exec", self.target_ns, sys.executable, str(SERVICES), "serve"]
        argv += ["--addr", self.target_ip]
        argv += ["--tcp", ",".join(map(str, spec.open_tcp))]
        argv += ["--udp", ",".join(map(str, spec.open_udp))]
        # `ip netns exec` execs the command, so this PID is the helper itself.
        self._helper = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self._helper.stdout is not None
        output: list[str] = []
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as sel:
            sel.register(self._helper.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                line = self._helper.stdout.readline()
                if line.strip() == "ready":
                    return
                if not line:  # helper exited
                    break
                output.append(line.rstrip())
        raise LabError(f"lab helper not ready after {READY_TIMEOUT} s: {' | '.join(output)}")

    def close(self) -> None:
        """Stop what we started (by PID) and delete the namespaces; safe to call more than once."""
        dnsmasq, self._dnsmasq = self._dnsmasq, None
        helper, self._helper = self._helper, None
        for process in (dnsmasq, helper):
            if process is not None:
                _stop(process)
        while self._created:
            _del_netns(self._created.pop())
