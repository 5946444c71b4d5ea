"""Re-record the captures that `rawscan analyze` is checked against (as root:
python -m tools.record_analyze_pcaps [NAME...]).

Each is a scan of the namespace lab by a tool that is not rawscan (nmap, masscan, hping3),
captured with tcpdump inside the scanner namespace, and kept with the tool's own report beside
it only when that report matches the lab's ground truth (tools drop replies now and then: a
mismatch is retried). Needs nmap, masscan, hping3 and tcpdump (apt-get install -y nmap masscan
hping3 tcpdump).

The IPv6 ones (and one of both families at once) are nmap scans of ::1 and 127.0.0.1 inside a
namespace of their own with nothing but its loopback: listeners and UDP responders we start,
and nft rules rejecting ports with every ICMPv6 unreachable code nft can send (and an ICMP
one for IPv4), so nmap's reason for each is on record beside the capture.

pcaps/analyze-icmp6-kinds.pcap is not a recording: write_icmp6_kinds() builds it with Scapy
(every ICMPv6 error kind, from the target and from a router, for TCP and UDP probes, behind
extension headers too), and the tests check the committed file is what it writes.
"""

from __future__ import annotations

import gzip
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import atexit
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.lab import TARGET_IP, Lab, LabSpec, lab_unavailable_reason, target_mac
from tests.support.lab_layouts import SYN_SMALL, FirewallLayout
from tests.support.tool_reports import hping3_states, masscan_json_states, nmap_xml_states

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
TRIES = 3
NORMAL_CLIENT_IP = "198.18.0.3"  # a second address in the scanner namespace: ordinary traffic

# UDP ground truth: ports 50-170 of the target, every kind of answer.
UDP_PORTS = range(50, 171)
UDP_OPEN, UDP_DROP, UDP_ADMIN, UDP_HOST = (53, 123, 161), (69, 140), (137,), (138,)
LAB = LabSpec(
    open_tcp=SYN_SMALL.open, drop_tcp=SYN_SMALL.drop, reject_admin_tcp=SYN_SMALL.admin,
    reject_host_tcp=SYN_SMALL.host, open_udp=UDP_OPEN, drop_udp=UDP_DROP,
    reject_admin_udp=UDP_ADMIN, reject_host_udp=UDP_HOST,
)


def tcp_truth(ports: range) -> dict[tuple[str, int], tuple[str, str]]:
    return {("tcp", p): v for p, v in SYN_SMALL.expected().items() if p in ports}


def udp_truth() -> dict[tuple[str, int], tuple[str, str]]:
    table = {("udp", p): ("closed", "port-unreach") for p in UDP_PORTS}
    table.update({("udp", p): ("open", "udp-response") for p in UDP_OPEN})
    table.update({("udp", p): ("open|filtered", "no-response") for p in UDP_DROP})
    table.update({("udp", p): ("filtered", "admin-prohibited") for p in UDP_ADMIN})
    table.update({("udp", p): ("filtered", "host-prohibited") for p in UDP_HOST})
    return table


def states_only(table: dict[tuple[str, int], tuple[str, str]]) -> dict[tuple[str, int], str]:
    return {k: v[0] for k, v in table.items()}


def answered_only(table: dict[tuple[str, int], tuple[str, str]]) -> dict[tuple[str, int], str]:
    """What a tool reporting only TCP answers (masscan, hping3) should list: open and closed."""
    return {k: v[0] for k, v in table.items() if v[0] in ("open", "closed")}


@dataclass(frozen=True)
class Recording:
    argv: Callable[[Lab, Path], list[str]]  # the tool's command; its report goes to the Path
    report_suffix: str  # beside the capture: NAME + suffix
    matches: Callable[[Path], bool]  # the report agrees with the lab's ground truth
    gzip: bool = False  # store the capture gzip'd (NAME.pcap.gz), to cover that path too
    any_interface: bool = False  # tcpdump -i any: Linux cooked (SLL2) frames, not Ethernet
    normal_traffic: bool = False  # ordinary connections from NORMAL_CLIENT_IP during the scan
    stdout_report: bool = False  # the report is the tool's stdout (hping3)
    spec: LabSpec | None = None  # the lab, when not LAB


