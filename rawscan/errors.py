"""Errors a user can cause; the CLI prints them as one line, never a traceback."""


class RawscanError(Exception):
    """A problem with the user's input or environment, shown as one line."""

    exit_code = 2


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def one_line(message: object) -> str:
    """A message as one printable line: control characters from user input (a newline in
    -p, an escape sequence in a file name) are shown escaped, never acted on."""
    return str(message).translate(_CONTROL)
