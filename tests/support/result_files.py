"""What rawscan's output files hold, read back whatever the format: the ports they list."""

from __future__ import annotations

import json
from pathlib import Path


def results_in(path: Path) -> set[tuple[str, int, str]]:
    """(ip, port, state) of every port a rawscan output lists, whatever its format."""
    import csv
    import xml.etree.ElementTree as ET

    text = path.read_text()
    if path.suffix == ".xml":
        root = ET.fromstring(text)  # also: the document is whole
        return {(h.find("address").get("addr"), int(p.get("portid")), p.find("state").get("state"))
                for h in root.iter("host") for p in h.iter("port")}
    if path.suffix == ".csv":
        return {(r["ip"], int(r["port"]), r["state"]) for r in csv.DictReader(text.splitlines())}
    return {(r["ip"], r["port"], r["state"]) for r in map(json.loads, text.splitlines())}


def open_ports(results: set[tuple[str, int, str]]) -> set[tuple[str, int, str]]:
    return {r for r in results if r[2] == "open"}  # the XML lists only these and the few others
