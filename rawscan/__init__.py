"""rawscan: a packet-level port scanner built on Scapy."""

__version__ = "0.1.0"
