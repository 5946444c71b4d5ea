"""The namespace lab itself, checked with plain sockets (no rawscan involved)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from lab import Lab, LabError, LabSpec
from lab_services import UDP_REPLY_PREFIX

pytestmark = pytest.mark.live

# Each snippet runs in the scanner namespace and prints one JSON object.
TCP_CONNECT = r"""
import errno, json, socket, sys, time
out = {}
for port in map(int, sys.argv[2].split(",")):
    s = socket.socket()
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
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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


def run_snippet(lab: Lab, code: str, *args: str) -> Any:
    r = lab.exec_scanner([sys.executable, "-c", code, lab.target_ip, *args], timeout=60)
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


def test_reply_loss(make_lab: Callable[..., Lab]) -> None:
    lossless = make_lab(LabSpec(open_udp=[7000]))
    lossy = make_lab(LabSpec(open_udp=[7000], reply_loss_percent=50))
    assert len(run_snippet(lossless, UDP_BURST, "7000", "100")) == 100
    came_back = len(run_snippet(lossy, UDP_BURST, "7000", "100"))
    assert 20 <= came_back <= 80  # binomial(100, 0.5): outside this is ~1e-9


def test_icmp_rate_limit_is_lifted(make_lab: Callable[..., Lab]) -> None:
    lifted = make_lab(LabSpec(reject_admin_udp=[55]))
    limited = make_lab(LabSpec(reject_admin_udp=[55], lift_icmp_ratelimit=False))
    assert run_snippet(lifted, ICMP_BURST, "55", "300") == 300
    suppressed = run_snippet(limited, ICMP_BURST, "55", "300")
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
        links = lab.exec_scanner(["ip", "-o", "link"]).stdout
        assert sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()) == [
            "lo",
            lab.scanner_iface,
        ]
    assert helper.poll() is not None
    assert our_namespaces(lab) == []
    root = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert "198.18." not in root


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
