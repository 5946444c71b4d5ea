"""The namespace lab itself, checked with plain sockets (no rawscan involved)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.lab import Lab, LabError, LabSpec, nft_ruleset
from tests.support.lab_layouts import SYN_DUAL, UDP_DUAL, SynLayout, UdpLayout
from tests.support.lab_services import UDP_REPLY_PREFIX
from tests.support.tool_reports import nmap_xml_states

pytestmark = pytest.mark.live

# Each snippet runs in the scanner namespace and prints one JSON object.
TCP_CONNECT = r"""
import errno, json, socket, sys, time
out = {}
for port in map(int, sys.argv[2].split(",")):
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
    s.settimeout(1.0)
    t = time.monotonic()
    try:
        s.connect((sys.argv[1], port))
        what = "connected"
    except TimeoutError:
        what = "timeout"
    except OSError as e:
        what = errno.errorcode.get(e.errno, str(e.errno))
    out[port] = [what, round(time.monotonic() - t, 3)]
    s.close()
print(json.dumps(out))
"""

UDP_PROBE = r"""
import errno, json, socket, sys, time
out = {}
for port in map(int, sys.argv[2].split(",")):
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((sys.argv[1], port))  # connected, so ICMP errors reach this socket
    try:
        s.send(b"probe")
        what = s.recv(100).decode()
    except TimeoutError:
        what = "timeout"
    except OSError as e:
        what = errno.errorcode.get(e.errno, str(e.errno))
    out[port] = what
    s.close()
