"""`ParseTables`: LR tables as dense integer arrays that Numba kernels can run.

Symbols are numbered terminals first (in the lexer's priority order), then ``$END``, then the
nonterminals, then ``$root``. ``action[state, symbol]`` is ``>= 0`` for a shift (or a goto, for
nonterminals) to that state, ``-1`` for an error, and ``-2 - r`` for a reduction by rule ``r``.

Acceptance is a reduction like any other: on ``$END`` the state after the start rule reduces
``$root: start`` and the goto on ``$root`` lands on ``end_state``, a state of its own. (lark
accepts when a goto reaches its end state, which is also where a left-recursive start rule goes on:
``start: "a" | start "a"`` must still shift the second ``a`` there.)

For a grammar that is not LALR(1) the tables come from lark's LALR(1) analysis without its
conflict resolution: ``conflicts[(state, symbol)]`` lists every action of a cell that has several
(``action`` holds the first, a shift where there is one), and :mod:`grammars.parsing.glr` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import lark
import numpy as np
from lark.common import ParserConf
from lark.parsers.lalr_analysis import LALR_Analyzer

from ..errors import GrammarError
from .indentation import Indentation
from .lark_build import lalr_states

ERROR = -1


@dataclass(frozen=True)
class ParseTables:
    """Dense LR tables; the parse accepts when a goto lands on ``end_state`` (only ``$root`` goes
    there, and only on ``$END``).

    Example:
        >>> import lark
        >>> from grammars.parsing import ParseTables
        >>> tables = ParseTables.from_lark(lark.Lark('start: "a"', parser="lalr"), ["A"], "start")
        >>> tables.action.shape[1], tables.conflicts  # A, $END, start, $root
        (4, {})
    """

    action: np.ndarray  # int32 [n_states, n_symbols]
    rule_len: np.ndarray  # int32 [n_rules]
    rule_lhs: np.ndarray  # int32 [n_rules]: symbol id of the rule's left side
    start_state: int
    end_state: int
    end_symbol: int
    rule_names: tuple[str, ...]
    conflicts: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    symbol_names: tuple[str, ...] = ()
    indentation: Indentation | None = None  # an indenter's names: the general path runs it
    # terminals that match the same text, in a parser state that can take each, are all followed
    # (``Grammar.lexing == "all"``): the general path runs it, forking on such a lexeme
    shared_lexemes: bool = False

    @property
    def general(self) -> bool:
        """Whether the general path must run these tables (conflicts, an indenter, or lexemes that
        several terminals the parser may take match, each to be followed)."""
        return bool(self.conflicts) or self.indentation is not None or self.shared_lexemes

    @classmethod
    def from_lark(cls, parser: lark.Lark, terminal_names: list[str], start: str,
                  indentation: Indentation | None = None) -> "ParseTables":
        """The tables of a lark parser (a ``lark.Lark`` or the engine's
        :class:`~grammars.parsing.lark_build.LarkGrammar`): lark's own LALR(1) table when
        ``parser`` is a LALR parser, else (an Earley parser: the grammar has conflicts) every
        action of lark's analysis; with an ``indentation``, its indent and dedent terminals are
        columns too."""
        if getattr(parser, "lalr", None) is not None:
            states, start_state = parser.lalr
        elif parser.options.parser == "lalr":
            states, start_state = _lalr_states(parser, start)
        else:
            states, start_state = _all_actions(parser, start)
        nonterminals = {r.origin.name for r in parser.rules}
        if indentation is not None:
            terminal_names = list(terminal_names) + [indentation.indent, indentation.dedent]
        tables = _dense(states, start_state, terminal_names, nonterminals | {start})
        return tables if indentation is None else replace(tables, indentation=indentation)


_SHIFT, _REDUCE, _ACCEPT = "shift", "reduce", "accept"


def _lalr_states(parser: lark.Lark, start: str):
    return lalr_states(parser.parser.parser.parser.parse_table, start)


class _AllActionsAnalyzer(LALR_Analyzer):
    """lark's LALR(1) analysis, stopped before it resolves (or refuses) conflicts."""

    def compute_lalr1_states(self) -> None:  # kept: the lookaheads are all we need
        pass


