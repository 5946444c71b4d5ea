"""Probe modules: one small unit per probe type (as zmap's), the engine knows none of them."""
