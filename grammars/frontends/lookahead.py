r'''Lookaheads of lark's ``python.lark`` that reach past the token, kept exactly by greedy lexing.

A terminal's DFA sees only the token's own text, so the regex engine refuses a lookahead that
may read past the token's end (:mod:`grammars.regex`). lark's Python grammar has two:

* ``STRING``: ``"(?!"")...`` (and ``'(?!'')``) stops ``""`` from being read as an empty string
  where ``"""`` opens a long string. With the lookahead dropped, the greedy lexer still never ends
  ``""`` before a third ``"``: ``LONG_STRING``, acceptable wherever ``string`` is, keeps the lexeme
  alive (``P"""`` is a live prefix of it for every string prefix ``P``), and a lexeme that dies
  later is not cut back (lark fails there too: ``STRING`` cannot match, ``LONG_STRING`` did not).
  Where only ``STRING`` is acceptable (a ``case`` literal pattern), ``""`` ends and the next ``"``
  could only begin another string, which no such place takes: the text is rejected either way.
* ``DEC_NUMBER``: ``0(?:_?0)*(?![1-9])`` stops a run of zeros before a non-zero digit. Dropped,
  the greedy lexer does not end the run there either: ``IMAG_NUMBER`` (``_SPECIAL_DEC j``, an
  alternative of the same ``number`` rule) keeps every ``0(_?0)*`` followed by ``[1-9]`` alive, and
  if it dies later the text is rejected, as lark rejects ``01``.

:func:`drop_past_token_lookaheads` replaces exactly these patterns (lark's own text of them) by
their lookahead-free form, after checking on the automata that the sibling terminal is there and
keeps each such lexeme alive; any other lookahead is left to the regex engine, which names it.
The oracle tests (``tests/test_python_grammar.py``) compare the result with lark's LALR parser
and ``PythonIndenter`` on real Python and on random walks.
'''

from __future__ import annotations

from dataclasses import dataclass

import lark
from lark.lexer import PatternRE, TerminalDef

from ..regex import regex_byte_dfa


@dataclass(frozen=True)
class _Idiom:
    pattern: str  # lark's pattern text, lookahead included
    rewritten: str  # the same pattern without it
    sibling: str  # the terminal whose live prefixes enforce the lookahead
    checks: tuple[tuple[str, str], ...]  # (regex of the texts after which the lookahead
    # matters, the characters it forbids next)


_STRING = r"""([ubf]?r?|r[ubf])("(?!"").*?(?<!\\)(\\\\)*?"|'(?!'').*?(?<!\\)(\\\\)*?')"""
_IDIOMS = {
    "STRING": _Idiom(_STRING, _STRING.replace('"(?!"")', '"').replace("'(?!'')", "'"),
                     "LONG_STRING", ((r'([ubf]?r?|r[ubf])""', '"'), (r"([ubf]?r?|r[ubf])''", "'"))),
    "DEC_NUMBER": _Idiom("(?:0(?:(?:_)?0)*(?![1-9])|[1-9](?:(?:_)?[0-9])*)",
                         "(?:0(?:(?:_)?0)*|[1-9](?:(?:_)?[0-9])*)", "IMAG_NUMBER", (("0(?:_?0)*", "123456789"),)),
}


def drop_past_token_lookaheads(parser: lark.Lark) -> tuple[str, ...]:
    """Replace, in ``parser.terminals`` (new objects: lark's own lexers keep theirs), the
    python.lark terminals whose lookahead greedy lexing already enforces; returns their names.

    Example:
        >>> g = lark.Lark('start: DEC_NUMBER | IMAG_NUMBER\\n%import python (DEC_NUMBER, IMAG_NUMBER)')
        >>> drop_past_token_lookaheads(g)
        ('DEC_NUMBER',)
    """
    by_name = {t.name: t for t in parser.terminals}
    done = []
    for i, t in enumerate(parser.terminals):
        idiom = _IDIOMS.get(t.name)
        if idiom is None or not isinstance(t.pattern, PatternRE) or t.pattern.value != idiom.pattern:
            continue
        sibling = by_name.get(idiom.sibling)
        if sibling is None or not all(_keeps_alive(sibling, before, nexts, t.pattern.flags)
                                      for before, nexts in idiom.checks):
            continue
        parser.terminals[i] = TerminalDef(t.name, PatternRE(idiom.rewritten, t.pattern.flags, t.pattern.raw),
                                          t.priority)
        done.append(str(t.name))
    return tuple(done)


def _keeps_alive(sibling: TerminalDef, before: str, next_chars: str, flags) -> bool:
    """Whether ``x + c`` is a live prefix of the sibling for every match ``x`` of ``before`` and
    every ``c`` of ``next_chars`` (a walk of the product of the two automata)."""
    try:
        sib = regex_byte_dfa(sibling.pattern.to_regexp(), sibling.pattern.flags)
        before = regex_byte_dfa(before, flags)
    except ValueError:
        return False
    if not sib.accepting.any():
        return False
    srows, brows, bacc = sib.transitions.tolist(), before.transitions.tolist(), before.accepting.tolist()
    nexts = [ord(c) for c in next_chars]
    seen, work = {(0, 0)}, [(0, 0)]
    while work:
        qb, qs = work.pop()
        if bacc[qb] and any(srows[qs][c] < 0 for c in nexts):
            return False
        for byte in range(256):
            nb = brows[qb][byte]
            if nb < 0:
                continue
            ns = srows[qs][byte]
            if ns < 0:
                return False  # the sibling dies inside such a text (the automata are trimmed)
            if (nb, ns) not in seen:
                seen.add((nb, ns))
                work.append((nb, ns))
    return True
