"""--shards N --shard K and --workers N (the CLI's and the library's): which shard, which seed, the note."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import RawscanError
from ..plan import ScanPlan
from ..shards import JOB_INDEX_ENV, derived_seed, fingerprint, shard_from_environment, shard_size


@dataclass(frozen=True)
class Sharding:
    shards: int = 0  # 0: not sharded
    shard: int = 0
    from_environment: bool = False  # K came from JOB_COMPLETION_INDEX
    workers: int = 0  # --workers N: N local shard processes

    @classmethod
    def from_options(cls, shards: int | None, shard: int | None,
                     workers: int | None, max_targets: str | None = None) -> Sharding:
        # --max-targets composes: one keyed sample of the plan's endpoints, each shard probing
        # its own endpoints of it (scan.sampled); the sample is part of the fingerprint
        if workers is not None and (shards is not None or shard is not None):
            raise RawscanError("give --workers N (shards of this machine's scan) or "
                               "--shards N --shard K (one shard of a scan over machines), not both")
        if workers is not None:
            return cls(shards=workers, workers=workers) if workers > 1 else cls()
        if shards is None:
            if shard is not None:
                raise RawscanError("--shard K needs --shards N (how many shards the plan has)")
            return cls()
        from_environment = False
        if shard is None:
            try:
                shard = shard_from_environment(shards)
            except ValueError as exc:
                raise RawscanError(str(exc)) from None
            if shard is None:
                raise RawscanError(f"--shards {shards} needs --shard K (0..{shards - 1}) or "
                                   f"{JOB_INDEX_ENV} in the environment")
            from_environment = True
        if shard >= shards:
            raise RawscanError(f"--shard {shard} is not one of 0..{shards - 1} (--shards {shards})")
        return cls(shards, shard, from_environment)

    def apply(self, plan: ScanPlan, seed_given: bool,
              source_port: int | None) -> tuple[ScanPlan, str | None]:
        """The plan as this shard scans it (a seed every machine derives alike unless given),
        and the start line's note about it."""
        if not self.shards:
            return plan, None
        from ..sources import source_port_for

        plan = dataclasses.replace(plan, shards=self.shards, shard=self.shard)
        if not seed_given:
            seed = derived_seed(plan)
            plan = dataclasses.replace(plan, seed=seed,
                                       source_port=source_port or source_port_for(seed))
        if self.workers:
            return plan, (f"Workers: {self.workers} processes, one shard each; plan "
                          f"{fingerprint(plan)}")
        where = f" (from {JOB_INDEX_ENV})" if self.from_environment else ""
        return plan, shard_note(plan, where, "given" if seed_given else "derived from the plan")


def shard_note(plan: ScanPlan, where: str = "", seed: str = "") -> str:
    total = len(plan.targets) * len(plan.ports)
    size = shard_size(total, plan.shards, plan.shard)
    seed_words = f", seed {seed}" if seed else ""
    return (f"Shard {plan.shard} of {plan.shards}{where}: {size:,} of {total:,} endpoints; "
            f"plan {fingerprint(plan)}{seed_words}")
