"""Regexes for free text: "any text that contains none of these strings", optionally ended by the
first occurrence of a stop string (a trigger, a tag's end).

The engine's regexes have no complement, but they have exact lookbehind where it only inspects
the token itself. "Contains none of S" is written as one character at a time, each followed by a
``(?<!s)`` for every ``s`` in S that is short enough to end there: the i-th character is followed
by the checks of the strings of at most i characters, and from the longest string's length on one
repeated group carries them all. The DFA is the strings' Aho-Corasick automaton (one state per
prefix), so the free part of a mask is one cached lexer state per trigger prefix.

A text ended by a stop uses lazy quantifiers, so the lexer takes the first place a stop completes
(lark's ``re.match`` reads lazy patterns the same way).

Example:
    >>> import re
    >>> pattern = text_avoiding(["<tool>"], nonempty=True)
    >>> [bool(re.fullmatch(pattern, s)) for s in ["hi <too", "hi <tool> x"]]
    [True, False]
    >>> stop = text_until(["</think>"], [])
    >>> bool(re.fullmatch(stop, "a < b</think>")), re.match(stop, "a</think>b</think>").group()
    (True, 'a</think>')
"""

from __future__ import annotations

from collections.abc import Iterable


def escape(text: str) -> str:
    """``text`` as a regex that matches it literally, with no raw line breaks or slashes (safe
    inside a Lark ``/.../`` literal)."""
    out = []
    for c in text:
        if c.isalnum() or ord(c) > 127:
            out.append(c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c.isprintable():
            out.append("\\" + c)
        else:
            out.append(f"\\x{ord(c):02x}")
    return "".join(out)


def _checks(strings: list[str], position: int) -> str:
    return "".join(f"(?<!{escape(s)})" for s in strings if len(s) <= position)


def _avoiding_body(strings: list[str], *, lazy: bool, nonempty: bool) -> str:
    opt, star = ("??", "*?") if lazy else ("?", "*")
    if not strings:
        return "." + ("+?" if lazy else "+") if nonempty else "." + star
    longest = max(len(s) for s in strings)
    body = f"(?:.{_checks(strings, longest)}){star}"
    for position in range(longest - 1, 0, -1):
        body = f"(?:.{_checks(strings, position)}{body}){opt}"
    if nonempty:  # the outermost optional group becomes mandatory
        body = body[: -len(opt)]
    return body


def text_avoiding(strings: Iterable[str], *, nonempty: bool = False) -> str:
    """A regex for the texts in which none of ``strings`` occurs (``nonempty``: at least one
    character)."""
    return f"(?s:{_avoiding_body(sorted(set(strings)), lazy=False, nonempty=nonempty)})"


def text_until(stops: Iterable[str], avoid: Iterable[str]) -> str:
    """A regex for a text in which none of ``avoid`` occurs, followed by one of ``stops``; read
    lazily, so it ends where a stop first completes."""
    stops = sorted(set(stops), key=lambda s: (-len(s), s))
    alternatives = "|".join(escape(s) for s in stops)
    return f"(?s:{_avoiding_body(sorted(set(avoid)), lazy=True, nonempty=False)}(?:{alternatives}))"
