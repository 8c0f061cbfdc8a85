"""The entry points: a regex or a string literal (as lark gives them) to a cached `ByteDFA`."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np
from re import _constants as _C
from re import _parser as _sre_parse

from ..errors import UnsupportedRegexError
from ..special_tokens import literal_bytes
from .byte_dfa import ByteDFA
from .limits import DEFAULT_MAX_STATES, unsupported
from .lookahead import compile_with_lookaheads, leads_with_lookahead, union


def regex_byte_dfa(
    pattern: str, flags: Iterable[str] = (), *, max_states: int = DEFAULT_MAX_STATES
) -> ByteDFA:
    """The byte DFA of ``re.fullmatch(pattern, ·, flags)``; ``flags``: lark's letters (i m s x u a).

    Raises ``UnsupportedRegexError`` (a ``ValueError``) for features that a DFA of the token alone
    cannot express, for invalid patterns, and when the DFA would exceed ``max_states`` states.
    Results are cached (they are immutable).
    """
    return _regex_byte_dfa_cached(pattern, frozenset(flags), max_states)


def literal_byte_dfa(
    text: str, flags: Iterable[str] = (), *, max_states: int = DEFAULT_MAX_STATES
) -> ByteDFA:
    """The byte DFA of one string literal (lark ``PatternStr``); flag ``i``: case-insensitive."""
    flags = frozenset(flags)
    if flags - {"u", "m", "s", "x"}:
        return _regex_byte_dfa_cached(re.escape(text), flags, max_states)
    try:
        data = literal_bytes(text)  # a special token's literal: its name between 0xFF bytes
    except UnicodeEncodeError:
        raise UnsupportedRegexError(f"lone surrogate in string literal {text!r}") from None
    n = len(data) + 1
    if n > max_states:
        raise UnsupportedRegexError(
            f"byte DFA of literal {text[:40]!r} is too large ({n} states > max_states={max_states})"
        )
    trans = np.full((n, 256), -1, dtype=np.int32)
    trans[np.arange(n - 1), np.frombuffer(data, dtype=np.uint8)] = np.arange(1, n, dtype=np.int32)
    acc = np.zeros(n, dtype=bool)
    acc[-1] = True
    return ByteDFA(trans, acc)


_FLAG_BITS = {
    "i": re.IGNORECASE,
    "m": re.MULTILINE,
    "s": re.DOTALL,
    "x": re.VERBOSE,
    "u": re.UNICODE,
    "a": re.ASCII,
    "l": re.LOCALE,
}


@functools.lru_cache(maxsize=4096)
def _regex_byte_dfa_cached(pattern: str, flags: frozenset, max_states: int) -> ByteDFA:
    bits = 0
    for f in flags:
        if f == "l":
            raise unsupported("LOCALE flag", pattern)
        if f not in _FLAG_BITS:
            raise UnsupportedRegexError(f"unsupported regex flag {f!r} in pattern {pattern!r}")
        bits |= _FLAG_BITS[f]
    try:
        parsed = _sre_parse.parse(pattern, bits)
    except (re.error, ValueError, OverflowError, RecursionError) as e:
        raise UnsupportedRegexError(f"invalid regular expression {pattern!r}: {e}") from None
    if parsed.state.flags & re.LOCALE:
        raise unsupported("LOCALE flag", pattern)
    items = list(parsed)
    while len(items) == 1 and items[0][0] is _C.SUBPATTERN and not items[0][1][1] and not items[0][1][2]:
        items = list(items[0][1][3])  # a group around everything
    if len(items) == 1 and items[0][0] is _C.BRANCH and any(leads_with_lookahead(alt) for alt in items[0][1][1]):
        alts = [compile_with_lookaheads(pattern, _sre_parse.SubPattern(parsed.state, list(alt)), max_states)
                for alt in items[0][1][1]]
        return union(alts, pattern, max_states)
    return compile_with_lookaheads(pattern, parsed, max_states)
