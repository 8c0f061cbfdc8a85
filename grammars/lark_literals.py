"""Lark text for regular expressions: a literal ``/.../`` that means exactly what ``re`` means.

    >>> lark_regex_literal("a/b")
    '/a\\\\/b/'
"""

from __future__ import annotations

_ESCAPE_WIDTH = {"x": 2, "u": 4, "U": 8}
_HEX = set("0123456789abcdefABCDEF")


def lark_regex_literal(pattern: str) -> str:
    """``pattern`` as a Lark regexp literal ``/.../`` that matches exactly what ``re`` matches.

    Lark ends the literal at an unescaped ``/`` and turns ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``
    escapes into the raw character before the regex is compiled, so ``\\x2e`` would become the
    wildcard ``.``: such escapes of ASCII punctuation are written as ``\\.``, ``\\/``... instead.

    Example:
        >>> lark_regex_literal(r"a/b\\/c\\x2e")
        '/a\\\\/b\\\\/c\\\\./'
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            width = _ESCAPE_WIDTH.get(nxt)
            digits = pattern[i + 2 : i + 2 + width] if width else ""
            if width and len(digits) == width and set(digits) <= _HEX:
                ch = chr(int(digits, 16))
                if ch.isascii() and ch.isprintable() and not ch.isalnum():
                    out.append("\\" + ch)  # punctuation and space: escaped, never a metacharacter
                else:
                    out.append(pattern[i : i + 2 + width])
                i += 2 + width
                continue
            out.append(c + nxt)
            i += 2
            continue
        out.append({"/": "\\/", "\n": "\\n", "\r": "\\r"}.get(c, c))
        i += 1
    return "/" + "".join(out) + "/"
