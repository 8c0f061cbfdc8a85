"""The llguidance dialect's substring regex: ``%regex {"substring_chunks": [...]}`` matches
``"".join(chunks[n:m])`` for any ``n <= m``; ``substring_words`` splits a text into runs of word
characters, of whitespace and of other characters (``"foo bar. baz"`` into ``foo``, `` ``, ``bar``,
``.``, `` ``, ``baz``), ``substring_chars`` into its characters.

The regex of the non-empty substrings lists, for each first chunk, the chunks that may follow it,
nested (``a(?:b(?:c)?)?``): quadratic in the number of chunks, so that number is bounded. (The
empty substring is the caller's: a Lark terminal cannot match it, an optional group can.)

Example:
    >>> import re
    >>> rx = substring_regex({"substring_chunks": ["abc", "de", "fg"]})
    >>> [bool(re.fullmatch(rx, s)) for s in ["abc", "abcde", "defg", "", "ab", "cde"]]
    [True, True, True, False, False, False]
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import GrammarError

MAX_CHUNKS = 400
_WORD_CHUNK = re.compile(r"\w+|\s+|[^\w\s]+")


def substring_chunks(spec: Any) -> list[str]:
    """The chunks of a ``%regex`` substring object, or a :class:`GrammarError` naming what is
    wrong with it."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise GrammarError("object other than one of substring_chunks, substring_words, substring_chars")
    (kind, value), = spec.items()
    if kind == "substring_chunks":
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise GrammarError("substring_chunks that is not a list of strings")
        return [c for c in value if c]
    if kind not in ("substring_words", "substring_chars"):
        raise GrammarError(f"key {kind!r} (the keys are substring_chunks, substring_words, substring_chars)")
    if not isinstance(value, str):
        raise GrammarError(f"{kind} that is not a string")
    return _WORD_CHUNK.findall(value) if kind == "substring_words" else list(value)


def substring_regex(spec: Any) -> str | None:
    """A Python regex whose full matches are the non-empty substrings the ``%regex`` object
    allows (``None`` when it allows only the empty string)."""
    chunks = substring_chunks(spec)
    if len(chunks) > MAX_CHUNKS:
        raise GrammarError(f"substring of {len(chunks)} chunks (at most {MAX_CHUNKS})")
    escaped = [re.escape(c) for c in chunks]
    starts = dict.fromkeys(_nested(escaped[n:]) for n in range(len(escaped)))
    return f"(?s:{'|'.join(starts)})" if starts else None


def _nested(chunks: list[str]) -> str:
    """``c0(?:c1(?:c2)?)?`` for chunks c0, c1, c2."""
    return "".join(f"{c}(?:" for c in chunks[:-1]) + chunks[-1] + ")?" * (len(chunks) - 1)