# nmap -sA and -sF against a stateful firewall (open and closed ports behind it), drops, rejects
NMAP_FIREWALL = FirewallLayout(ports=range(1, 101), open=(22, 80), stateful=(80, 40, 41, 42),
                               drop=(23,), admin=(25,), port=(70,))


def firewall_truth(scan: str) -> dict[tuple[str, int], tuple[str, str]]:
    return {("tcp", p): v for p, v in NMAP_FIREWALL.expected(scan, 4).items()}


RECORDINGS: dict[str, Recording] = {
    "analyze-nmap-syn": Recording(
        lambda lab, out: ["nmap", "-sS", "-Pn", "-n", "--reason", "-p", "1-200", "-oX", str(out),
                          lab.target_ip],
        ".nmap.xml", lambda p: nmap_xml_states(p) == tcp_truth(range(1, 201)),
    ),
    "analyze-nmap-udp": Recording(
        lambda lab, out: ["nmap", "-sU", "-Pn", "-n", "--reason", "-p",
                          f"{UDP_PORTS.start}-{UDP_PORTS.stop - 1}", "-oX", str(out), lab.target_ip],
        ".nmap.xml", lambda p: nmap_xml_states(p) == udp_truth(), gzip=True,
    ),
    "analyze-masscan": Recording(
        lambda lab, out: ["masscan", "-p1-200", lab.target_ip, "--rate", "200", "--wait", "2",
                          "--interface", lab.scanner_iface, "--router-mac", target_mac(lab),
                          "--show", "closed", "-oJ", str(out)],
        ".masscan.json", lambda p: masscan_json_states(p) == answered_only(tcp_truth(range(1, 201))),
    ),
    "analyze-hping3": Recording(
        lambda lab, _out: ["hping3", "-S", "-p", "++1", "-c", "40", "-i", "u20000", lab.target_ip],
        ".hping3.txt", lambda p: hping3_states(p) == answered_only(tcp_truth(range(1, 41))),
        stdout_report=True,
    ),
    "analyze-mixed": Recording(  # a connect scan amid ordinary connections, on 'any' (SLL2)
        lambda lab, out: ["nmap", "-sT", "-Pn", "-n", "--reason", "-p", "1-100", "-oX", str(out),
                          lab.target_ip],
        ".nmap.xml", lambda p: states_only(nmap_xml_states(p)) == states_only(tcp_truth(range(1, 101))),
        any_interface=True, normal_traffic=True,
    ),
    **{f"analyze-nmap-{scan}": Recording(
        lambda lab, out, flag=flag: ["nmap", flag, "-Pn", "-n", "--reason", "-p", "1-100", "-oX",
                                     str(out), lab.target_ip],
        ".nmap.xml", lambda p, scan=scan: nmap_xml_states(p) == firewall_truth(scan),
        spec=NMAP_FIREWALL.spec(),
    ) for scan, flag in (("ack", "-sA"), ("fin", "-sF"))},
}

# Ordinary traffic: connections that send data to open ports, a few answered UDP queries, and
# one connection attempt to a silent port (a client meeting a firewall, not a scan).
NORMAL_CLIENT = f"""
import socket, time
src, dst = {NORMAL_CLIENT_IP!r}, {TARGET_IP!r}
for i in range(12):
    for port in (22, 80):
        s = socket.create_connection((dst, port), timeout=2, source_address=(src, 0))
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        s.close()
    time.sleep(0.05)
for i in range(3):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((src, 0)); u.settimeout(2)
    u.sendto(b"query %d" % i, (dst, 53)); u.recvfrom(2048); u.close()
try:
    socket.create_connection((dst, 23), timeout=1, source_address=(src, 0))
except OSError:
    pass
"""


def _start_tcpdump(lab: Lab, capture: Path, any_interface: bool) -> subprocess.Popen[bytes]:
    iface = "any" if any_interface else lab.scanner_iface
    return _tcpdump_in(lab.scanner_ns, iface, capture, "ip")


