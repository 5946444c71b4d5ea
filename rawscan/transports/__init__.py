"""Transports: how probes reach a network and replies come back (live sockets or a recording)."""
