"""Re-record the lab scans in pcaps/ (as root: python tests/record_pcaps.py [NAME...]).

Each recording is a live scan of the namespace lab with --pcap; it is kept only when the live
result equals the lab's ground truth, and that result is written beside it as the expectation.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lab import Lab, LabSpec, lab_unavailable_reason  # noqa: E402
from lab_layouts import SYN_SMALL, UDP_1024, UDP_RATE_LIMITED, SynLayout, UdpLayout  # noqa: E402
from rawscan_cli import port_states, rawscan_command, read_jsonl  # noqa: E402

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
SMALL_UDP = UdpLayout(  # UDP_1024's kinds on fewer ports, to keep the file small
    ports=tuple(range(1, 201)) + (1900, 5000), dns=True, open=(7, 1900, 5000), drop=(81, 161),
    admin=(82, 123), host=(83, 137),
)
# name -> command, layout, lab spec, seed
RECORDINGS: dict[str, tuple[str, SynLayout | UdpLayout, LabSpec, int]] = {
    "syn-every-reply-kind": ("syn", SYN_SMALL, SYN_SMALL.spec(), 1001),
    "syn-loss10": ("syn", SYN_SMALL, SYN_SMALL.spec(loss_percent=10), 1002),
    "udp-every-reply-kind": ("udp", SMALL_UDP, SMALL_UDP.spec(), 1003),
    "udp-icmp-rate-limited": ("udp", UDP_RATE_LIMITED, UDP_RATE_LIMITED.spec(lift_icmp_ratelimit=False), 1004),
}


def port_list(layout: SynLayout | UdpLayout) -> str:
    if isinstance(layout, SynLayout):
        return f"{layout.ports.start}-{layout.ports.stop - 1}"
    return layout.port_list()


def record(name: str, command: str, layout: SynLayout | UdpLayout, spec: LabSpec, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Lab(spec) as lab:
        capture, out = Path(tmp) / f"{name}.pcap", Path(tmp) / "out.jsonl"
        proc = lab.exec_scanner([rawscan_command(), command, lab.target_ip, "-p", port_list(layout),
                                 "--seed", str(seed), "--pcap", str(capture), "-oJ", str(out)])
        print(proc.stdout)
        if proc.returncode != 0 or port_states(read_jsonl(out)) != layout.expected():
            raise SystemExit(f"{name}: live result differs from the lab's ground truth: {proc.stderr}")
        shutil.copy(capture, PCAPS / f"{name}.pcap")
        shutil.copy(f"{capture}.json", PCAPS / f"{name}.pcap.json")
        shutil.copy(out, PCAPS / f"{name}.expected.jsonl")


def main() -> None:
    reason = lab_unavailable_reason()
    if reason:
        raise SystemExit(f"cannot build the lab: {reason}")
    PCAPS.mkdir(exist_ok=True)
    only = set(sys.argv[1:])
    for name, (command, layout, spec, seed) in RECORDINGS.items():
        if not only or name in only:
            record(name, command, layout, spec, seed)


if __name__ == "__main__":
    main()
