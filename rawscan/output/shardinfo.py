"""What a shard's outputs say about its plan (the shard record), and --metadata-file.

The shard record names the plan (fingerprint, seed, shards) and this part of it (shard), plus
what `rawscan merge` needs to write the whole scan's documents (scan type, ports, how many hosts
and endpoints, the command line, the start): JSON Lines carry it as a first record
{"rawscan_shard": {...}}, XML and grepable as a comment, CSV as two columns (plan, shard),
the pcap sidecar in the plan itself.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..plan import ScanPlan, compress_ports

if TYPE_CHECKING:
    from ..engine import ScanStats

SHARD_FORMAT = "rawscan-shard/1"
METADATA_FORMAT = "rawscan-metadata/1"
JSONL_KEY = "rawscan_shard"
XML_COMMENT = "rawscan-shard "
MAX_RECORD_RANGES = 256  # <!-- rawscan-shard {...} -->, "# rawscan-shard {...}"


def shard_record(plan: ScanPlan, proto: str) -> dict[str, Any] | None:
    """The record for a sharded plan's outputs; None for a whole scan (outputs unchanged)."""
    if not plan.shards:
        return None
    from ..shards import fingerprint

    return {
        "format": SHARD_FORMAT,
        "fingerprint": fingerprint(plan),
        "shard": plan.shard,
        "shards": plan.shards,
        "seed": plan.seed,
        "scan": plan.scan,
        "proto": proto,
        "ports": compress_ports(plan.ports),
        "hosts": len(plan.targets),
        "endpoints": len(plan.targets) * len(plan.ports),
        "argv": list(plan.argv),
        "started": plan.started,
        # the targets, for a grepable shard's summarised ports (rawscan merge); left out
        # when they are many (then such a shard gives its listed ports only)
        "targets": ([list(r) for r in plan.targets.ranges]
                    if len(plan.targets.ranges) <= MAX_RECORD_RANGES else None),
        **_sampled(plan),
    }


def _sampled(plan: ScanPlan) -> dict[str, int]:
    """--max-targets: this shard's endpoints in the plan's sample (merge expects that many)."""
    from ..scan import sample_size

    size = sample_size(plan)
    return {} if size is None else {"sampled": size}


def record_text(record: dict[str, Any]) -> str:
    """One line of JSON that may stand in an XML comment (which must hold no "--": JSON allows
    the escape inside strings, and the record's numbers are never negative)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    while "--" in text:
        text = text.replace("--", "-\\u002d")
    return text


def jsonl_line(record: dict[str, Any]) -> str:
    return json.dumps({JSONL_KEY: record}, sort_keys=True, separators=(",", ":")) + "\n"


def csv_cells(record: dict[str, Any]) -> dict[str, str]:
    return {"plan": str(record["fingerprint"]), "shard": f"{record['shard']}/{record['shards']}"}


CSV_FIELDS = ("plan", "shard")


def metadata_document(plan: ScanPlan, proto: str, stats: ScanStats, started: float,
                      exit_state: str) -> str:
    """--metadata-file, in the spirit of zmap's: which shard, and how it went."""
    from ..shards import fingerprint, shard_size

    total = len(plan.targets) * len(plan.ports)
    shards = plan.shards or 1
    planned = shard_size(total, shards, plan.shard) if plan.shards else total
    sampled = _sampled(plan)
    planned = sampled.get("sampled", planned)  # --max-targets: the sample's share
    data: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "shard": plan.shard,
        "shards": shards,
        "seed": plan.seed,
        "fingerprint": fingerprint(plan) if plan.shards else None,
        "scan": plan.scan,
        "endpoints": total,
        "probes_planned": planned,
        "share_of_endpoints": planned / total if total else 0.0,
        "first_round_sent": stats.first_round_sent,
        "first_round_share": stats.first_round_sent / total if total else 0.0,
        "probes_sent": stats.sent - stats.unsent,
        "retransmitted": stats.retransmitted,
        "answered": stats.matched,
        "answered_on_retry": stats.answered_on_retry,
        "unanswered": stats.unanswered,
        "rounds": stats.rounds,
        "drops": {"kernel": stats.kernel_drops, "unsent": stats.unsent,
                  "stray_or_forged": stats.stray, "other_shards": stats.foreign,
                  "duplicates": stats.duplicates},
        "estimated_reply_loss": stats.estimated_loss,
        "start": started,
        "end": started + stats.elapsed,
        "start_text": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "end_text": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started + stats.elapsed)),
        "elapsed": stats.elapsed,
        "rate": {"configured": plan.rate, "max": plan.max_rate,
                 "first_round": stats.send_rate, "path_allowed": stats.path_rate or None},
        "exit": exit_state,
        "plan": shard_record(plan, proto),
    }
    return json.dumps(data, indent=2) + "\n"
