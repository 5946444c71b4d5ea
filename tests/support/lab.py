"""A throwaway network for live tests: a scanner and a target namespace joined by a veth pair.

    with Lab(LabSpec(open_tcp=[22, 80], drop_tcp=[81])) as lab:
        lab.exec_scanner(["rawscan", ..., lab.target_ip])      # IPv4: 198.18.0.2
        lab.exec_scanner(["rawscan", ..., lab.target_ip6])     # IPv6: 2001:2::2

Dual stack: each namespace has an IPv4 and (unless LabSpec.ipv6 is off) an IPv6 address, the
same listeners answer on both, and every firewall group of the spec applies to both families
(the IPv6 rules reject with the ICMPv6 counterpart, see nft_ruleset), so a port has the same
state over either family; lab_layouts says which reason each family's reply gives.

Safety: only 198.18.0.0/24 (RFC 2544 benchmarking space) and 2001:2::/64 (RFC 5180's
2001:2::/48, IPv6 benchmarking) are used, and only inside the two namespaces; the veth ends
are created directly in them (never in the root namespace), neither namespace gets a default
route (IPv6 router advertisements are ignored, and none is sent) or any link to a real
interface. Teardown kills the helper by PID and deletes both namespaces, also when setup fails
half way.
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
SCANNER_IP6 = "2001:2::1"
TARGET_IP6 = "2001:2::2"
PREFIX_LEN6 = 64  # on-link: the kernel's connected route reaches the target, no default route
SCANNER_IFACE = "rs-scan0"
TARGET_IFACE = "rs-tgt0"
SERVICES = Path(__file__).with_name("lab_services.py")
# `ip netns exec NS` shows /etc/netns/NS/hosts as /etc/hosts: the scanner resolves these
# names (A and AAAA) without any DNS, for -6 and --all-families tests.
NETNS_ETC = Path("/etc/netns")
TARGET_NAME = "target.lab"
READY_TIMEOUT = 30.0  # binding thousands of sockets takes well under a second

_ICMP_UNLIMITED = (  # per-namespace sysctls: the target may answer every probe
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv4.icmp_msgs_per_sec=1000000",  # the global budget, shared by ICMPv6
    "net.ipv4.icmp_msgs_burst=1000000",
    "net.ipv6.icmp.ratelimit=0",  # ICMPv6's per-destination limit
)
_NO_IPV6 = (  # IPv4-only lab: no IPv6 chatter (router solicitations, MLD) on the veth
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
)


def _quiet_ipv6(iface: str) -> tuple[str, ...]:
    """IPv6 on, but as little chatter as the kernel allows: no link-local address (so no
    DAD and no MLD for it), no duplicate address detection, no router solicitations, and
    router advertisements ignored (so no default route can ever appear). Set before the
    link comes up, which is when the kernel would add the link-local address."""
    return tuple(
        f"net.ipv6.conf.{scope}.{key}"
        for scope in ("all", "default", iface)
        for key in ("disable_ipv6=0", "accept_ra=0", "autoconf=0", "dad_transmits=0",
                    "router_solicitations=0")
    ) + (f"net.ipv6.conf.{iface}.addr_gen_mode=1",)

_serial = itertools.count()
_live_namespaces: set[str] = set()  # ours, not yet deleted: swept at exit as a last resort


class LabError(RuntimeError):
    """The lab could not be built."""


_PORT_FIELDS = [
    f"{kind}_{proto}"
    for proto in ("tcp", "udp")
    for kind in ("open", "drop", "reject_admin", "reject_host", "reject_port")
]

# nft verdict per reject group and family: the IPv6 rule answers with the ICMPv6 counterpart
# (destination unreachable, type 1, with the code named). lab_layouts maps them to reasons.
REJECTS = {
    "reject_admin": ("reject with icmp type admin-prohibited",  # ICMP 3/13
                     "reject with icmpv6 type admin-prohibited"),  # ICMPv6 1/1
    "reject_host": ("reject with icmp type host-prohibited",  # ICMP 3/10
                    "reject with icmpv6 type addr-unreachable"),  # ICMPv6 1/3
    "reject_port": ("reject with icmp type port-unreachable",  # ICMP 3/3
                    "reject with icmpv6 type port-unreachable"),  # ICMPv6 1/4
}


@dataclass
class LabSpec:
    """What the target does per port. Every group holds over IPv4 and IPv6 alike."""

    open_tcp: Sequence[int] = ()  # real TCP listeners in the target
    drop_tcp: Sequence[int] = ()  # nft drop (silence)
    reject_admin_tcp: Sequence[int] = ()  # nft reject: ICMP 3/13 / ICMPv6 1/1 (admin prohibited)
    reject_host_tcp: Sequence[int] = ()  # ICMP 3/10 (host prohibited) / ICMPv6 1/3 (addr unreach)
    reject_port_tcp: Sequence[int] = ()  # ICMP 3/3 / ICMPv6 1/4 (port unreachable)
    open_udp: Sequence[int] = ()  # UDP responders answering every datagram
    drop_udp: Sequence[int] = ()
    reject_admin_udp: Sequence[int] = ()
    reject_host_udp: Sequence[int] = ()
    reject_port_udp: Sequence[int] = ()  # as a closed port, but the firewall says so
    reply_loss_percent: int = 0  # random drop of this share of packets to the scanner
    # a policer on packets to the scanner: over this many a second are dropped (0: none);
    # nft's default burst (5 packets), one bucket per family
    reply_rate_limit: int = 0
    lift_icmp_ratelimit: bool = True  # sysctls in the target so no ICMP error is suppressed
    dns_server: bool = False  # a real dnsmasq answering on the target's UDP 53
    # more scanner addresses (for -S): IPv4 ones in the /24, IPv6 ones ("2001:2::11") in the /64
    scanner_extra_ips: Sequence[str] = ()
    ipv6: bool = True  # IPv6 addresses (SCANNER_IP6, TARGET_IP6) besides the IPv4 ones
    # a stateful firewall on these TCP ports: only a SYN may open a connection; any other
    # segment without one (an ACK, FIN, NULL or Xmas probe) is dropped (nft ct state)
    stateful_tcp: Sequence[int] = ()
    # a SYN proxy (nft synproxy, SYN cookies) in front of these TCP ports: every SYN gets a
    # SYN-ACK, whether anything listens or not, as from a DDoS scrubber or firewall. IPv4 only
    # (this kernel's synproxy answered no IPv6 SYN in the lab)
    syn_proxy_tcp: Sequence[int] = ()

    def __post_init__(self) -> None:
        for name in (*_PORT_FIELDS, "stateful_tcp", "syn_proxy_tcp"):
            bad = [p for p in getattr(self, name) if not 1 <= int(p) <= 65535]
            if bad:
                raise ValueError(f"LabSpec.{name}: ports out of range: {bad[:5]}")
        if not 0 <= self.reply_loss_percent <= 100:
            raise ValueError("LabSpec.reply_loss_percent must be within 0..100")
        if self.reply_rate_limit < 0:
            raise ValueError("LabSpec.reply_rate_limit must be 0 (none) or packets per second")
        for extra in self.scanner_extra_ips:
            if ":" in extra and not self.ipv6:
                raise ValueError(f"LabSpec.scanner_extra_ips: {extra} needs ipv6=True")


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
    shutil.rmtree(NETNS_ETC / name, ignore_errors=True)  # our namespaces' /etc overlay
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


def nft_ruleset(spec: LabSpec, scanner_ip: str = SCANNER_IP,
                scanner_ip6: str = SCANNER_IP6) -> str:
    """One inet table: drops hit both families; each reject is one rule per family."""
    rules: list[str] = []
    for proto in ("tcp", "udp"):
        if ports := getattr(spec, f"drop_{proto}"):
            rules.append(f"{proto} dport {_port_set(ports)} drop")
        for attr, (verdict4, verdict6) in REJECTS.items():
            if ports := getattr(spec, f"{attr}_{proto}"):
                rules.append(f"meta nfproto ipv4 {proto} dport {_port_set(ports)} {verdict4}")
                rules.append(f"meta nfproto ipv6 {proto} dport {_port_set(ports)} {verdict6}")
    if spec.stateful_tcp:  # conntrack calls a lone ACK new (tcp_loose), FIN/NULL/Xmas invalid
        rules.append(f"tcp dport {_port_set(spec.stateful_tcp)} ct state {{ new, invalid }} "
                     "tcp flags & (fin | syn | rst | ack) != syn drop")
    prerouting = []
    if spec.syn_proxy_tcp:  # the SYN untracked, so that synproxy answers it with a cookie
        proxied = _port_set(spec.syn_proxy_tcp)
        prerouting.append(f"meta nfproto ipv4 tcp dport {proxied} tcp flags syn notrack")
        rules.append(f"meta nfproto ipv4 tcp dport {proxied} ct state invalid,untracked "
                     "synproxy mss 1460 wscale 7 timestamp sack-perm")
        rules.append(f"meta nfproto ipv4 tcp dport {proxied} ct state invalid drop")
    verdicts = []  # on packets to the scanner: random loss first, then the policer
    if spec.reply_loss_percent:
        verdicts.append(f"numgen random mod 100 < {spec.reply_loss_percent} drop")
    if spec.reply_rate_limit:
        verdicts.append(f"limit rate over {spec.reply_rate_limit}/second drop")
    output = [f"ip daddr {scanner_ip} {v}" for v in verdicts]
    if verdicts and spec.ipv6:
        # neighbour discovery is ARP's counterpart: never lost nor policed, as ARP (outside
        # the inet family) is not
        output.append(f"ip6 daddr {scanner_ip6} icmpv6 type "
                      "{ nd-neighbor-solicit, nd-neighbor-advert } accept")
        output += [f"ip6 daddr {scanner_ip6} {v}" for v in verdicts]
    return "\n".join(
        [
            "table inet rawscan_lab {",
            *(["  chain prerouting {", "    type filter hook prerouting priority raw;",
               *(f"    {r}" for r in prerouting), "  }"] if prerouting else []),
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
    scanner_ip6: str = SCANNER_IP6  # present unless LabSpec.ipv6 is off
    target_ip6: str = TARGET_IP6
    target_name: str = TARGET_NAME  # resolves in the scanner to target_ip (and target_ip6)
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

    def target_address(self, family: int) -> str:
        """The target's address of that family: 4 (198.18.0.2) or 6 (2001:2::2)."""
        return self._address(family, self.target_ip, self.target_ip6)

    def scanner_address(self, family: int) -> str:
        return self._address(family, self.scanner_ip, self.scanner_ip6)

    def _address(self, family: int, v4: str, v6: str) -> str:
        if family == 4:
            return v4
        if family != 6:
            raise ValueError(f"family is 4 or 6, not {family!r}")
        if not self.spec.ipv6:
            raise LabError("this lab has no IPv6 (LabSpec.ipv6 is off)")
        return v6

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
        self._write_hosts()
        # Both ends are born inside their namespaces: nothing ever appears in the root one.
        _must(
            ["ip", "link", "add", "name", SCANNER_IFACE, "netns", self.scanner_ns, "type", "veth"]
            + ["peer", "name", TARGET_IFACE, "netns", self.target_ns]
        )
        unlimited = _ICMP_UNLIMITED if self.spec.lift_icmp_ratelimit else ()
        for ns, iface, ip, ip6, extra_sysctls in (
            (self.scanner_ns, SCANNER_IFACE, SCANNER_IP, SCANNER_IP6, ()),
            (self.target_ns, TARGET_IFACE, TARGET_IP, TARGET_IP6, unlimited),
        ):
            family_sysctls = _quiet_ipv6(iface) if self.spec.ipv6 else _NO_IPV6
            _must(["ip", "-n", ns, "link", "set", "lo", "up"])
            _must(["ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX_LEN}", "dev", iface])
            conf = ["configure", "--iface", iface,
                    *(f"--sysctl={s}" for s in family_sysctls + extra_sysctls)]
            _must(["ip", "netns", "exec", ns, sys.executable, str(SERVICES), *conf])
            if self.spec.ipv6:  # nodad: usable at once, no neighbour solicitation for it
                _must(["ip", "-n", ns, "addr", "add", f"{ip6}/{PREFIX_LEN6}", "dev", iface,
                       "nodad"])
            _must(["ip", "-n", ns, "link", "set", iface, "up"])
        for extra in self.spec.scanner_extra_ips:
            if ":" in extra:  # deprecated (preferred_lft 0): usable with -S, yet the kernel
                # keeps choosing SCANNER_IP6 as the source, as it keeps SCANNER_IP for IPv4
                how = [f"{extra}/{PREFIX_LEN6}", "dev", SCANNER_IFACE, "nodad", "preferred_lft", "0"]
            else:
                how = [f"{extra}/{PREFIX_LEN}", "dev", SCANNER_IFACE]
            _must(["ip", "-n", self.scanner_ns, "addr", "add", *how])
        if self.spec.ipv6:
            extra6 = [a for a in self.spec.scanner_extra_ips if ":" in a]
            self._wait_ipv6_ready(self.scanner_ns, [SCANNER_IP6, *extra6])
            self._wait_ipv6_ready(self.target_ns, [TARGET_IP6])
        self._install_rules()
        self._start_helper()
        if self.spec.dns_server:
            self._start_dnsmasq()

    def _write_hosts(self) -> None:
        """target_name for the scanner (see NETNS_ETC); without a writable /etc the lab still
        works, only the name does not resolve."""
        lines = ["127.0.0.1 localhost", f"{TARGET_IP} {TARGET_NAME}"]
        if self.spec.ipv6:
            lines += ["::1 localhost", f"{TARGET_IP6} {TARGET_NAME}"]
        etc = NETNS_ETC / self.scanner_ns
        with contextlib.suppress(OSError):
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text("\n".join(lines) + "\n")

    @staticmethod
    def _wait_ipv6_ready(ns: str, addresses: list[str]) -> None:
        """The kernel adds an IPv6 address's local route from a work queue once the link is
        up; until then packets to it are dropped (Ip6InNoRoutes). Wait for every route."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            table = _run(["ip", "-n", ns, "-6", "route", "show", "table", "local"]).stdout
            routed = {line.split()[1] for line in table.splitlines()
                      if line.startswith("local ") and len(line.split()) > 1}
            if all(address in routed for address in addresses):
                return
            time.sleep(0.01)
        raise LabError(f"IPv6 addresses {addresses} in {ns} never became usable")

    def _start_dnsmasq(self) -> None:
        if not shutil.which("dnsmasq"):
            raise LabError("dns_server needs dnsmasq (Debian package dnsmasq-base)")
        argv = ["ip", "netns", "exec", self.target_ns, "dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                f"--listen-address={self.target_ip}", "--port=53", "--user=root",
                "--pid-file=", f"--address=/lab.test/{self.target_ip}"]
        listening_on = [self.target_ip]
        if self.spec.ipv6:  # the same server over IPv6, and an AAAA answer for lab.test
            argv += [f"--listen-address={self.target_ip6}", f"--address=/lab.test/{self.target_ip6}"]
            listening_on.append(self.target_ip6)
        self._dnsmasq = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:  # ready once it holds UDP 53
            if self._dnsmasq.poll() is not None:
                err = self._dnsmasq.stderr.read().decode() if self._dnsmasq.stderr else ""
                raise LabError(f"dnsmasq exited: {err.strip()}")
            listening = self.exec_target(["ss", "-Hlun", "sport = :53"]).stdout
            if all(address in listening for address in listening_on):
                return
            time.sleep(0.05)
        raise LabError("dnsmasq did not start listening on UDP 53")

    def _install_rules(self) -> None:
        ruleset = nft_ruleset(self.spec, self.scanner_ip, self.scanner_ip6)
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
        if self.spec.ipv6:
            argv += ["--addr", self.target_ip6]
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

    def add_scanner(self, index: int) -> tuple[str, str]:
        """Another scanner namespace with its own veth to the target and its own IPv4 address
        (198.18.1.10 + index, a /32 routed on the link both ways), as another machine would be:
        returns (namespace, address). IPv4 only; deleted with the lab."""
        if not 0 <= index < 200:
            raise ValueError("index is 0..199")
        ns = f"{self.scanner_ns}-x{index}"
        address = f"198.18.1.{10 + index}"
        peer = f"rs-tgtx{index}"
        _must(["ip", "netns", "add", ns])
        self._created.append(ns)
        _live_namespaces.add(ns)
        _must(["ip", "link", "add", "name", SCANNER_IFACE, "netns", ns, "type", "veth",
               "peer", "name", peer, "netns", self.target_ns])
        _must(["ip", "-n", ns, "link", "set", "lo", "up"])
        _must(["ip", "netns", "exec", ns, sys.executable, str(SERVICES), "configure", "--iface",
               SCANNER_IFACE, *(f"--sysctl={s}" for s in _NO_IPV6)])
        _must(["ip", "-n", ns, "addr", "add", f"{address}/32", "dev", SCANNER_IFACE])
        _must(["ip", "-n", ns, "link", "set", SCANNER_IFACE, "up"])
        _must(["ip", "-n", ns, "route", "add", f"{TARGET_IP}/32", "dev", SCANNER_IFACE,
               "src", address])
        _must(["ip", "netns", "exec", self.target_ns, sys.executable, str(SERVICES), "configure",
               "--iface", peer])
        _must(["ip", "-n", self.target_ns, "link", "set", peer, "up"])
        _must(["ip", "-n", self.target_ns, "route", "add", f"{address}/32", "dev", peer])
        return ns, address

    def close(self) -> None:
        """Stop what we started (by PID) and delete the namespaces; safe to call more than once."""
        dnsmasq, self._dnsmasq = self._dnsmasq, None
        helper, self._helper = self._helper, None
        for process in (dnsmasq, helper):
            if process is not None:
                _stop(process)
        while self._created:
            _del_netns(self._created.pop())


def target_mac(lab: Lab) -> str:
    """The MAC address of the target's end of the veth: what a tool that writes its own
    Ethernet frames (masscan, zmap, a bench run) must send to."""
    return str(lab.exec_target(["cat", f"/sys/class/net/{lab.target_iface}/address"]).stdout.strip())
