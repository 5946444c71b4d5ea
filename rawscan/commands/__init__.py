"""One module per group of subcommands; cli.py registers them. Heavy imports stay inside functions."""
