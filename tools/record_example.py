"""Record examples/ci-replay/staging.pcap (as root: python -m tools.record_example): a SYN
scan of a namespace lab host listening on 22 and 443, every other port closed."""

from __future__ import annotations

from pathlib import Path

from tests.support.lab import Lab, LabSpec, lab_unavailable_reason
from tests.support.rawscan_cli import rawscan_command

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ci-replay"
STAGING = LabSpec(open_tcp=(22, 443), ipv6=False)
COMMAND = ["syn", "198.18.0.2", "-p", "1-1024", "--rate", "5000", "--seed", "2017", "-q"]


def record(lab: Lab, pcap: Path) -> None:
    """From pcap's directory, so the sidecar's command line names it as the user would."""
    proc = lab.exec_scanner([rawscan_command(), *COMMAND, "--pcap", pcap.name, "--force"],
                            cwd=pcap.parent)
    if proc.returncode != 0:
        raise SystemExit(f"the scan failed: {proc.stderr}")


def main() -> None:
    reason = lab_unavailable_reason()
    if reason is not None:
        raise SystemExit(f"cannot record: {reason}")
    with Lab(STAGING) as lab:
        record(lab, EXAMPLE / "staging.pcap")
    print(f"recorded {EXAMPLE / 'staging.pcap'}")


if __name__ == "__main__":
    main()