print(json.dumps(out))
"""

UDP_BURST = r"""
import json, socket, sys, time
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    s.sendto(b"%d" % i, (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.001)
s.settimeout(0.5)
got = set()
try:
    while True:
        got.add(s.recv(100))
except TimeoutError:
    pass
print(json.dumps(sorted(g.decode() for g in got)))
"""

ICMP_BURST = r"""
import json, socket, sys, time
socks = []
for _ in range(int(sys.argv[3])):  # one socket each: ICMP errors are counted per socket
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.send(b"x")
    socks.append(s)
time.sleep(0.5)
errors = sum(1 for s in socks if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
print(json.dumps(errors))
"""

CHECKSUMS = r"""
import json, socket, struct, sys, time
target, tcp_port, udp_port, iface = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
cap.bind((iface, 0))
cap.settimeout(0.3)
socket.create_connection((target, tcp_port), timeout=2).close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(b"sum", (target, udp_port))
u.recv(100)

def folded(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total  # 0xFFFF when the embedded checksum is right

seen = []
while True:
    try:
        ip = cap.recv(65535)[14:]
    except TimeoutError:
        break
    if socket.inet_ntoa(ip[12:16]) != target:
        continue
    ihl, total = (ip[0] & 15) * 4, struct.unpack("!H", ip[2:4])[0]
    seg = ip[ihl:total]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, ip[9], len(seg))
    seen.append([ip[9], folded(ip[:ihl]) == 0xFFFF, folded(pseudo + seg) == 0xFFFF])
print(json.dumps(seen))
"""

# Connects (TCP) or sends (UDP) to each "proto/port", then lists every ICMP or ICMPv6 error
# that came back as (type, code, sender) under the protocol and port it quotes.
ICMP_ERRORS = r"""
import errno, json, socket, struct, sys
target = sys.argv[1]
v6 = ":" in target
fam = socket.AF_INET6 if v6 else socket.AF_INET
raw = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
outcome = {}
for item in sys.argv[2].split(","):
    proto, port = item.split("/")
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        s.connect((target, int(port)))
        if proto == "udp":
            s.send(b"probe")
            s.recv(100)
        what = "answered"
    except TimeoutError:
        what = "timeout"
    except OSError as e:
        what = errno.errorcode.get(e.errno, str(e.errno))
    s.close()
    outcome[item] = what
icmp = {}
raw.settimeout(0.3)
while True:
    try:
        data, peer = raw.recvfrom(2048)
    except TimeoutError:
        break
    if not v6:
        data = data[(data[0] & 15) * 4:]  # an IPv4 raw socket hands over the IP header too
    kind, code, quoted = data[0], data[1], data[8:]
    if v6:
        if kind >= 128 or len(quoted) < 44:
            continue  # informational (neighbour discovery, MLD), not an error
        next_header, l4 = quoted[6], quoted[40:]
    else:
        if kind not in (3, 11) or len(quoted) < 24:
            continue
        next_header, l4 = quoted[9], quoted[(quoted[0] & 15) * 4:]
    proto = {6: "tcp", 17: "udp"}.get(next_header, str(next_header))
    icmp[f"{proto}/{struct.unpack('!H', l4[2:4])[0]}"] = [kind, code, peer[0]]
print(json.dumps({"outcome": outcome, "icmp": icmp}))
"""

CHECKSUMS6 = r"""
import json, socket, struct, sys
target, tcp_port, udp_port, iface = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
cap.bind((iface, 0))
cap.settimeout(0.3)
socket.create_connection((target, tcp_port), timeout=2).close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(b"sum", (target, udp_port))
u.recv(100)

def folded(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total

seen = []
want = socket.inet_pton(socket.AF_INET6, target)
while True:
    try:
        ip = cap.recv(65535)[14:]
    except TimeoutError:
        break
    if ip[8:24] != want or ip[6] not in (6, 17):
        continue
    seg = ip[40:40 + struct.unpack("!H", ip[4:6])[0]]
    pseudo = ip[8:40] + struct.pack("!IxxxB", len(seg), ip[6])
    seen.append([ip[6], folded(pseudo + seg) == 0xFFFF])
print(json.dumps(seen))
"""

# A DNS query for AAAA (or A) lab.test, sent to the target's dnsmasq; prints the answer's
# last address.
DNS_QUERY = r"""
import json, socket, struct, sys
target, qtype = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in target else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x03lab\x04test\x00"
         + struct.pack("!HH", qtype, 1), (target, 53))
reply = s.recv(512)
size = 16 if qtype == 28 else 4
answers = struct.unpack("!H", reply[6:8])[0]
family = socket.AF_INET6 if qtype == 28 else socket.AF_INET
print(json.dumps([answers, socket.inet_ntop(family, reply[-size:])]))
"""


def run_snippet(lab: Lab, code: str, *args: str, family: int = 4) -> Any:
    """Run code in the scanner namespace with the target's address of that family first."""
    r = lab.exec_scanner([sys.executable, "-c", code, lab.target_address(family), *args],
                         timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def our_namespaces(lab: Lab) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    return sorted(names & {lab.scanner_ns, lab.target_ns})


def test_tcp_open_dropped_rejected_and_closed(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(
        LabSpec(open_tcp=[22, 80], drop_tcp=[81], reject_admin_tcp=[82], reject_host_tcp=[83])
    )
    out = run_snippet(lab, TCP_CONNECT, "22,80,81,82,83,84")
    assert isinstance(out, dict)
    assert {port: what for port, (what, _) in out.items()} == {
        "22": "connected",
        "80": "connected",
        "81": "timeout",  # dropped: silence
        "82": "EHOSTUNREACH",  # ICMP 3/13, admin prohibited
        "83": "EHOSTUNREACH",  # ICMP 3/10, host prohibited
        "84": "ECONNREFUSED",  # closed: the kernel's RST
    }
    assert all(seconds < 0.5 for port, (_, seconds) in out.items() if port != "81")


def test_udp_open_dropped_rejected_and_closed(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(
        LabSpec(open_udp=[53], drop_udp=[54], reject_admin_udp=[55], reject_host_udp=[56])
    )
    assert run_snippet(lab, UDP_PROBE, "53,54,55,56,57") == {
        "53": UDP_REPLY_PREFIX.decode() + "probe",
        "54": "timeout",
        "55": "EHOSTUNREACH",
        "56": "EHOSTUNREACH",
        "57": "ECONNREFUSED",  # closed: ICMP port unreachable
    }


def test_captured_replies_carry_real_checksums(make_lab: Callable[..., Lab]) -> None:
    # veth leaves checksums to an offload that never happens; the lab turns it off so a
    # packet-level scanner sees what a real NIC would deliver.
    lab = make_lab(LabSpec(open_tcp=[22], open_udp=[53]))
    seen = run_snippet(lab, CHECKSUMS, "22", "53", lab.scanner_iface)
    assert isinstance(seen, list)
    assert {proto for proto, _, _ in seen} == {6, 17}
    assert all(ip_ok and l4_ok for _, ip_ok, l4_ok in seen), seen


@pytest.mark.parametrize("family", [4, 6])
def test_reply_loss(make_lab: Callable[..., Lab], family: int) -> None:
    lossless = make_lab(LabSpec(open_udp=[7000]))
    lossy = make_lab(LabSpec(open_udp=[7000], reply_loss_percent=50))
    assert len(run_snippet(lossless, UDP_BURST, "7000", "100", family=family)) == 100
    came_back = len(run_snippet(lossy, UDP_BURST, "7000", "100", family=family))
    assert 20 <= came_back <= 80  # binomial(100, 0.5): outside this is ~1e-9


@pytest.mark.parametrize("family", [4, 6])
def test_icmp_rate_limit_is_lifted(make_lab: Callable[..., Lab], family: int) -> None:
    lifted = make_lab(LabSpec(reject_admin_udp=[55]))
    limited = make_lab(LabSpec(reject_admin_udp=[55], lift_icmp_ratelimit=False))
    assert run_snippet(lifted, ICMP_BURST, "55", "300", family=family) == 300
    suppressed = run_snippet(limited, ICMP_BURST, "55", "300", family=family)
    assert isinstance(suppressed, int) and suppressed < 150  # the kernel's default limits bite


def test_thousands_of_listeners(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(LabSpec(open_tcp=range(20000, 23000), open_udp=range(30000, 31000)))
    out = run_snippet(lab, TCP_CONNECT, "20000,21500,22999,23000")
    assert {port: what for port, (what, _) in out.items()} == {
        "20000": "connected",
        "21500": "connected",
        "22999": "connected",
        "23000": "ECONNREFUSED",
    }
    assert run_snippet(lab, UDP_PROBE, "30999") == {"30999": UDP_REPLY_PREFIX.decode() + "probe"}
    out6 = run_snippet(lab, TCP_CONNECT, "20000,22999", family=6)  # both families listen
    assert {port: what for port, (what, _) in out6.items()} == {"20000": "connected", "22999": "connected"}
    assert run_snippet(lab, UDP_PROBE, "30000", family=6) == {"30000": UDP_REPLY_PREFIX.decode() + "probe"}


def test_isolated_and_torn_down() -> None:
    with Lab(LabSpec(open_tcp=[22])) as lab:
        helper = lab._helper
        assert helper is not None and helper.poll() is None
        assert our_namespaces(lab) == sorted([lab.scanner_ns, lab.target_ns])
        for ns in (lab.scanner_ns, lab.target_ns):
            route = subprocess.run(
                ["ip", "-n", ns, "route", "show", "default"], capture_output=True, text=True
            )
            assert route.stdout.strip() == ""  # no way out of the lab
            route6 = subprocess.run(
                ["ip", "-n", ns, "-6", "route", "show", "default"], capture_output=True, text=True
            )
            assert route6.stdout.strip() == ""
        links = lab.exec_scanner(["ip", "-o", "link"]).stdout
        assert sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()) == [
            "lo",
            lab.scanner_iface,
        ]
    assert helper.poll() is not None
    assert our_namespaces(lab) == []
    root = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert "198.18." not in root and "2001:2:" not in root


def test_failed_setup_leaves_nothing() -> None:
    lab = Lab(LabSpec(open_tcp=[22, 22]))  # the helper cannot bind 22 twice
    with pytest.raises(LabError, match="cannot bind tcp/22"), lab:
        pass
    assert our_namespaces(lab) == []


def test_spec_is_validated() -> None:
    with pytest.raises(ValueError):
        LabSpec(open_tcp=[0])
    with pytest.raises(ValueError):
        LabSpec(reply_loss_percent=101)


# --- IPv6: the same lab over the other family ---

EVERY_KIND = LabSpec(
    open_tcp=[22], drop_tcp=[81], reject_admin_tcp=[82], reject_host_tcp=[83],
    reject_port_tcp=[85], open_udp=[53], drop_udp=[54], reject_admin_udp=[55],
    reject_host_udp=[56], reject_port_udp=[58],
)
EVERY_ITEM = "tcp/22,tcp/81,tcp/82,tcp/83,tcp/84,tcp/85,udp/53,udp/54,udp/55,udp/56,udp/57,udp/58"
# (ICMP type, code) per family: 3/13 admin, 3/10 host prohibited, 3/3 port unreachable;
# ICMPv6 1/1 admin prohibited, 1/3 address unreachable, 1/4 port unreachable.
ICMP_FOR = {
    4: {"admin": [3, 13], "host": [3, 10], "port": [3, 3]},
    6: {"admin": [1, 1], "host": [1, 3], "port": [1, 4]},
}


@pytest.mark.parametrize("family", [4, 6])
def test_every_group_gives_its_icmp_error_in_both_families(
    make_lab: Callable[..., Lab], family: int
) -> None:
    lab = make_lab(EVERY_KIND)
    got = run_snippet(lab, ICMP_ERRORS, EVERY_ITEM, family=family)
    codes, sender = ICMP_FOR[family], lab.target_address(family)
    assert got["icmp"] == {
        "tcp/82": [*codes["admin"], sender],
        "tcp/83": [*codes["host"], sender],
        "tcp/85": [*codes["port"], sender],  # the firewall's, for a TCP port
        "udp/55": [*codes["admin"], sender],
        "udp/56": [*codes["host"], sender],
        "udp/57": [*codes["port"], sender],  # the kernel's: a closed UDP port
        "udp/58": [*codes["port"], sender],  # the firewall's
    }
    outcome = got["outcome"]  # how the socket API sees the rejects differs by family
    assert {k: outcome[k] for k in ("tcp/22", "tcp/81", "tcp/84", "udp/53", "udp/54", "udp/57")} == {
        "tcp/22": "answered", "tcp/81": "timeout", "tcp/84": "ECONNREFUSED",  # RST
        "udp/53": "answered", "udp/54": "timeout", "udp/57": "ECONNREFUSED",
    }


def test_ipv6_tcp_and_udp_services_answer(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(LabSpec(open_tcp=[22, 80], drop_tcp=[81], open_udp=[53]))
    out = run_snippet(lab, TCP_CONNECT, "22,80,81,84", family=6)
    assert {port: what for port, (what, _) in out.items()} == {
        "22": "connected", "80": "connected", "81": "timeout", "84": "ECONNREFUSED"}
    assert run_snippet(lab, UDP_PROBE, "53,57", family=6) == {
        "53": UDP_REPLY_PREFIX.decode() + "probe", "57": "ECONNREFUSED"}


def test_ipv6_replies_carry_real_checksums(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(LabSpec(open_tcp=[22], open_udp=[53]))
    seen = run_snippet(lab, CHECKSUMS6, "22", "53", lab.scanner_iface, family=6)
    assert {proto for proto, _ in seen} == {6, 17}
    assert all(ok for _, ok in seen), seen


def test_dns_server_answers_over_both_families(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(LabSpec(dns_server=True))
    for family in (4, 6):
        assert run_snippet(lab, DNS_QUERY, "1", family=family) == [1, lab.target_ip]
        assert run_snippet(lab, DNS_QUERY, "28", family=family) == [1, lab.target_ip6]


def test_ipv6_routes_sources_and_extra_addresses(make_lab: Callable[..., Lab]) -> None:
    extra = ["198.18.0.11", "2001:2::11", "2001:2::12"]
    lab = make_lab(LabSpec(open_udp=[53], scanner_extra_ips=extra))
    for ns in (lab.scanner_ns, lab.target_ns):
        for family in ("-4", "-6"):
            default = subprocess.run(["ip", "-n", ns, family, "route", "show", "default"],
                                     capture_output=True, text=True)
            assert default.stdout.strip() == ""  # no way out of the lab, in either family
    route = json.loads(lab.exec_scanner(["ip", "-j", "-6", "route", "get", lab.target_ip6]).stdout)
    assert route[0]["dev"] == lab.scanner_iface and "gateway" not in route[0]
    addrs = json.loads(lab.exec_scanner(["ip", "-j", "-6", "addr", "show", "dev",
                                         lab.scanner_iface]).stdout)
    local = {a["local"] for a in addrs[0]["addr_info"]}
    assert local == {lab.scanner_ip6, "2001:2::11", "2001:2::12"}  # no link-local chatter source
    # the kernel's choice of source (what rawscan uses without -S) stays the main address,
    # and an extra one works when bound explicitly (as -S does)
    code = (
        "import json, socket, sys\n"
        "from rawscan.sources import sources_for\n"
        "from rawscan.addresses import addr_to_str\nfrom rawscan.targets import parse_targets\n"
        "chosen = [addr_to_str(a) for a in sources_for(parse_targets(sys.argv[1:3]))]\n"
        "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "s.bind(('2001:2::12', 0))\n"
        "s.settimeout(2)\n"
        "s.sendto(b'hi', (sys.argv[2], 53))\n"
        "print(json.dumps([chosen, s.recv(100).decode()]))\n"
    )
    r = lab.exec_scanner([sys.executable, "-c", code, lab.target_ip, lab.target_ip6])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [[lab.scanner_ip, lab.scanner_ip6],
                                    UDP_REPLY_PREFIX.decode() + "hi"]


def test_ipv4_only_lab_has_no_ipv6() -> None:
    with Lab(LabSpec(open_tcp=[22], ipv6=False)) as lab:
        addrs = lab.exec_scanner(["ip", "-6", "-o", "addr"]).stdout
        assert addrs.strip() == ""
        with pytest.raises(LabError, match="no IPv6"):
            lab.target_address(6)
        assert run_snippet(lab, TCP_CONNECT, "22")["22"][0] == "connected"


def test_nft_rules_cover_both_families() -> None:
    rules = nft_ruleset(EVERY_KIND)
    assert "tcp dport { 81 } drop" in rules and "udp dport { 54 } drop" in rules
    for proto, port in (("tcp", 82), ("udp", 55)):
        assert f"meta nfproto ipv4 {proto} dport {{ {port} }} reject with icmp type admin-prohibited" in rules
        assert f"meta nfproto ipv6 {proto} dport {{ {port} }} reject with icmpv6 type admin-prohibited" in rules
    assert "reject with icmpv6 type addr-unreachable" in rules
    assert "reject with icmpv6 type port-unreachable" in rules
    lossy = nft_ruleset(LabSpec(reply_loss_percent=5))
    assert "ip daddr 198.18.0.1 numgen random mod 100 < 5 drop" in lossy
    assert "ip6 daddr 2001:2::1 numgen random mod 100 < 5 drop" in lossy
    assert "ip6" not in nft_ruleset(LabSpec(reply_loss_percent=5, ipv6=False))


def test_nft_reply_policer_text() -> None:
    policed = nft_ruleset(LabSpec(reply_rate_limit=20000)).splitlines()
    output = [line.strip() for line in policed[policed.index("  chain output {") + 2:-2]]
    assert output == [
        "ip daddr 198.18.0.1 limit rate over 20000/second drop",
        "ip6 daddr 2001:2::1 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
        "ip6 daddr 2001:2::1 limit rate over 20000/second drop",
    ]
    both = nft_ruleset(LabSpec(reply_loss_percent=5, reply_rate_limit=100, ipv6=False))
    assert both.index("numgen random mod 100 < 5 drop") < both.index("limit rate over 100/second")
    assert "ip6" not in both and "limit" not in nft_ruleset(LabSpec())
    with pytest.raises(ValueError):
        LabSpec(reply_rate_limit=-1)


@pytest.mark.parametrize("family", [4, 6])
def test_reply_policer(make_lab: Callable[..., Lab], family: int) -> None:
    # 200 replies asked for over >= 0.2 s; a 50/s policer (burst 5) lets ~15-30 through, and
    # more than 120 only if the burst took over 2 s
    lab = make_lab(LabSpec(open_udp=[7000], reply_rate_limit=50))
    came_back = len(run_snippet(lab, UDP_BURST, "7000", "200", family=family))
    assert 1 <= came_back <= 120


@pytest.mark.skipif(shutil.which("nmap") is None, reason="needs nmap (apt-get install nmap)")
@pytest.mark.parametrize("layout, scan", [(SYN_DUAL, "-sS"), (UDP_DUAL, "-sU")], ids=["syn", "udp"])
def test_nmap_agrees_with_the_dual_stack_layouts(
    make_lab: Callable[..., Lab], tmp_path: Path, layout: SynLayout | UdpLayout, scan: str
) -> None:
    # An independent scanner over both families: the layouts' ground truth, reasons included,
    # is what the network really does (states equal per family, reasons per family's ICMP).
    lab = make_lab(layout.spec())
    ports = "1-300" if isinstance(layout, SynLayout) else layout.port_list()
    for family in (4, 6):
        out = tmp_path / f"nmap{family}.xml"
        r = lab.exec_scanner(["nmap", f"-{family}", "-n", "-Pn", scan, "--reason", "-p", ports,
                              "-e", lab.scanner_iface, "-oX", str(out),
                              lab.target_address(family)], timeout=300)
        assert r.returncode == 0, r.stderr
        got = {port: verdict for (_proto, port), verdict in nmap_xml_states(out).items()}
        assert got == layout.expected(family), family
    assert ({p: s for p, (s, _) in layout.expected(4).items()}
            == {p: s for p, (s, _) in layout.expected(6).items()})


def test_target_name_resolves_per_family_in_the_scanner(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(LabSpec())
    code = (
        "import json, sys\n"
        "from rawscan.addresses import addr_to_str\nfrom rawscan.targets import parse_targets\n"
        "print(json.dumps({f: [addr_to_str(a) for a in parse_targets([sys.argv[1]], family=f)]\n"
        "                  for f in ('4', '6', 'all')}))\n"
    )
    r = lab.exec_scanner([sys.executable, "-c", code, lab.target_name])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"4": [lab.target_ip], "6": [lab.target_ip6],
                                    "all": [lab.target_ip, lab.target_ip6]}
    scanner_etc = Path("/etc/netns", lab.scanner_ns)
    assert scanner_etc.is_dir()
    lab.close()
    assert not scanner_etc.exists()  # the overlay goes with the namespace
