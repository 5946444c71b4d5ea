"""prepare_live_scan (api/plans.py) and prepare_ping (api/pinging.py) spell out the options
every live command shares, each in its own signature (the CLI's long names, read by typer's
commands and the library's keywords): held equal here, name, default and type, to each other
and to the library's declaration of them (api/public.py's _TargetOptions)."""

from __future__ import annotations

import inspect

from rawscan.api.pinging import prepare_ping
from rawscan.api.plans import prepare_live_scan
from rawscan.api.public import LiveOptions, PingOptions, _TargetOptions

SCAN = inspect.signature(prepare_live_scan).parameters
PING = inspect.signature(prepare_ping).parameters


def test_the_shared_options_are_spelt_alike() -> None:
    shared = set(SCAN) & set(PING)
    assert set(_TargetOptions.__annotations__) <= shared
    for name in shared:
        scan, ping = SCAN[name], PING[name]
        assert (scan.kind, scan.default, scan.annotation) == (ping.kind, ping.default, ping.annotation), name


def test_every_library_option_reaches_a_plan() -> None:
    run_only = {"shards", "shard", "workers", "metadata_file", "discover", "discover_probes"}
    assert set(LiveOptions.__annotations__) - run_only <= set(SCAN)
    assert set(PingOptions.__annotations__) <= set(PING)
