"""The seams' docstrings hold: the Transport docstring's smallest transport runs a real scan,
and a probe module's defaults are what the engine reads."""

from __future__ import annotations

import textwrap

from rawscan.cookies import Cookie, derive_key
from rawscan.engine import Engine, ScanOptions
from rawscan.probes.base import ProbeModule
from rawscan.probes.tcp_syn import SynProbe
from rawscan.results import Verdict
from rawscan.addresses import parse_addr
from rawscan.targets import TargetSet
from rawscan.transports import base
from rawscan.transports.base import Received, SendsOneByOne, Transport
from rawscan.transports.replay import VirtualClock

SRC, DST = parse_addr("198.18.0.1"), parse_addr("198.18.0.2")


def docstring_example() -> type:
    doc = base.Transport.__doc__ or ""
    code = textwrap.dedent(doc[doc.index("        class Loopback"):])
    namespace = {"SendsOneByOne": SendsOneByOne, "VirtualClock": VirtualClock, "Received": Received}
    exec(code, namespace)  # noqa: S102 - our own docstring
    return namespace["Loopback"]  # type: ignore[no-any-return]


def test_the_smallest_transport_in_the_docstring_runs_a_scan() -> None:
    """Its 'network' hands every probe back: our own SYNs are strays, every port silent."""
    transport: Transport = docstring_example()()
    results: dict[int, Verdict] = {}
    engine = Engine(
        probe=SynProbe((SRC,), 40000, Cookie(derive_key(1, "cookie"))),
        targets=TargetSet(((DST, DST),), {}), ports=(22, 80, 443), transport=transport,
        options=ScanOptions(retries=1), order_key=derive_key(1, "order"),
        on_result=lambda _t, port, verdict: results.__setitem__(port, verdict),
    )
    engine.run()
    assert {p: (v.state, v.reason) for p, v in results.items()} == \
        {p: ("filtered", "no-response") for p in (22, 80, 443)}
    assert engine.stats.stray == engine.stats.sent == 6  # two rounds, every probe back
    assert transport.clock.now() > 0  # virtual time moved only through receive()


def test_a_probe_module_probes_every_endpoint_and_decides_ports_by_default() -> None:
    probe: ProbeModule = SynProbe((SRC,), 40000, Cookie(derive_key(1, "cookie")))
    assert probe.decides_host is False
    assert all(probe.applies(DST, port) for port in (1, 80, 65535))
