"""Recorders of the committed captures (pcaps/, examples/): run from the repository root as
root, e.g. `sudo .venv/bin/python -m tools.record_pcaps`."""
