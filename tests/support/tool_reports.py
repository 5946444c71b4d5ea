"""Reading other tools' own reports (nmap XML, masscan JSON, hping3's output) as port -> state.

Shared by the recorder (tools/record_analyze_pcaps.py), which keeps a capture only when the
tool's report matches the lab's ground truth, and by the tests comparing rawscan analyze to it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from rawscan.plan import expand_ports

PortStates = dict[tuple[str, int], tuple[str, str]]  # (proto, port) -> (state, reason)



def nmap_xml_states(path: Path) -> PortStates:
    """Every port of an nmap -oX report, the collapsed 'extraports' too (nmap >= 7.80 lists them)."""
    root = ET.parse(path).getroot()
    states: PortStates = {}
    for host in root.iter("host"):
        for extra in host.iter("extraports"):
            for why in extra.iter("extrareasons"):
                ports = why.get("ports")
                if ports is None:
                    raise ValueError(f"{path}: extrareasons without a port list (nmap too old)")
                for port in expand_ports(ports):
                    states[(str(why.get("proto")), port)] = (str(extra.get("state")), str(why.get("reason")))
        for port in host.iter("port"):
            state = port.find("state")
            assert state is not None
            key = (str(port.get("protocol")), int(str(port.get("portid"))))
            states[key] = (str(state.get("state")), str(state.get("reason")))
    return states


def masscan_json_states(path: Path) -> dict[tuple[str, int], str]:
    """masscan -oJ --show closed: (proto, port) -> open / closed; ports it never heard from
    are absent (masscan reports no 'filtered')."""
    text = path.read_text().strip()
    records = json.loads(text) if text else []
    states: dict[tuple[str, int], str] = {}
    for record in records:
        for port in record.get("ports", []):
            states[(port["proto"], int(port["port"]))] = port["status"]
    return states


_HPING_LINE = re.compile(r"\bsport=(\d+) flags=([A-Z]+)")


def hping3_states(path: Path) -> dict[tuple[str, int], str]:
    """hping3 -S's reply lines: flags SA -> open, RA (or R) -> closed; silence is absent."""
    states: dict[tuple[str, int], str] = {}
    for line in path.read_text().splitlines():
        m = _HPING_LINE.search(line)
        if m:
            flags = m.group(2)
            states[("tcp", int(m.group(1)))] = "closed" if "R" in flags else "open"
    return states
