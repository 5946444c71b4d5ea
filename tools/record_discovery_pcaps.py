"""Re-record pcaps/analyze-nmap-sn.* (as root: python -m tools.record_discovery_pcaps): nmap -sn
of every host of tests/support/lab_discovery.py, IPv4 then IPv6, captured with tcpdump in the scanner
namespace, kept with nmap's XML only when nmap's verdicts are the lab's (up or down per host).

nmap runs with --send-ip: on a directly connected subnet it would otherwise ask by ARP only,
which an IP capture analysis does not see (rawscan analyze reads IP packets)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.lab import lab_unavailable_reason
from tests.support.lab_discovery import EXPECTED, EXPECTED6, DiscoveryLab

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
NAME = "analyze-nmap-sn"
TRIES = 3


def nmap_host_states(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    states = {}
    for host in root.iter("host"):
        address = next(a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6"))
        states[str(address)] = str(host.find("status").get("state"))  # type: ignore[union-attr]
    return states


def record_once(tmp: Path) -> bool:
    capture = tmp / f"{NAME}.pcap"
    with DiscoveryLab() as lab:
        dump = subprocess.Popen(["ip", "netns", "exec", lab.scanner_ns, "tcpdump", "-i",
                                 lab.scanner_iface, "-s", "256", "-U", "-w", str(capture)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        xml4, xml6 = tmp / "4.xml", tmp / "6.xml"
        for hosts, out, extra in ((EXPECTED, xml4, []), (EXPECTED6, xml6, ["-6"])):
            r = lab.exec_scanner(["nmap", "-sn", "-n", "-v", "--send-ip", *extra, "-oX", str(out),
                                  *hosts], timeout=120)
            if r.returncode:
                raise SystemExit(f"nmap failed: {r.stderr}")
        time.sleep(0.5)
        dump.terminate()
        dump.wait(10)
    want = {ip: s for ip, (s, _r) in {**EXPECTED, **EXPECTED6}.items()}
    got = {**nmap_host_states(xml4), **nmap_host_states(xml6)}
    if got != want:
        print(f"nmap's verdicts differ from the lab's: {got}", file=sys.stderr)
        return False
    shutil.copy(capture, PCAPS / f"{NAME}.pcap")
    shutil.copy(xml4, PCAPS / f"{NAME}.nmap4.xml")
    shutil.copy(xml6, PCAPS / f"{NAME}.nmap6.xml")
    return True


def main() -> None:
    reason = lab_unavailable_reason()
    if reason or shutil.which("nmap") is None or shutil.which("tcpdump") is None:
        raise SystemExit(f"cannot record: {reason or 'needs nmap and tcpdump'}")
    for _ in range(TRIES):
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp).chmod(0o777)  # tcpdump may write as another user
            if record_once(Path(tmp)):
                return
    raise SystemExit("no recording matched the lab")


if __name__ == "__main__":
    main()
