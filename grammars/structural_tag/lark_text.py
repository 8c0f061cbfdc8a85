"""`LarkWriter`: builds one Lark grammar out of pieces — named terminals shared by pattern, fresh
rules, and whole sub-grammars (a JSON Schema's, a regex's, a user's Lark grammar) renamed into it.

A sub-grammar is re-written from lark's own reading of it (its BNF rules and terminal patterns), so
its rule names get a prefix and its terminals merge with equal ones elsewhere: two terminals with
the same pattern would otherwise tie in the lexer.

Example:
    >>> w = LarkWriter()
    >>> start = w.rule([[w.literal("yes")], [w.literal("no")]])
    >>> print(w.text(start))
    start: r0
    r0: L0
      | L1
    L0: "yes"
    L1: "no"
    <BLANKLINE>
"""

from __future__ import annotations

import json
import re

from lark.lexer import PatternStr

from typing import TYPE_CHECKING

from ..errors import GrammarError
from ..lark_literals import lark_regex_literal
from .free_text import escape

if TYPE_CHECKING:
    from ..grammar import Grammar

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class LarkWriter:
    """Collects rules and terminals; :meth:`text` writes the grammar."""

    def __init__(self) -> None:
        self._rules: list[tuple[str, list[list[str]]]] = []
        self._terminals: dict[tuple, str] = {}
        self._n_sub = 0

    def _terminal(self, key: tuple, prefix: str) -> str:
        name = self._terminals.get(key)
        if name is None:
            name = self._terminals[key] = f"{prefix}{len(self._terminals)}"
        return name

    def literal(self, text: str, priority: int = 0) -> str:
        """The terminal that matches ``text`` (non-empty) exactly."""
        return self._terminal(("str", text, frozenset(), priority), "L")

    def regex(self, pattern: str, flags: frozenset = frozenset(), priority: int = 0) -> str:
        """The terminal of a regex (it must not match the empty string)."""
        return self._terminal(("re", pattern, frozenset(flags), priority), "R")

    def rule(self, alternatives: list[list[str]]) -> str:
        """A new rule with these alternatives (lists of symbols; ``[]`` is the empty string)."""
        name = f"r{len(self._rules)}"
        self._rules.append((name, alternatives))
        return name

    def star(self, symbols: list[str]) -> str:
        """A new rule for zero or more repetitions of ``symbols`` (left-recursive, as LALR likes)."""
        name = f"r{len(self._rules)}"
        self._rules.append((name, [[], [name] + symbols]))
        return name

    def embed(self, grammar: Grammar, what: str) -> str:
        """Copy ``grammar`` in under fresh names; returns the name of its start rule. A grammar
        with ``%ignore`` is refused: what it ignores would be ignored in the free text too."""
        parser = grammar.parser
        if parser.lexer_conf.ignore:
            raise GrammarError(f"{what}: %ignore ({', '.join(parser.lexer_conf.ignore)}) cannot be limited to one "
                               "part of a structural tag; write the whitespace into the rules instead")
        prefix = f"g{self._n_sub}_"
        self._n_sub += 1
        terminals = {}
        for t in parser.terminals:
            p = t.pattern
            kind = "str" if isinstance(p, PatternStr) else "re"
            terminals[t.name] = self._terminal((kind, p.value, frozenset(p.flags), t.priority),
                                               "L" if kind == "str" else "R")
        grouped: dict[str, list[list[str]]] = {}
        for r in parser.rules:
            symbols = [terminals[s.name] if s.is_term else prefix + s.name for s in r.expansion]
            grouped.setdefault(prefix + r.origin.name, []).append(symbols)
        self._rules.extend(grouped.items())
        return prefix + grammar.start

    def text(self, start: str) -> str:
        """The grammar text with ``start`` as its start rule."""
        lines = [f"start: {start}"]
        for name, alternatives in self._rules:
            lines.append(f"{name}: " + "\n  | ".join(" ".join(a) for a in alternatives))
        for (kind, value, flags, priority), name in self._terminals.items():
            head = f"{name}.{priority}" if priority else name
            if kind == "str" and value.isprintable():
                body = json.dumps(value, ensure_ascii=False) + ("i" if "i" in flags else "")
            elif kind == "str":  # control characters: a regex (lark's string literals cannot hold them all)
                body = lark_regex_literal(escape(value)) + ("i" if "i" in flags else "")
            else:  # lark gives the pattern with its \xHH escapes already turned into characters
                body = lark_regex_literal(_CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", value))
                body += "".join(sorted(flags))
            lines.append(f"{head}: {body}")
        return "\n".join(lines) + "\n"
