"""The rawscan command line. Each command lives in rawscan/commands/; errors are one line."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

try:  # typer >= 0.22 vendors click; earlier versions use it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException

from . import __version__
from .errors import one_line
from .commands import diff, payloads, ports, replay, resume, scan
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
app.command("resume")(resume.resume)
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


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """The console script. Exits with os._exit once output is flushed: tearing down the
    interpreter with Scapy loaded takes ~0.25 s, a third of a small scan's run time."""
    code = 0
    signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: partial results are kept
    try:
        returned = app(standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except ClickException as exc:  # a usage error: one line, as for every other bad input
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = one_line(exc.format_message()).strip()
        if message:  # (an empty one: help was shown for a bare `rawscan`)
            print(f"rawscan: error: {message}{where}", file=sys.stderr)
        code = exc.exit_code
    except typer.Abort:
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # a bug: show it as Python would, and fail
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # e.g. a closed pipe: nothing more can reach it
    os._exit(code)


if __name__ == "__main__":
    main()
