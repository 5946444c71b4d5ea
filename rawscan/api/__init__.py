"""The library behind both faces of rawscan: the command line (rawscan/commands/) and the
Python API (rawscan/__init__.py) call these modules, so there is one path from options to
results.

- plans.py: a live scan's options (the CLI's long names) -> a checked ScanPlan
- running.py: a plan over a transport -> writers fed, resume file kept, outcome returned
- live.py: the live transport (raw sockets, --pcap recording) around running.py
- replay.py: a recorded scan's plan, probe module and replay transport
- analysis.py: reading captures into what their scans learned
- summary.py: the report's lines, as pure functions (no console)
"""