def _tcpdump_in(ns: str, iface: str, capture: Path, bpf: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "-w", str(capture), bpf],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    with selectors.DefaultSelector() as sel:  # wait for "listening on ..."
        sel.register(proc.stderr, selectors.EVENT_READ)
        if not sel.select(10):
            proc.kill()
            raise SystemExit("tcpdump did not start listening")
    proc.stderr.readline()
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # by PID: tcpdump flushes and exits
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def record_once(name: str, rec: Recording, tmp: Path, dest: Path = PCAPS) -> bool:
    """One try: capture, check the tool's report, keep both in dest. False if the report is off."""
    capture, report = tmp / f"{name}.pcap", tmp / f"{name}{rec.report_suffix}"
    with Lab(rec.spec or LAB) as lab:
        if rec.normal_traffic:
            lab.exec_scanner(["ip", "addr", "add", f"{NORMAL_CLIENT_IP}/24", "dev", lab.scanner_iface])
        tcpdump = _start_tcpdump(lab, capture, rec.any_interface)
        try:
            client = None
            if rec.normal_traffic:
                client = subprocess.Popen(["ip", "netns", "exec", lab.scanner_ns, sys.executable,
                                           "-c", NORMAL_CLIENT])
            proc = lab.exec_scanner(rec.argv(lab, report), timeout=300)
            if client is not None:
                client.wait(60)
                if client.returncode != 0:
                    print(f"{name}: the ordinary client failed")
                    return False
            time.sleep(0.5)  # late replies
        finally:
            _stop(tcpdump)
    if rec.stdout_report:
        report.write_text(proc.stdout)
    if proc.returncode != 0 or not report.exists() or not rec.matches(report):
        print(f"{name}: the tool's report differs from the lab's ground truth; "
              f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return False
    stored = dest / (f"{name}.pcap.gz" if rec.gzip else f"{name}.pcap")
    if rec.gzip:
        with open(capture, "rb") as src, gzip.open(stored, "wb", compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copy(capture, stored)
    shutil.copy(report, dest / report.name)
    print(f"{name}: recorded {stored.name} and {report.name}")
    return True


# --- IPv6 and both families: nmap on the loopback of a namespace of our own -------------

PortStates = dict[tuple[str, int], tuple[str, str]]

LOOP_TCP_PORTS = range(1, 201)
LOOP_TCP_OPEN, LOOP_TCP_DROP = (22, 80, 111, 143, 199), (23, 25, 110)
# ports: (nft ICMPv6 type, nmap's reason for it, nft ICMP type, nmap's reason for that)
LOOP_TCP_REJECTS: dict[tuple[int, ...], tuple[str, str, str, str]] = {
    (30, 31): ("no-route", "no-route", "net-unreachable", "net-unreach"),  # 1/0, 3/0
    (40, 41): ("admin-prohibited", "admin-prohibited", "admin-prohibited", "admin-prohibited"),  # 1/1, 3/13
    (50, 51): ("addr-unreachable", "host-unreach", "host-unreachable", "host-unreach"),  # 1/3, 3/1
    (60, 61): ("port-unreachable", "port-unreach", "port-unreachable", "port-unreach"),  # 1/4, 3/3
    (70, 71): ("policy-fail", "admin-prohibited", "host-prohibited", "host-prohibited"),  # 1/5, 3/10
    (90, 91): ("reject-route", "reject-route", "net-prohibited", "net-prohibited"),  # 1/6, 3/9
}
LOOP_UDP_PORTS = range(50, 171)
LOOP_UDP_OPEN, LOOP_UDP_DROP = (53, 123, 161), (69, 140)
LOOP_UDP_REJECTS: dict[tuple[int, ...], tuple[str, str]] = {  # IPv6 only: (nft type, reason)
    (137,): ("admin-prohibited", "admin-prohibited"),
    (138,): ("addr-unreachable", "host-unreach"),
    (139,): ("no-route", "no-route"),
}


def loop_tcp_truth(v6: bool) -> PortStates:
    table = {("tcp", p): ("closed", "reset") for p in LOOP_TCP_PORTS}
    table.update({("tcp", p): ("open", "syn-ack") for p in LOOP_TCP_OPEN})
    table.update({("tcp", p): ("filtered", "no-response") for p in LOOP_TCP_DROP})
    for ports, (_t6, why6, _t4, why4) in LOOP_TCP_REJECTS.items():
        table.update({("tcp", p): ("filtered", why6 if v6 else why4) for p in ports})
    return table


def loop_udp_truth() -> PortStates:
    table = {("udp", p): ("closed", "port-unreach") for p in LOOP_UDP_PORTS}
    table.update({("udp", p): ("open", "udp-response") for p in LOOP_UDP_OPEN})
    table.update({("udp", p): ("open|filtered", "no-response") for p in LOOP_UDP_DROP})
    for ports, (_t6, why6) in LOOP_UDP_REJECTS.items():
        table.update({("udp", p): ("filtered", why6) for p in ports})
    return table


def _set(ports: tuple[int, ...]) -> str:
    return "{ " + ", ".join(map(str, ports)) + " }"


def loop_ruleset() -> str:
    rules = [f"tcp dport {_set(LOOP_TCP_DROP)} drop", f"udp dport {_set(LOOP_UDP_DROP)} drop"]
    for ports, (type6, _why6, type4, _why4) in LOOP_TCP_REJECTS.items():
        rules.append(f"meta nfproto ipv6 tcp dport {_set(ports)} reject with icmpv6 type {type6}")
        rules.append(f"meta nfproto ipv4 tcp dport {_set(ports)} reject with icmp type {type4}")
    for ports, (type6, _why6) in LOOP_UDP_REJECTS.items():
        rules.append(f"meta nfproto ipv6 udp dport {_set(ports)} reject with icmpv6 type {type6}")
    body = "\n".join(f"    {r}" for r in rules)
    return ("table inet rawscan_loop {\n  chain input {\n"
            f"    type filter hook input priority 0; policy accept;\n{body}\n  }}\n}}\n")


# Listeners and UDP responders on both families ("::" without IPV6_V6ONLY takes IPv4 too).
LOOP_SERVICES = """
import selectors, socket
sel = selectors.DefaultSelector()
for port in {tcp!r}:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); s.listen(64); sel.register(s, selectors.EVENT_READ)
for port in {udp!r}:
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", port)); sel.register(u, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        sock = key.fileobj
        if sock.type == socket.SOCK_STREAM:
            sock.accept()[0].close()
        else:
            data, peer = sock.recvfrom(4096)
            sock.sendto(b"answer " + data[:32], peer)
"""

_loop_serial = itertools.count()
_loop_namespaces: set[str] = set()  # ours, not yet deleted: swept at exit as a last resort


@atexit.register
def _sweep_loop_namespaces() -> None:
    for name in sorted(_loop_namespaces):
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


class LoopbackNamespace:
    """A namespace with only `lo` up (::1 and 127.0.0.1: nothing else is reachable from it),
    ICMP rate limits lifted, LOOP_* listeners and responders, and loop_ruleset()."""

    def __init__(self) -> None:
        self.name = f"rs-loop-{os.getpid()}-{next(_loop_serial)}"
        self._services: subprocess.Popen[str] | None = None

    def __enter__(self) -> LoopbackNamespace:
        try:
            self._must(["ip", "netns", "add", self.name])
            _loop_namespaces.add(self.name)
            self._must(["ip", "-n", self.name, "link", "set", "lo", "up"])
            self._must(["ip", "netns", "exec", self.name, "sysctl", "-q", "net.ipv4.icmp_ratelimit=0",
                        "net.ipv4.icmp_msgs_per_sec=1000000", "net.ipv4.icmp_msgs_burst=1000000",
                        "net.ipv6.icmp.ratelimit=0"])
            self._must(["ip", "netns", "exec", self.name, "nft", "-f", "-"], loop_ruleset())
            script = LOOP_SERVICES.format(tcp=LOOP_TCP_OPEN, udp=LOOP_UDP_OPEN)
            self._services = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", script],
                                              stdout=subprocess.PIPE, text=True)
            assert self._services.stdout is not None
            with selectors.DefaultSelector() as sel:
                sel.register(self._services.stdout, selectors.EVENT_READ)
                if not sel.select(10) or self._services.stdout.readline().strip() != "ready":
                    raise RuntimeError("the loopback services did not start")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _must(self, argv: list[str], stdin: str | None = None) -> None:
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"`{' '.join(argv)}` failed: {r.stderr.strip()}")

    def popen(self, argv: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def close(self) -> None:
        if self._services is not None:  # `ip netns exec` execs python: this PID is the helper's
            self._services.kill()
            self._services.wait(5)
            if self._services.stdout is not None:
                self._services.stdout.close()
            self._services = None
        if self.name in _loop_namespaces:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
            if not Path("/run/netns", self.name).exists():
                _loop_namespaces.discard(self.name)


@dataclass(frozen=True)
class LoopRecording:
    """nmap runs started together (report suffix -> argv without -oX) and what each report
    must say; the capture holds them all."""

    runs: dict[str, list[str]]
    truths: dict[str, Callable[[], PortStates]]
    any_interface: bool = False  # tcpdump -i any: Linux cooked (SLL2) frames
    gzip: bool = False
    bpf: str = "ip6"


NMAP = ["nmap", "-Pn", "-n", "--reason"]
TCP_RANGE = f"{LOOP_TCP_PORTS.start}-{LOOP_TCP_PORTS.stop - 1}"
LOOP_RECORDINGS: dict[str, LoopRecording] = {
    "analyze-nmap6-syn": LoopRecording(
        {".nmap.xml": [*NMAP, "-6", "-sS", "-p", TCP_RANGE, "::1"]},
        {".nmap.xml": lambda: loop_tcp_truth(v6=True)},
    ),
    "analyze-nmap6-udp": LoopRecording(
        {".nmap.xml": [*NMAP, "-6", "-sU", "-p", f"{LOOP_UDP_PORTS.start}-{LOOP_UDP_PORTS.stop - 1}", "::1"]},
        {".nmap.xml": loop_udp_truth}, gzip=True,
    ),
    "analyze-nmap-dual": LoopRecording(  # -4 and -6 at once, on 'any' (SLL2)
        {".nmap4.xml": [*NMAP, "-4", "-sS", "-p", TCP_RANGE, "127.0.0.1"],
         ".nmap6.xml": [*NMAP, "-6", "-sS", "-p", TCP_RANGE, "::1"]},
        {".nmap4.xml": lambda: loop_tcp_truth(v6=False), ".nmap6.xml": lambda: loop_tcp_truth(v6=True)},
        any_interface=True, bpf="ip or ip6",
    ),
}


def record_loop_once(name: str, rec: LoopRecording, tmp: Path, dest: Path = PCAPS) -> bool:
    """One try: capture the runs, check every report, keep them all in dest."""
    capture = tmp / f"{name}.pcap"
    reports = {suffix: tmp / f"{name}{suffix}" for suffix in rec.runs}
    procs: dict[str, subprocess.Popen[str]] = {}
    with LoopbackNamespace() as ns:
        tcpdump = _tcpdump_in(ns.name, "any" if rec.any_interface else "lo", capture, rec.bpf)
        try:
            for suffix, argv in rec.runs.items():
                procs[suffix] = ns.popen([*argv, "-oX", str(reports[suffix])])
            for proc in procs.values():
                proc.communicate(timeout=300)
            time.sleep(0.5)  # late replies
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()  # by PID
                    proc.wait(5)
            _stop(tcpdump)
    for suffix, proc in procs.items():
        report = reports[suffix]
        if proc.returncode != 0 or not report.exists() or nmap_xml_states(report) != rec.truths[suffix]():
            print(f"{name}{suffix}: nmap's report differs from the ground truth (exit {proc.returncode})")
            return False
    stored = dest / (f"{name}.pcap.gz" if rec.gzip else f"{name}.pcap")
    if rec.gzip:
        with open(capture, "rb") as src, gzip.GzipFile(stored, "wb", compresslevel=9, mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copy(capture, stored)
    for report in reports.values():
        shutil.copy(report, dest / report.name)
    print(f"{name}: recorded {stored.name} and {', '.join(r.name for r in reports.values())}")
    return True


# --- every ICMPv6 error kind, built with Scapy ----------------------------------------------

ICMP6_KINDS_PCAP = PCAPS / "analyze-icmp6-kinds.pcap"
K_SCANNER, K_TARGET, K_ROUTER = "2001:2::1", "2001:2::2", "2001:2:0:ff::1"
K_T0 = 1_800_000_000


def icmp6_kinds_packets() -> Iterator[tuple[float, object]]:
    """(time, Scapy packet): per ICMPv6 (type, code) in 1/0-8, 2/0, 3/0-1 and 4/0-2, a TCP SYN and
    a UDP probe answered by the error from the target and, on other ports, from a router.
    Port = 1000 + 100 * type + 10 * code (+1 for the router's); TCP probes seq = port * 7.
    A TCP and a UDP probe with extension headers, answered by 1/1 and 1/4, close the capture."""
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import (
        ICMPv6DestUnreach,
        ICMPv6PacketTooBig,
        ICMPv6ParamProblem,
        ICMPv6TimeExceeded,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
    )

    kinds = [(ICMPv6DestUnreach, 1, c) for c in range(9)] + [(ICMPv6PacketTooBig, 2, 0)]
    kinds += [(ICMPv6TimeExceeded, 3, c) for c in (0, 1)] + [(ICMPv6ParamProblem, 4, c) for c in range(3)]
    t = float(K_T0)
    for cls, icmp_type, code in kinds:
        for offset, sender in ((0, K_TARGET), (1, K_ROUTER)):
            port = 1000 + 100 * icmp_type + 10 * code + offset
            for proto in ("tcp", "udp"):
                if proto == "tcp":
                    probe = IPv6(src=K_SCANNER, dst=K_TARGET) / TCP(sport=40000, dport=port, flags="S",
                                                                    seq=port * 7)
                else:
                    probe = IPv6(src=K_SCANNER, dst=K_TARGET) / UDP(sport=50000, dport=port) / b"probe"
                error = cls(code=code, mtu=1280) if cls is ICMPv6PacketTooBig else cls(code=code)
                yield t, probe
                yield t + 0.001, IPv6(src=sender, dst=K_SCANNER, hlim=60 if offset == 0 else 250) / error / probe
                t += 0.01
    ext_tcp = IPv6(src=K_SCANNER, dst=K_TARGET) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(m=1, id=1) / \
        TCP(sport=40000, dport=2000, flags="S", seq=14000)
    ext_udp = IPv6(src=K_SCANNER, dst=K_TARGET) / IPv6ExtHdrDestOpt() / UDP(sport=50000, dport=2001) / b"probe"
    for probe, code in ((ext_tcp, 1), (ext_udp, 4)):
        yield t, probe
        error = IPv6ExtHdrDestOpt() / ICMPv6DestUnreach(code=code) / probe
        yield t + 0.001, IPv6(src=K_TARGET, dst=K_SCANNER, hlim=60) / error
        t += 0.01


def write_icmp6_kinds(path: Path = ICMP6_KINDS_PCAP) -> None:
    """A raw-IPv6 (LINKTYPE_IPV6) pcap of icmp6_kinds_packets(); deterministic bytes."""
    import struct as _struct

    with open(path, "wb") as out:
        out.write(_struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 229))
        for t, packet in icmp6_kinds_packets():
            data = bytes(packet)  # type: ignore[call-overload]
            sec = int(t)
            out.write(_struct.pack("<IIII", sec, round((t - sec) * 1e6), len(data), len(data)) + data)


def main() -> None:
    names = sys.argv[1:] or [*RECORDINGS, *LOOP_RECORDINGS, ICMP6_KINDS_PCAP.stem]
    if ICMP6_KINDS_PCAP.stem in names:
        write_icmp6_kinds()
        print(f"{ICMP6_KINDS_PCAP.name}: written")
        names.remove(ICMP6_KINDS_PCAP.stem)
    if not names:
        return
    reason = lab_unavailable_reason()
    if reason:
        raise SystemExit(f"cannot build the lab: {reason}")
    tools = {"tcpdump", "nmap"} | ({"masscan", "hping3"} if set(names) & set(RECORDINGS) else set())
    for tool in sorted(tools):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install -y {tool})")
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            if name in LOOP_RECORDINGS:
                ok = any(record_loop_once(name, LOOP_RECORDINGS[name], Path(tmp)) for _ in range(TRIES))
            else:
                ok = any(record_once(name, RECORDINGS[name], Path(tmp)) for _ in range(TRIES))
            if not ok:
                raise SystemExit(f"{name}: no good recording in {TRIES} tries")


if __name__ == "__main__":
    main()
