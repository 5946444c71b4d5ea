"""--banners: what runs on each open TCP port (banner, TLS certificate, service and version).

facts.py / text.py / x509.py: what is kept and how hostile text is made safe; rules.py: the
identification table; hellos.py: what each port is sent; grab.py: one port's bounded grab;
phase.py: the thread that grabs while the SYN scan goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT = 3.0
DEFAULT_CONCURRENCY = 256


@dataclass(frozen=True)
class BannerSettings:
    timeout: float = DEFAULT_TIMEOUT  # seconds a port may take in all (connects and reads)
    concurrency: int = DEFAULT_CONCURRENCY  # connections at once
    udp: bool = False  # a UDP scan: replies are read; only DNS servers are asked more

    def describe(self) -> str:
        """The phase's bound, as the start of the report states it."""
        if self.udp:
            return ("Banners: each open UDP port's reply to its probe is decoded (4 KiB kept); "
                    "an open 53/udp is also asked version.bind (CHAOS TXT), and the scan "
                    f"waits at most {self.timeout:g} s (+0.25 s) after the last for its answer")
        return (f"Banners: each open port is connected as soon as it is found (at most "
                f"{self.concurrency} at once, {self.timeout:g} s a port, 4 KiB kept); the scan "
                f"waits at most {self.timeout:g} s (+0.25 s) after its last open port for them")
