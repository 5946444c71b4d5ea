"""Banner bytes as text that is safe anywhere: one line, no control or terminal sequences.

A server chooses every byte it sends, so nothing it sent is ever shown raw. Bytes become text
the way nmap's banner script shows them: printable characters as they are (UTF-8 included),
everything else as an escape (`\\r\\n`, `\\x1b`, `\\x00`, `\\xc3` for a byte that is not
UTF-8), backslashes doubled. The result holds no C0/C1 control, no DEL, no format or bidi
character, no line or paragraph separator and nothing XML 1.0 forbids.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\\": "\\\\"}


def _escaped(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: a byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _safe(ch: str) -> bool:
    if ch in _NAMED:
        return False
    if " " <= ch <= "~":
        return True
    # Cc control, Cf format (bidi overrides, zero-width), Cs surrogate, Co private, Cn
    # unassigned; Zl/Zp line and paragraph separators
    return unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in ("Zl", "Zp")


def printable(data: bytes | str, limit: int | None = None) -> str:
    """data as one safe line; at most limit characters of the input are taken."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    if limit is not None:
        text = text[:limit]
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text  # the common case: nothing to escape
    return "".join(ch if _safe(ch) else _escaped(ch) for ch in text)
