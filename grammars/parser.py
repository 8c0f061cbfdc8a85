"""`ParseTables`: lark's LALR(1) tables as dense integer arrays that Numba kernels can run.

Symbols are numbered terminals first (in the lexer's priority order), then ``$END``, then the
nonterminals. ``action[state, symbol]`` is ``>= 0`` for a shift (or a goto, for nonterminals) to that
state, ``-1`` for an error, and ``-2 - r`` for a reduction by rule ``r``.
"""

from __future__ import annotations

from dataclasses import dataclass

import lark
import numpy as np

ERROR = -1


@dataclass(frozen=True)
class ParseTables:
    """Dense LALR(1) tables. ``end_symbol`` is ``$END``; the parse accepts when a goto lands on
    ``end_state`` while ``$END`` is the lookahead (lark's convention).

    Example:
        >>> import lark
        >>> from grammars.parser import ParseTables
        >>> tables = ParseTables.from_lark(lark.Lark('start: "a"', parser="lalr"), ["A"], "start")
        >>> tables.action.shape[1]  # A, $END, start
        3
    """

    action: np.ndarray  # int32 [n_states, n_symbols]
    rule_len: np.ndarray  # int32 [n_rules]
    rule_lhs: np.ndarray  # int32 [n_rules]: symbol id of the rule's left side
    start_state: int
    end_state: int
    end_symbol: int
    rule_names: tuple[str, ...]

    @classmethod
    def from_lark(cls, parser: lark.Lark, terminal_names: list[str], start: str) -> "ParseTables":
        table = parser.parser.parser.parser.parse_table
        term_id = {name: i for i, name in enumerate(terminal_names)}
        end_symbol = len(terminal_names)
        nonterminals = sorted({r.origin.name for r in parser.rules})
        nt_id = {name: end_symbol + 1 + i for i, name in enumerate(nonterminals)}
        rules: dict[object, int] = {}
        for actions in table.states.values():
            for _, (kind, arg) in actions.items():
                if kind.name == "Reduce" and arg not in rules:
                    rules[arg] = len(rules)
        n_states = len(table.states)
        action = np.full((n_states, end_symbol + 1 + len(nonterminals)), ERROR, dtype=np.int32)
        for state, actions in table.states.items():
            for name, (kind, arg) in actions.items():
                if name == "$END":
                    sym = end_symbol
                elif name in term_id:
                    sym = term_id[name]
                elif name in nt_id:
                    sym = nt_id[name]
                else:
                    continue  # a terminal that no lexer state can produce
                action[state, sym] = arg if kind.name == "Shift" else -2 - rules[arg]
        rule_len = np.zeros(len(rules), dtype=np.int32)
        rule_lhs = np.zeros(len(rules), dtype=np.int32)
        names = [""] * len(rules)
        for rule, r in rules.items():
            rule_len[r] = len(rule.expansion)
            rule_lhs[r] = nt_id[rule.origin.name]
            names[r] = rule.origin.name
        return cls(
            action=action,
            rule_len=rule_len,
            rule_lhs=rule_lhs,
            start_state=int(table.start_states[start]),
            end_state=int(table.end_states[start]),
            end_symbol=end_symbol,
            rule_names=tuple(names),
        )
