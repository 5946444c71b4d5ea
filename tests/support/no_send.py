"""Running `rawscan syn`/`udp` in process so that nothing can be sent, for tests that feed the
command line hostile or huge input.

Three independent guards, any one of which is enough: the live command's last step before
its transport (`_run_live`) is replaced by one that hands back the finished ScanPlan; the live
transport itself refuses to be built; and raw and packet sockets are refused outright. Host
names are answered here ('localhost' only), so no lookup leaves the machine either.
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import Iterator
from typing import NamedTuple
from unittest import mock

from tests.support.deadline import deadline


def assert_clean(code: int, stderr: str) -> None:
    """Exit 0 (warnings allowed, each one line) or a non-zero exit with exactly one error line."""
    lines = stderr.splitlines()
    assert "Traceback" not in stderr, stderr
    assert all(line.startswith(("rawscan: error: ", "rawscan: warning: ")) for line in lines), stderr
    if code != 0:
        errors = [line for line in lines if line.startswith("rawscan: error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], stderr


class WouldSend(BaseException):
    """The command got past every check and would open raw sockets now; carries the plan."""


class _NoRawSocket(socket.socket):
    def __init__(self, family: int = -1, type: int = -1, *args: object, **kwargs: object) -> None:
        if type != -1 and type & 0xF == socket.SOCK_RAW or family == socket.AF_PACKET:
            raise WouldSend("a raw or packet socket was asked for")
        super().__init__(family, type, *args, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def never_sending() -> Iterator[None]:
    """Three independent guards, any one of which keeps the fuzzed command from sending."""
    def stop(plan: object, *_args: object, **_kwargs: object) -> None:
        raise WouldSend(plan)

    def no_transport(*_args: object, **_kwargs: object) -> None:
        raise WouldSend("LiveTransport")

    with mock.patch("rawscan.commands.scan._run_live", stop), \
         mock.patch("rawscan.transports.live.LiveTransport", no_transport), \
         mock.patch("rawscan.privileges.require_raw_sockets", lambda: None), \
         mock.patch("socket.socket", _NoRawSocket), \
         mock.patch("socket.getaddrinfo", _local_getaddrinfo):
        yield


def _local_getaddrinfo(host: object, *_args: object, **_kwargs: object) -> list[tuple[object, ...]]:
    """Name lookups answered here: 'localhost' is 127.0.0.1, every other name is unknown."""
    if host == "localhost":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


_CLICK = None


class Outcome(NamedTuple):
    kind: str  # "exit" (stderr checked by assert_clean), "usage" (the option parser's), "plan"
    value: object  # the exit code, the usage message, or the ScanPlan it would have sent
    stderr: str


def run_cli(argv: list[str], stdin: str = "", seconds: float = 10.0) -> Outcome:
    """Run `rawscan ARGV` in process, never sending, within `seconds`."""
    global _CLICK
    import typer.main

    from rawscan.cli import ClickException, app

    if _CLICK is None:
        _CLICK = typer.main.get_command(app)
    out, err = io.StringIO(), io.StringIO()
    try:
        with never_sending(), deadline(seconds), mock.patch("sys.stdin", io.StringIO(stdin)), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _CLICK.main(args=argv, prog_name="rawscan", standalone_mode=False)
    except WouldSend as stop:
        return Outcome("plan", stop.args[0], err.getvalue())
    except ClickException as exc:  # typer's own usage errors: exit 2 with its usage text
        assert exc.exit_code == 2 and exc.format_message()
        return Outcome("usage", exc.format_message(), err.getvalue())
    assert_clean(int(code or 0), err.getvalue())
    return Outcome("exit", int(code or 0), err.getvalue())
