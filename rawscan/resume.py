"""Resume files: what an interrupted scan had learned, so `rawscan resume FILE` can finish it.

The file holds the scan's plan (the same JSON as a --pcap sidecar: targets, ports, seed,
options) and one bit per endpoint that already has a reported result. The resumed run probes
only the others, so the union of both runs' results is the whole scan, port for port.
"""

from __future__ import annotations

import base64
import json
import zlib

from .errors import RawscanError
from .plan import ScanPlan

DEFAULT_PATH = "rawscan.resume"


def resume_document(plan: ScanPlan, decided: bytes) -> str:
    done = base64.b64encode(zlib.compress(decided)).decode()
    # the plan stays JSON text inside: ScanPlan.from_json keeps its own format checks
    return json.dumps({"rawscan_resume": 1, "plan": plan.to_json(), "done": done}) + "\n"


def write_resume(path: str, plan: ScanPlan, decided: bytes, force: bool = False) -> None:
    from .output.files import open_binary_output

    with open_binary_output(path, "resume", force=force) as f:
        f.write(resume_document(plan, decided).encode())


def load_resume(path: str) -> tuple[ScanPlan, bytes]:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(64 * 1024 * 1024))
        if not isinstance(data, dict) or data.get("rawscan_resume") != 1:
            raise ValueError("not a rawscan resume file")
        plan = ScanPlan.from_json(str(data["plan"]), path)
        decided = zlib.decompress(base64.b64decode(str(data["done"]), validate=True))
    except OSError as exc:
        raise RawscanError(f"cannot read resume file '{path}': {exc.strerror}") from None
    except RawscanError:
        raise
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise RawscanError(f"'{path}' is not a usable rawscan resume file ({exc})") from None
    if len(decided) != (len(plan.targets) * len(plan.ports) + 7) // 8:
        raise RawscanError(f"'{path}' is damaged: its progress does not match its scan")
    return plan, decided
