"""Shards: a keyed split of a scan's endpoints (host x port) into N disjoint, even parts.

P is a keyed bijection on range(T), T = hosts x ports: an unbalanced Feistel network on the
smallest power of two >= T, cycle-walked back into range(T) (fewer than 2 evaluations on
average). Endpoint e belongs to shard P(e) mod N, as the shard's local index P(e) // N, so
shard K holds exactly ceil((T - K) / N) endpoints, and shard K's local index s is endpoint
P^-1(K + s*N). Both directions cost O(1) per endpoint (a reply is checked for membership
without any table), on ints and on numpy arrays (the same arithmetic, held equal by tests).
The engine walks a shard's local indexes in its usual keyed cyclic order, so each shard has a
random order, retries its own endpoints only, and its resume state is its own bitmap.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .plan import ScanPlan

ROUNDS = 6  # alternating halves: each half is mixed three times
_M64 = (1 << 64) - 1
_C1, _C2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # splitmix64's finaliser
FINGERPRINT_BYTES = 8  # 16 hex digits
JOB_INDEX_ENV = "JOB_COMPLETION_INDEX"  # Kubernetes Indexed Jobs set it for each pod


def _mix(x: int) -> int:
    x ^= x >> 30
    x = (x * _C1) & _M64
    x ^= x >> 27
    x = (x * _C2) & _M64
    return x ^ (x >> 31)


class Permutation:
    """A keyed bijection on range(size), forward and inverse, on ints and arrays."""

    def __init__(self, size: int, key: bytes) -> None:
        if size < 1:
            raise ValueError("a permutation needs at least one element")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self.low_bits = bits // 2
        self.high_bits = bits - self.low_bits
        self.low_mask = (1 << self.low_bits) - 1
        self.high_mask = (1 << self.high_bits) - 1
        digest = hashlib.blake2b(key, digest_size=8 * ROUNDS, person=b"rawscan-shards").digest()
        self.keys = [int.from_bytes(digest[8 * i: 8 * i + 8], "big") for i in range(ROUNDS)]
        # (which half a round changes: 0 the high one, 1 the low one; its key)
        self._order = tuple((i % 2, key) for i, key in enumerate(self.keys))
        self._reverse = self._order[::-1]

    def _feistel(self, x: int) -> int:
        return self._rounds(x, self._order)

    def _feistel_inverse(self, x: int) -> int:
        return self._rounds(x, self._reverse)  # each round undoes itself (an XOR)

    def _rounds(self, x: int, order: tuple[tuple[int, int], ...]) -> int:
        """_round over the order, inlined (a reply's membership check on the per-item path:
        ~3 us instead of ~12 us)."""
        low_bits, low_mask, high_mask = self.low_bits, self.low_mask, self.high_mask
        lo, hi = x & low_mask, x >> low_bits
        for i, key in order:
            m = (lo if i == 0 else hi) ^ key
            m ^= m >> 30
            m = (m * _C1) & _M64
            m ^= m >> 27
            m = (m * _C2) & _M64
            m ^= m >> 31
            if i == 0:
                hi ^= m & high_mask
            else:
                lo ^= m & low_mask
        return (hi << low_bits) | lo

    def forward(self, x: int) -> int:
        x = self._feistel(x)
        while x >= self.size:  # cycle walking: the next value of the cycle that is in range
            x = self._feistel(x)
        return x

    def inverse(self, y: int) -> int:
        y = self._feistel_inverse(y)
        while y >= self.size:
            y = self._feistel_inverse(y)
        return y

    # --- numpy (uint64 arithmetic wraps as the & _M64 above does) ---

    def _rounds_array(self, x: np.ndarray, order: range) -> np.ndarray:
        import numpy as np

        low_bits, low_mask, high_mask = np.uint64(self.low_bits), np.uint64(self.low_mask), \
            np.uint64(self.high_mask)
        c1, c2 = np.uint64(_C1), np.uint64(_C2)
        s30, s27, s31 = np.uint64(30), np.uint64(27), np.uint64(31)
        lo, hi = x & low_mask, x >> low_bits
        with np.errstate(over="ignore"):
            for i in order:
                m = (lo if i % 2 == 0 else hi) ^ np.uint64(self.keys[i])
                m ^= m >> s30
                m *= c1
                m ^= m >> s27
                m *= c2
                m ^= m >> s31
                if i % 2 == 0:
                    hi = hi ^ (m & high_mask)
                else:
                    lo = lo ^ (m & low_mask)
        result: np.ndarray = (hi << low_bits) | lo
        return result

    def _walk_array(self, x: np.ndarray, order: range) -> np.ndarray:
        import numpy as np

        out = self._rounds_array(x.astype(np.uint64), order)
        size = np.uint64(self.size)
        outside = np.flatnonzero(out >= size)
        while len(outside):
            again = self._rounds_array(out[outside], order)
            out[outside] = again
            outside = outside[again >= size]
        return out.astype(np.int64)

    def forward_array(self, x: np.ndarray) -> np.ndarray:
        return self._walk_array(x, range(ROUNDS))

    def inverse_array(self, y: np.ndarray) -> np.ndarray:
        return self._walk_array(y, range(ROUNDS - 1, -1, -1))


class ShardMap:
    """Shard `shard` of `shards` over `total` endpoints: local index <-> endpoint index."""

    def __init__(self, total: int, shards: int, shard: int, key: bytes) -> None:
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} is not one of 0..{shards - 1}")
        self.total, self.shards, self.shard = total, shards, shard
        self.size = shard_size(total, shards, shard)
        self.permutation = Permutation(total, key) if total else None

    def to_endpoint(self, local: int) -> int:
        assert self.permutation is not None
        return self.permutation.inverse(self.shard + local * self.shards)

    def to_local(self, endpoint: int) -> int | None:
        """The endpoint's local index, or None when it is another shard's."""
        assert self.permutation is not None
        local, owner = divmod(self.permutation.forward(endpoint), self.shards)
        return local if owner == self.shard else None

    def to_endpoints(self, local: np.ndarray) -> np.ndarray:
        assert self.permutation is not None
        return self.permutation.inverse_array(local * self.shards + self.shard)

    def to_locals(self, endpoints: np.ndarray) -> np.ndarray:
        """Local index of each endpoint, -1 where it is another shard's."""
        import numpy as np

        assert self.permutation is not None
        y = self.permutation.forward_array(endpoints)
        local: np.ndarray = np.where(y % self.shards == self.shard, y // self.shards, -1)
        return local


def shard_size(total: int, shards: int, shard: int) -> int:
    """Endpoints of shard `shard`: those whose permuted index is shard mod shards."""
    return max(0, (total - shard + shards - 1) // shards)


def progress_bytes(plan: ScanPlan) -> int:
    """Bytes of a resume file's progress: one bit per endpoint of the shard (--workers: of
    each worker's shard, one after the other)."""
    total = len(plan.targets) * len(plan.ports)
    if plan.workers:
        return sum((shard_size(total, plan.workers, k) + 7) // 8 for k in range(plan.workers))
    if plan.shards > 1:
        return (shard_size(total, plan.shards, plan.shard) + 7) // 8
    return (total + 7) // 8


def shard_map_for(plan: ScanPlan) -> ShardMap | None:
    """The engine's map for a sharded plan (None when the plan is one whole scan)."""
    if plan.shards <= 1:
        return None
    from .cookies import derive_key

    total = len(plan.targets) * len(plan.ports)
    return ShardMap(total, plan.shards, plan.shard, derive_key(plan.seed, "shards"))


def _plan_identity(plan: ScanPlan, with_seed: bool) -> dict[str, Any]:
    """What makes two machines' scans parts of one: every input that decides which endpoints
    exist, which shard each is in, and what its probes are. Not the sources (each machine has
    its own), the rate or timing (each shard paces itself), nor the shard index."""
    from .plan import compress_ports

    identity: dict[str, Any] = {
        "scan": plan.scan,
        "targets": _ranges_digest(plan),
        "ports": compress_ports(plan.ports),
        "shards": plan.shards,
        "ttl": plan.ttl,
        "payload_hex": plan.payload_hex,
        "fixed_source_port": plan.fixed_source_port,
        "source_port": plan.source_port if plan.fixed_source_port else None,
    }
    if plan.probes is not None:  # ping's probe list
        identity["probes"] = plan.probes
    if plan.max_targets is not None:  # --max-targets: which endpoints are in the sample
        identity["max_targets"] = plan.max_targets
    if with_seed:
        identity["seed"] = plan.seed
    return identity


def _ranges_digest(plan: ScanPlan) -> str:
    """The targets' ranges, hashed packed (a huge -iL's JSON was slow to make)."""
    from .ranges import RangeList

    ranges = plan.targets.ranges
    packed = (ranges if isinstance(ranges, RangeList) else RangeList.from_sorted(ranges)).packed()
    return hashlib.blake2b(packed, digest_size=16, person=b"rawscan-targets").hexdigest()


def _digest(identity: dict[str, Any], person: bytes, size: int) -> bytes:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(text, digest_size=size, person=person).digest()


def derived_seed(plan: ScanPlan) -> int:
    """A seed every machine computes alike from the plan (when --seed is not given): 63 bits,
    as random_seed() gives."""
    return int.from_bytes(_digest(_plan_identity(plan, False), b"rawscan-seed", 8), "big") >> 1


def fingerprint(plan: ScanPlan) -> str:
    """The plan's fingerprint: equal for every shard of one plan, different for any other."""
    return _digest(_plan_identity(plan, True), b"rawscan-plan", FINGERPRINT_BYTES).hex()


def shard_from_environment(shards: int, environ: dict[str, str] | None = None) -> int | None:
    """K from JOB_COMPLETION_INDEX (None when unset); ValueError when it is no shard."""
    import os

    value = (os.environ if environ is None else environ).get(JOB_INDEX_ENV)
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) >= shards:
        raise ValueError(f"{JOB_INDEX_ENV}={value[:40]!r} is not a shard of 0..{shards - 1}")
    return int(text)
