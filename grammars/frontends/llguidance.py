"""The llguidance / OpenAI Lark dialect, read as plain Lark text where the meaning is clear.

Supported: ``x{m,n}``, ``x{m}``, ``x{m,}`` and ``x{,n}`` repetition after a rule, a terminal, a
string, a regex or a parenthesised group (rewritten to lark's ``x~m..n``; ``{m,}`` becomes
``x~m x*``). Refused by name, with the line, rather than read as something else: ``%json``,
``%regex``, ``%llguidance``, ``%lark`` sections, special tokens by name (``<|name|>`` outside a
string) or by id (``<[128010]>``), and rule attributes (``[lazy]``, ``[stop=...]``,
``[max_tokens=...]``, ``[capture]``, ``[temperature=...]``). Strings, regexes and comments are
never rewritten.

Example:
    >>> print(lark_from_llguidance('start: "a"{2,3} ("b" | c){1,} d{,2}\\nc: "c"\\nd: "d"'))
    start: "a"~2..3 ("b" | c)~1 ("b" | c)* d~0..2
    c: "c"
    d: "d"
"""

from __future__ import annotations

import re

from ..errors import GrammarSyntaxError

_REPEAT = re.compile(r"\{\s*(\d*)\s*(,?)\s*(\d*)\s*\}")
_SECTIONS = ("%json", "%regex", "%llguidance", "%lark")
_ATTRIBUTE = re.compile(r"\[\s*(lazy|stop|max_tokens|capture|temperature|suffix)\b[^\]\n]*\]\s*:")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def lark_from_llguidance(text: str) -> str:
    """Lark text with the same language as the llguidance-dialect ``text``, or a
    :class:`GrammarSyntaxError` naming the construct that is not supported."""
    out: list[str] = []
    atom_start = -1  # where in ``out``'s joined text the last atom began (-1: no atom)
    groups: list[int] = []
    i, n = 0, len(text)
    written = 0  # characters in out

    def emit(s: str) -> None:
        nonlocal written
        out.append(s)
        written += len(s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            emit(text[i:j])
            i = j
            continue
        if c in "\"'/":  # a string or a regex (a comment was handled above)
            j = _literal_end(text, i)
            atom_start = written
            emit(text[i:j])
            i = j
            continue
        for section in _SECTIONS:
            if text.startswith(section, i) and not text[i + len(section):i + len(section) + 1].isalnum():
                _refuse(text, i, f"the {section} section")
        if text.startswith("<[", i):
            _refuse(text, i, "a special token by id (<[...]>)")
        if text.startswith("<|", i):
            _refuse(text, i, "a special token by name (<|...|>)")
        m = _ATTRIBUTE.match(text, i)
        if m:
            _refuse(text, i, f"the rule attribute [{m[1]}...]")
        if c == "{":
            m = _REPEAT.match(text, i)
            if not m or atom_start < 0 or (not m[1] and not m[3]):
                _refuse(text, i, "a '{' that is not an {m,n} repetition after an item")
            atom = "".join(out)[atom_start:]
            low = int(m[1] or 0)
            if m[2] and not m[3]:
                rewritten = f"~{low} {atom}*" if low else "*"
            else:
                high = int(m[3]) if m[2] else low
                if high < low:
                    _refuse(text, i, f"the repetition {m[0]} (maximum below minimum)")
                rewritten = f"~{low}..{high}"
            emit(rewritten)
            atom_start = -1
            i = m.end()
            continue
        if c == "(":
            groups.append(written)
        elif c == ")" and groups:
            emit(c)
            atom_start = groups.pop()
            i += 1
            continue
        m = _NAME.match(text, i) if (c.isalpha() or c == "_") and (i == 0 or not text[i - 1].isalnum()) else None
        if m:
            atom_start = written
            emit(m[0])
            i = m.end()
            continue
        if not c.isspace():
            atom_start = -1
        emit(c)
        i += 1
    return "".join(out)


def _literal_end(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    while j < len(text) and text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    j += 1
    while j < len(text) and text[j] in "imslux":  # lark's flags after a literal
        j += 1
    return j


def _refuse(text: str, i: int, what: str) -> None:
    line = text.count("\n", 0, i) + 1
    column = i - (text.rfind("\n", 0, i) + 1) + 1
    raise GrammarSyntaxError(f"the llguidance dialect's {what} is not supported", line, column)
