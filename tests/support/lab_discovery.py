"""A lab of hosts that are up and down in every way host discovery must tell apart.

    with DiscoveryLab() as lab:
        lab.exec_scanner(["rawscan", "ping", *lab.every_host()])

On top of tests/support/lab.py's scanner and target namespaces (198.18.0.1 / .2, 2001:2::1 / ::2):
- ANYIP: prefixes routed from the scanner to the target, local on the target's lo (AnyIP):
  every address in them answers as the target does;
- SILENT_ONLINK: on the scanner's own link, where nothing answers ARP / neighbour solicitation;
- DROPPER: routed to the target, which drops everything sent to it (nft);
- NO_ECHO: routed to the target, which drops ICMP echo and timestamp requests and TCP to 80 to
  it, while a listener on TCP 443 answers (SYN-ACK);
- UNREACHABLE: a subnet behind a third namespace, a router (behind the target, which
  forwards to it) whose `unreachable` route answers ICMP host unreachable for it; for IPv6 the
  target has that route itself (ICMPv6 no route).
The expected status and reason of each is EXPECTED (IPv4) and EXPECTED6.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.lab import SERVICES, Lab, LabSpec, _del_netns, _live_namespaces, _must, _stop, _serial

ANYIP, ANYIP6 = "198.18.8.0/29", "2001:2:8::/125"
ANYIP_HOSTS = ["198.18.8.1", "198.18.8.2", "198.18.8.3", "198.18.8.6"]
ANYIP_HOSTS6 = ["2001:2:8::1", "2001:2:8::2", "2001:2:8::6"]
SILENT_ONLINK, SILENT_ONLINK6 = "198.18.0.50", "2001:2::50"
DROPPER, DROPPER6 = "198.18.9.1", "2001:2:9::1"
NO_ECHO, NO_ECHO6 = "198.18.10.1", "2001:2:10::1"
UNREACHABLE_NET, UNREACHABLE_NET6 = "198.18.20.0/24", "2001:2:20::/64"
UNREACHABLE, UNREACHABLE6 = "198.18.20.5", "2001:2:20::5"
ROUTER_LINK = ("198.18.1.1", "198.18.1.2", "2001:2:1::1", "2001:2:1::2")  # target, router
TARGET_IFACE2, ROUTER_IFACE = "rs-tgt1", "rs-rtr0"

EXPECTED: dict[str, tuple[str, str]] = {
    "198.18.0.2": ("up", "arp-response"),  # on the scanner's link: asked by ARP only
    **{h: ("up", "echo-reply") for h in ANYIP_HOSTS},
    SILENT_ONLINK: ("down", "no-response"),
    DROPPER: ("down", "no-response"),
    NO_ECHO: ("up", "syn-ack"),
    UNREACHABLE: ("down", "host-unreach"),
}
EXPECTED6: dict[str, tuple[str, str]] = {
    "2001:2::2": ("up", "nd-response"),  # ... by neighbour discovery
    **{h: ("up", "echo-reply") for h in ANYIP_HOSTS6},
    SILENT_ONLINK6: ("down", "no-response"),
    DROPPER6: ("down", "no-response"),
    NO_ECHO6: ("up", "syn-ack"),
    UNREACHABLE6: ("down", "no-route"),  # what Linux's unreachable route answers (ICMPv6 1/0)
}

_TARGET_RULES = f"""
table inet rawscan_discovery {{
  chain input {{
    type filter hook input priority -10; policy accept;
    ip daddr {DROPPER} drop
    ip6 daddr {DROPPER6} drop
    ip daddr {NO_ECHO} icmp type {{ echo-request, timestamp-request }} drop
    ip6 daddr {NO_ECHO6} icmpv6 type echo-request drop
    ip daddr {NO_ECHO} tcp dport 80 drop
    ip6 daddr {NO_ECHO6} tcp dport 80 drop
  }}
}}
"""


class DiscoveryLab(Lab):
    def __init__(self, spec: LabSpec | None = None) -> None:
        super().__init__(spec or LabSpec())
        self.router_ns = f"rs-rtr-{os.getpid()}-{next(_serial)}"
        self._listener: subprocess.Popen[str] | None = None

    def every_host(self, family: int = 4) -> list[str]:
        return list((EXPECTED if family == 4 else EXPECTED6))

    def _build(self) -> None:
        super()._build()
        s, t, r = self.scanner_ns, self.target_ns, self.router_ns
        _must(["ip", "netns", "add", r])
        self._created.append(r)
        _live_namespaces.add(r)
        # the router hangs off the target, which forwards to it: every path from the scanner
        # leaves on its one link (so the kernel picks one source address per family)
        _must(["ip", "link", "add", "name", TARGET_IFACE2, "netns", t, "type", "veth",
               "peer", "name", ROUTER_IFACE, "netns", r])
        t4, r4, t6, r6 = ROUTER_LINK
        for ns, iface, a4, a6 in ((t, TARGET_IFACE2, t4, t6), (r, ROUTER_IFACE, r4, r6)):
            _must(["ip", "netns", "exec", ns, sys.executable, str(SERVICES), "configure",
                   "--iface", iface, *(f"--sysctl=net.ipv6.conf.{scope}.{key}"
                                       for scope in ("all", "default", iface)
                                       for key in ("disable_ipv6=0", "accept_ra=0", "autoconf=0",
                                                   "dad_transmits=0", "router_solicitations=0")),
                   f"--sysctl=net.ipv6.conf.{iface}.addr_gen_mode=1"])
            _must(["ip", "-n", ns, "link", "set", "lo", "up"])
            _must(["ip", "-n", ns, "addr", "add", f"{a4}/24", "dev", iface])
            _must(["ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", iface, "nodad"])
            _must(["ip", "-n", ns, "link", "set", iface, "up"])
        # IPv4 forwarding in both; IPv6 forwarding stays off in the target (a host: as an
        # IPv6 router its neighbour entry for the scanner was now and then left INCOMPLETE,
        # losing every answer), whose unreachable route answers ICMPv6 all the same
        for ns, v6_forwarding in ((t, 0), (r, 1)):
            _must(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                   f"net.ipv6.conf.all.forwarding={v6_forwarding}", "net.ipv4.icmp_ratelimit=0",
                   "net.ipv6.icmp.ratelimit=0"])
        _must(["ip", "-n", r, "route", "add", "198.18.0.0/24", "via", t4])  # back to the scanner
        _must(["ip", "-n", r, "-6", "route", "add", "2001:2::/64", "via", t6])
        _must(["ip", "-n", r, "route", "add", "unreachable", UNREACHABLE_NET])
        _must(["ip", "-n", t, "route", "add", UNREACHABLE_NET, "via", r4])
        # IPv6: the target itself routes the subnet to nowhere (neighbour discovery between
        # two forwarding namespaces did not complete here)
        _must(["ip", "-n", t, "-6", "route", "add", "unreachable", UNREACHABLE_NET6])
        via4, via6 = self.target_ip, self.target_ip6
        for net in (ANYIP, f"{DROPPER}/32", f"{NO_ECHO}/32"):
            _must(["ip", "-n", s, "route", "add", net, "via", via4])
            _must(["ip", "-n", t, "route", "add", "local", net, "dev", "lo"])
        for net in (ANYIP6, f"{DROPPER6}/128", f"{NO_ECHO6}/128"):
            _must(["ip", "-n", s, "-6", "route", "add", net, "via", via6])
            _must(["ip", "-n", t, "-6", "route", "add", "local", net, "dev", "lo"])
        for net in (UNREACHABLE_NET, UNREACHABLE_NET6):
            _must(["ip", "-n", s, "route", "add", net, "via", via6 if ":" in net else via4])
        # The target knows the scanner's MAC for good: its own neighbour discovery of the
        # scanner's IPv6 address was now and then left INCOMPLETE here (every IPv6 answer lost
        # for seconds); the scanner still resolves the target, and rawscan's NDP asks it anyway
        scanner_mac = json.loads(subprocess.run(
            ["ip", "-n", s, "-j", "link", "show", "dev", self.scanner_iface], capture_output=True,
            text=True, check=True, timeout=30).stdout)[0]["address"]
        _must(["ip", "-n", t, "-6", "neigh", "replace", self.scanner_ip6, "lladdr", scanner_mac,
               "dev", self.target_iface, "nud", "permanent"])
        rules = subprocess.run(["ip", "netns", "exec", t, "nft", "-f", "-"], input=_TARGET_RULES,
                               capture_output=True, text=True, timeout=30, check=False)
        if rules.returncode:
            raise RuntimeError(f"nft: {rules.stderr}")
        self._wait_ipv6_ready(t, [t6])
        self._wait_ipv6_ready(r, [r6])
        self._listener = subprocess.Popen(
            ["ip", "netns", "exec", t, sys.executable, str(SERVICES), "serve", "--addr",
             "0.0.0.0", "--addr", "::", "--tcp", "443", "--udp", ""],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self._listener.stdout is not None
        line = self._listener.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"443 listener: {line}")

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _stop(listener)
        super().close()
        _del_netns(self.router_ns)
