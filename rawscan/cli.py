"""The rawscan command line. Each command lives in rawscan/commands/; errors are one line."""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer

try:  # typer >= 0.22 vendors click; earlier versions use it
    # (only such typers have the module: unused-ignore keeps mypy quiet under either)
    from typer._click import exceptions as click_exceptions  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

ClickException = click_exceptions.ClickException
# a bare `rawscan` raises it with the help as its message (click >= 8.2)
NoArgsIsHelp = getattr(click_exceptions, "NoArgsIsHelpError", ())

from . import __version__
from .errors import one_line

# name -> (module in rawscan.commands, attribute): a run imports and declares only the command
# it runs (typer turns every declared signature into options, and each module has imports of
# its own); help for the whole program and anything that is not a command name get them all
COMMANDS = {
    "syn": ("scan", "syn"),
    "udp": ("scan", "udp"),
    "replay": ("replay", "replay"),
    "resume": ("resume", "resume"),
    "analyze": ("analyze", "analyze"),
    "diff": ("diff", "diff"),
    "ports": ("ports", "ports"),
    "payloads": ("payloads", "payloads"),
    "ack": ("scan", "ack"),
    "fin": ("scan", "fin"),
    "null": ("scan", "null"),
    "xmas": ("scan", "xmas"),
    "ping": ("ping", "ping"),
    "merge": ("merge", "merge"),
}
HELP = "Packet-level port scanner: SYN scans over raw sockets, pcap recording and replay."


def _summary(function: object) -> str:
    """A command's line in the command list: the first paragraph of its docstring (click
    would cut it at 45 characters)."""
    doc = inspect.cleandoc(getattr(function, "__doc__", None) or "")
    return " ".join(doc.split("\n\n")[0].split())


def build_app(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The command line with the given commands (all by default)."""
    app = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        no_args_is_help=True,
        # click's plain help, as nmap's: rich-formatted help cost more a --help (README, Design figures)
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        help=HELP,
    )
    for name in names:
        module, attribute = COMMANDS[name]
        function = getattr(importlib.import_module(f"{__package__}.commands.{module}"), attribute)
        app.command(name, short_help=_summary(function))(function)
    app.callback()(_main)
    return app


def _version(value: bool) -> None:
    if value:
        print(f"rawscan {__version__}")
        raise typer.Exit()


def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    pass


if TYPE_CHECKING:
    app: typer.Typer  # made by __getattr__ below


def __getattr__(name: str) -> object:
    """`app`, the whole command line, made on first use (tests drive it in process)."""
    if name == "app":
        globals()["app"] = whole = build_app()
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _app_for(argv: list[str]) -> typer.Typer:
    """Only the command about to run, when the first argument names one."""
    return build_app([argv[0]] if argv and argv[0] in COMMANDS else COMMANDS)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _closed_standard_streams() -> list[str]:
    """Put /dev/null on a closed stdin, stdout or stderr (`rawscan ... >&-`): Python leaves
    sys.stdout None, and the next file opened would take descriptor 1 and receive the report.
    Returns the names of the ones that were closed."""
    closed = []
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:  # lower descriptors are open, so this is fd unless another is closed
                os.dup2(null, fd)
                os.close(null)
            closed.append(name)
        stream = getattr(sys, name)
        if stream is None or name in closed:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False,
                                    errors="backslashreplace" if fd else None))
    return closed


def main() -> None:
    """The console script. Exits with os._exit once output is flushed: tearing down the
    interpreter (with Scapy loaded, for a UDP scan) takes up to a quarter of a second."""
    code = 0
    closed = _closed_standard_streams()
    if "stdout" in closed:
        print("rawscan: warning: stdout is closed: what would be written there is lost",
              file=sys.stderr)
    signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: partial results are kept
    try:
        returned = _app_for(sys.argv[1:])(standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except NoArgsIsHelp as exc:  # a bare `rawscan`: its help on stdout, and a usage exit code
        print(exc.format_message())
        code = exc.exit_code
    except ClickException as exc:  # a usage error: one line, as for every other bad input
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = one_line(exc.format_message()).strip()
        if message:
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
