"""Re-record the lab scans in pcaps/ (run as root: python tests/record_pcaps.py).

Each recording is a live scan of the namespace lab with --pcap; it is kept only when the live
result equals the lab's ground truth, and that result is written beside it as the expectation.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lab import Lab, lab_unavailable_reason  # noqa: E402
from lab_layouts import SYN_SMALL, SynLayout  # noqa: E402
from rawscan_cli import port_states, rawscan_command, read_jsonl  # noqa: E402

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
RECORDINGS: dict[str, tuple[SynLayout, int, int]] = {  # name -> layout, loss %, seed
    "syn-every-reply-kind": (SYN_SMALL, 0, 1001),
    "syn-loss10": (SYN_SMALL, 10, 1002),
}


def record(name: str, layout: SynLayout, loss: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Lab(layout.spec(loss_percent=loss)) as lab:
        capture, out = Path(tmp) / f"{name}.pcap", Path(tmp) / "out.jsonl"
        ports = f"{layout.ports.start}-{layout.ports.stop - 1}"
        proc = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", ports, "--seed",
                                 str(seed), "--pcap", str(capture), "-oJ", str(out)])
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
    for name, (layout, loss, seed) in RECORDINGS.items():
        record(name, layout, loss, seed)


if __name__ == "__main__":
    main()
