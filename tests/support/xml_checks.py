"""Checking XML output the way users' tools read it: nmap's DTD, python-libnmap and ndiff.

Each check skips (with the package to install) when its tool is missing; CI installs them all.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

NMAP_DTD = Path("/usr/share/nmap/nmap.dtd")  # Debian's nmap-common; never copied into the repo


def assert_valid_against_dtd(path: Path) -> None:
    if not NMAP_DTD.exists():
        pytest.skip(f"{NMAP_DTD} missing (apt-get install nmap-common)")
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint missing (apt-get install libxml2-utils)")
    proc = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(NMAP_DTD), str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def libnmap_report(path: Path) -> Any:
    parser = pytest.importorskip("libnmap.parser", reason="pip install python-libnmap")
    return parser.NmapParser.parse_fromfile(str(path))


def ndiff(a: Path, b: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run nmap's ndiff; exit 0 equal, 1 different, 2 error (it could not read a file)."""
    if shutil.which("ndiff") is None:
        pytest.skip("ndiff missing (apt-get install ndiff)")
    return subprocess.run(["ndiff", *extra, str(a), str(b)], capture_output=True, text=True,
                          timeout=60)


def ndiff_state_differences(a: Path, b: Path) -> list[str]:
    """Ports whose state ndiff says differs, plus host state or extraports changes, from its
    XML output; service-name and address differences are not counted."""
    proc = ndiff(a, b, "--xml")
    assert proc.returncode in (0, 1), proc.stderr
    root = ET.fromstring(proc.stdout)
    found = []
    for portdiff in root.iter("portdiff"):
        if portdiff.find("port") is not None:
            continue  # one <port> for both sides: same state, only the service may differ
        sides = {side: portdiff.find(f"{side}/port") for side in ("a", "b")}
        states = {side: None if p is None else p.find("state").get("state")  # type: ignore[union-attr]
                  for side, p in sides.items()}
        if states["a"] != states["b"]:
            port = next(p for p in sides.values() if p is not None)
            found.append(f"{port.get('portid')}/{port.get('protocol')}: {states['a']} -> {states['b']}")
    for side in ("a", "b"):
        for element in root.iter(side):
            if element.find("status") is not None or element.find("extraports") is not None:
                found.append(f"host state or extraports differ ({side})")
    return found
