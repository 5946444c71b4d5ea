"""rawscan's own captures: FILE.json beside a --pcap recording holds the scan's seed, so each
reply can be checked against the cookie its probe carried, exactly as the live scan did."""

from __future__ import annotations

from pathlib import Path

from ..errors import RawscanError
from ..plan import ScanPlan, sidecar_path
from .flows import SeedCheck


class PlanCheck(SeedCheck):
    """The scan's own probe module validates replies to the scan's source addresses."""

    def __init__(self, plan: ScanPlan) -> None:
        from ..scan import (
            probe_for,  # Scapy builds the probe template: only for rawscan captures
        )

        self.plan = plan
        self._probe = probe_for(plan)
        self.proto = self._probe.proto
        self.sources = frozenset(plan.sources)

    def valid(self, packet: bytes, target: int, port: int) -> bool:
        reply = self._probe.parse_reply(packet)
        ok = reply is not None and reply.target == target and reply.port == port
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    passed = 0  # replies to the scan's sources that carried its cookies
    failed = 0  # ... and that did not

    def belongs_elsewhere(self) -> bool:
        """Replies fail wholesale: this is another scan's description (same name, other seed),
        not a few forgeries among real replies."""
        return self.failed >= MISMATCH_MIN_REPLIES and self.passed * 20 < self.failed


MISMATCH_MIN_REPLIES = 5  # fewer failures prove nothing either way


def load_plan(capture: str) -> tuple[ScanPlan | None, str | None]:
    """The scan description beside a capture, if there is one: (plan, None), (None, None) when
    there is none, or (None, warning) when it exists but cannot be used."""
    path = Path(sidecar_path(capture))
    if not path.is_file():
        return None, None
    from ..plan import MAX_SIDECAR, check_replayable

    try:
        if path.stat().st_size > MAX_SIDECAR:
            return None, f"scan description '{path}' is larger than {MAX_SIDECAR:,} bytes; replies not seed-checked"
        plan = ScanPlan.from_json(path.read_text(encoding="utf-8"), str(path))
        check_replayable(plan, str(path))
        return plan, None
    except OSError as exc:
        return None, f"cannot read scan description '{path}': {exc.strerror}; replies not seed-checked"
    except UnicodeDecodeError:
        return None, f"scan description '{path}' is not text; replies not seed-checked"
    except RawscanError as exc:
        return None, f"{exc}; replies not seed-checked"
