"""Python regexes as Lark terminals with ``re.fullmatch`` meaning."""

from __future__ import annotations

import re

_QUANTIFIERS = "*+?}"
_REPEAT_END = re.compile(r"\{(?:\d+|\d+,\d*|,\d+)\}$")


def greedy_pattern(pattern: str) -> str:
    r"""``pattern`` with every lazy quantifier (``*?``, ``+?``, ``??``, ``{m,n}?``) made greedy.

    Under ``re.fullmatch`` both readings accept the same strings; a Lark terminal, though, stops a
    lazy repeat at its first possible end. Escapes, character classes and group openers such as
    ``(?:`` are left alone.

    Example:
        >>> print(greedy_pattern(r"a+?b{1,2}?[?*]\*+?(?:c)??"))
        a+b{1,2}[?*]\*+(?:c)?
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = after_quantifier = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            after_quantifier = False
            continue
        if in_class:
            in_class = c != "]" or out[-1] == "["
            out.append(c)
        elif c == "?" and after_quantifier:
            after_quantifier = False  # the lazy marker: dropped
        elif c == "(" and pattern.startswith("(?", i):
            out.append("(?")
            i += 2
            after_quantifier = False
            continue
        else:
            if c == "[":
                in_class = True
                if pattern.startswith("[^", i) or pattern.startswith("[]", i):
                    out.append(pattern[i : i + 2])
                    i += 2
                    continue
            out.append(c)
            after_quantifier = c in _QUANTIFIERS and (c != "}" or _closes_repeat(out))
        i += 1
    return "".join(out)


def _closes_repeat(out: list[str]) -> bool:
    """Whether the ``}`` just written closes a ``{m}``, ``{m,}``, ``{,n}`` or ``{m,n}`` repeat."""
    return _REPEAT_END.search("".join(out[-24:])) is not None
