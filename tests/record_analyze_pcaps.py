"""Re-record the captures that `rawscan analyze` is checked against (as root:
python tests/record_analyze_pcaps.py [NAME...]).

Each is a scan of the namespace lab by a tool that is not rawscan (nmap, masscan, hping3),
captured with tcpdump inside the scanner namespace, and kept with the tool's own report beside
it only when that report matches the lab's ground truth (tools drop replies now and then: a
mismatch is retried). Needs nmap, masscan, hping3 and tcpdump (apt-get install -y nmap masscan
hping3 tcpdump).
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from analyze_tools import hping3_states, masscan_json_states, nmap_xml_states  # noqa: E402
from lab import TARGET_IP, Lab, LabSpec, lab_unavailable_reason  # noqa: E402
from lab_layouts import SYN_SMALL  # noqa: E402

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


def _target_mac(lab: Lab) -> str:
    return lab.exec_target(["cat", f"/sys/class/net/{lab.target_iface}/address"]).stdout.strip()


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
                          "--interface", lab.scanner_iface, "--router-mac", _target_mac(lab),
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
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, "tcpdump", "-i", iface, "-n", "-U", "-w",
         str(capture), "ip"],
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
    with Lab(LAB) as lab:
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


def main() -> None:
    reason = lab_unavailable_reason()
    if reason:
        raise SystemExit(f"cannot build the lab: {reason}")
    for tool in ("tcpdump", "nmap", "masscan", "hping3"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install -y {tool})")
    names = sys.argv[1:] or list(RECORDINGS)
    for name in names:
        rec = RECORDINGS[name]
        with tempfile.TemporaryDirectory() as tmp:
            if not any(record_once(name, rec, Path(tmp)) for _ in range(TRIES)):
                raise SystemExit(f"{name}: no good recording in {TRIES} tries")


if __name__ == "__main__":
    main()
