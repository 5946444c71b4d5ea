"""Benchmarks: numbers, not assertions. Run from the repository root as root, e.g.
`sudo .venv/bin/python -m bench.syn --runs 3` (see the README for each one and its figures)."""