def _all_actions(parser: lark.Lark, start: str):
    _refuse_hidden_left_recursion(parser.rules)
    if getattr(parser, "all_actions", None) is not None:  # lark_build's, from parsing.lalr
        return parser.all_actions
    analyzer = getattr(parser, "analyzer", None)  # lark_build's analysis, lookaheads computed
    if analyzer is None:
        analyzer = _AllActionsAnalyzer(ParserConf(parser.rules, None, [start]))
        analyzer.compute_lr0_states()
        analyzer.compute_reads_relations()
        analyzer.compute_includes_lookback()
        analyzer.compute_lookaheads()
    first = analyzer.lr0_start_states[start]
    number = {first: 0}
    order = [first]
    for itemset in order:  # numbered breadth-first, symbols in name order: deterministic
        for sym in sorted(itemset.transitions, key=lambda s: s.name):
            nxt = itemset.transitions[sym]
            if nxt not in number:
                number[nxt] = len(order)
                order.append(nxt)
    states: dict[int, dict[str, list]] = {}
    for itemset in order:
        acts: dict[str, list] = {s.name: [(_SHIFT, number[n])] for s, n in itemset.transitions.items()}
        for la, rules in itemset.lookaheads.items():
            for rule in sorted(rules, key=str):
                if not rule.origin.name.startswith("$root_"):
                    acts.setdefault(la.name, []).append((_REDUCE, rule))
        if any(item.rule.origin.name == f"$root_{start}" and item.is_satisfied for item in itemset.closure):
            acts.setdefault("$END", []).insert(0, (_ACCEPT, None))
        states[number[itemset]] = acts
    return states, 0


def _dense(states, start_state: int, terminal_names: list[str], nonterminal_names: set[str]):
    term_id = {name: i for i, name in enumerate(terminal_names)}
    end_symbol = len(terminal_names)
    nonterminals = sorted(nonterminal_names)
    nt_id = {name: end_symbol + 1 + i for i, name in enumerate(nonterminals)}
    root_symbol = end_symbol + 1 + len(nonterminals)
    rules: dict[object, int] = {None: 0}  # rule 0 is $root: start
    n_states = len(states) + 1
    end_state = n_states - 1
    action = np.full((n_states, root_symbol + 1), ERROR, dtype=np.int32)
    conflicts: dict[tuple[int, int], tuple[int, ...]] = {}
    for state, acts in states.items():
        for name, options in acts.items():
            sym = end_symbol if name == "$END" else term_id.get(name, nt_id.get(name))
            if sym is None:
                continue  # a terminal that no lexer state can produce
            codes = []
            for kind, arg in options:
                if kind == _SHIFT:
                    codes.append(int(arg))
                elif kind == _ACCEPT:
                    codes.append(-2)
                else:
                    codes.append(-2 - rules.setdefault(arg, len(rules)))
            codes = sorted(dict.fromkeys(codes), reverse=True)  # a shift first, as lark resolves
            action[state, sym] = codes[0]
            if len(codes) > 1:
                conflicts[(state, sym)] = tuple(codes)
    action[start_state, root_symbol] = end_state
    rule_len = np.zeros(len(rules), dtype=np.int32)
    rule_lhs = np.zeros(len(rules), dtype=np.int32)
    names = [""] * len(rules)
    rule_len[0], rule_lhs[0], names[0] = 1, root_symbol, "$root"
    for rule, r in rules.items():
        if rule is not None:
            rule_len[r] = len(rule.expansion)
            rule_lhs[r] = nt_id[rule.origin.name]
            names[r] = rule.origin.name
    symbol_names = tuple(terminal_names) + ("$END",) + tuple(nonterminals) + ("$root",)
    return ParseTables(action, rule_len, rule_lhs, int(start_state), end_state, end_symbol,
                       tuple(names), conflicts, symbol_names)


def _refuse_hidden_left_recursion(rules) -> None:
    """Refuse ``a: x a "b" | "c"`` with ``x`` able to derive the empty string: a parser stack
    would need one empty ``x`` per ``b`` still to come, a number no finite set of stacks can
    guess. (Plain left recursion, ``a: a "b"``, is fine.)"""
    nullable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for r in rules:
            if r.origin.name not in nullable and all(not s.is_term and s.name in nullable for s in r.expansion):
                nullable.add(r.origin.name)
                changed = True
    corner: dict[str, set[str]] = {}  # a -> the rules that can begin a's text
    hidden: list[tuple[str, str, str]] = []  # (a, b, the empty x before b)
    for r in rules:
        for i, s in enumerate(r.expansion):
            if s.is_term:
                break
            corner.setdefault(r.origin.name, set()).add(s.name)
            if i:
                hidden.append((str(r.origin.name), str(s.name), str(r.expansion[i - 1].name)))
            if s.name not in nullable:
                break
    for a, b, empty in hidden:
        seen, work = {b}, [b]
        while work:
            for nxt in corner.get(work.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    work.append(nxt)
        if a in seen:
            raise GrammarError(
                f"rule {a!r} is left-recursive behind {empty!r}, which can be empty (hidden left "
                f"recursion); the general parser cannot follow it. Make {empty!r} non-empty there "
                f"(split the alternative into one with {empty!r} and one without)")
