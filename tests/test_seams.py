"""The seams' docstrings hold: the Transport docstring's smallest transport runs a real scan,
and a probe module's defaults are what the engine reads."""

from __future__ import annotations

import textwrap

from rawscan.engine import ScanOptions
from rawscan.probes.base import ProbeModule
from rawscan.transports import base
from rawscan.transports.base import Received, SendsOneByOne, Transport
from rawscan.transports.replay import VirtualClock

from tests.support.engine import DST, run_engine, states, syn_probe


def docstring_example() -> type:
    doc = base.Transport.__doc__ or ""
    code = textwrap.dedent(doc[doc.index("        class Loopback"):])
    namespace = {"SendsOneByOne": SendsOneByOne, "VirtualClock": VirtualClock, "Received": Received}
    exec(code, namespace)  # noqa: S102 - our own docstring
    return namespace["Loopback"]  # type: ignore[no-any-return]


def test_the_smallest_transport_in_the_docstring_runs_a_scan() -> None:
    """Its 'network' hands every probe back: our own SYNs are strays, every port silent."""
    transport: Transport = docstring_example()()
    results, engine = run_engine(transport, (22, 80, 443), ScanOptions(retries=1), seed=1)
    assert states(results) == {p: ("filtered", "no-response") for p in (22, 80, 443)}
    assert engine.stats.stray == engine.stats.sent == 6  # two rounds, every probe back
    assert transport.clock.now() > 0  # virtual time moved only through receive()


def test_a_probe_module_probes_every_endpoint_and_decides_ports_by_default() -> None:
    probe: ProbeModule = syn_probe(1)
    assert probe.decides_host is False
    assert all(probe.applies(DST, port) for port in (1, 80, 65535))
