"""The `rawscan` console script: fork the Scapy helper before anything else is imported (see
crafting.py), then run the command line."""

from __future__ import annotations

import sys

SCAPY_COMMANDS = ("syn", "resume")  # UDP payloads need Scapy in process anyway


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in SCAPY_COMMANDS and not {"-h", "--help"}.intersection(argv):
        from .crafting import start_helper

        start_helper()  # Scapy loads over there while typer and rawscan load here
    from .cli import main as cli_main

    cli_main()
