"""The rawscan command line. Each command lives in rawscan/commands/; errors are one line."""

from __future__ import annotations

from typing import Annotated

import typer

from . import __version__
from .commands import diff, payloads, ports, replay, scan
from .commands import analyze

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Packet-level port scanner: SYN scans over raw sockets, pcap recording and replay.",
)
app.command("syn")(scan.syn)
app.command("udp")(scan.udp)
app.command("replay")(replay.replay)
app.command("analyze")(analyze.analyze)
app.command("diff")(diff.diff)
app.command("ports")(ports.ports)
app.command("payloads")(payloads.payloads)


def _version(value: bool) -> None:
    if value:
        print(f"rawscan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
