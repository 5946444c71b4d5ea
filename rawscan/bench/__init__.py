"""Benchmarks: scripts printing figures (python -m rawscan.bench.NAME), never timed tests."""
