"""Reading Lark text by hand: where a string or regex literal ends, an offset's line and column,
and the dialect's refusal (shared by the llguidance dialect's readers).

Example:
    >>> literal_end('"a\\\\"b" rest', 0), position("ab\\ncd", 4)
    (6, (2, 2))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from ..errors import GrammarSyntaxError


def literal_end(text: str, i: int) -> int:
    """The offset after the string or regex literal that starts at ``i`` (its flags included)."""
    quote = text[i]
    j = i + 1
    while j < len(text) and text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    j += 1
    while j < len(text) and text[j] in "imslux":  # lark's flags after a literal
        j += 1
    return j


def pieces(text: str, i: int = 0) -> Iterator[tuple[int, int, bool]]:
    """``(start, stop, opaque)`` for what follows offset ``i``: a ``//`` comment or a string or
    regex literal is one opaque piece, any other character a piece of its own."""
    n = len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j, opaque = (n if j < 0 else j), True
        elif text[i] in "\"'/":
            j, opaque = literal_end(text, i), True
        else:
            j, opaque = i + 1, False
        yield i, j, opaque
        i = j


def position(text: str, i: int) -> tuple[int, int]:
    """The 1-based line and column of offset ``i``."""
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def refuse(text: str, i: int, what: str) -> NoReturn:
    """Raise :class:`GrammarSyntaxError` saying the dialect's ``what`` is not supported, at ``i``."""
    raise GrammarSyntaxError(f"the llguidance dialect's {what} is not supported", *position(text, i))
