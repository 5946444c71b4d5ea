"""--shards N --shard K and --workers N: rawscan/api/sharding.py's (the library's too)."""

from __future__ import annotations

from ..api.sharding import Sharding, shard_note

__all__ = ["Sharding", "shard_note"]
