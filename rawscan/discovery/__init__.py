"""Host discovery (rawscan ping, --discover): per-host results, their outputs and the runner."""
