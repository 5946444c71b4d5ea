"""Errors a user can cause; the CLI prints them as one line, never a traceback."""


class RawscanError(Exception):
    """A problem with the user's input or environment, shown as one line."""

    exit_code = 2
