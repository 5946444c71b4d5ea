"""Helpers the tests share: the namespace lab and its helpers, simulated networks, the installed
command, output checkers. Imported as tests.support.NAME (the repository root is on sys.path
under pytest, and under `python -m bench.X` / `python -m tools.X` run from the root)."""
