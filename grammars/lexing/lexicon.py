"""`Lexicon`: every terminal of a grammar as one byte automaton that runs them all in parallel.

Each state of the combined automaton is the tuple of the terminals' own states. Per state it keeps
three terminal bitsets (uint64 words): ``live`` (terminals that can still match), ``accept``
(terminals matched here) and ``extend`` (terminals that some next byte keeps alive). The parser
restricts them to the terminals it can take next, so one automaton serves every parser state.

Terminals are numbered in lark's lexer priority order (priority, then string literals before
regexes, then the larger maximum width, then the longer pattern, then name): where several
terminals match the same text, the lowest number wins, as in lark's contextual lexer.
"""

from __future__ import annotations

from dataclasses import dataclass

import re._constants as sre_constants
import re._parser as sre_parser

import lark
import numpy as np
from lark.lexer import PatternStr

from ..errors import GrammarTooLargeError, UnsupportedRegexError
from ..regex import ByteDFA, literal_byte_dfa, regex_byte_dfa

MAX_LEXER_STATES = 100_000



@dataclass(frozen=True)
class Lexicon:
    """The grammar's terminals as one deterministic byte automaton (state 0 = nothing read).

    Example:
        >>> import lark
        >>> lex = Lexicon.from_lark(lark.Lark('start: A B\\nA: "a"+\\nB: "b"', parser="lalr"))
        >>> lex.names
        ('B', 'A')
        >>> int(lex.transitions[0, ord("a")]) > 0
        True
    """

    names: tuple[str, ...]
    transitions: np.ndarray  # int32 [n_states, 256], -1 = no terminal can go on
    live: np.ndarray  # uint64 [n_states, n_words]
    accept: np.ndarray  # uint64 [n_states, n_words]
    extend: np.ndarray  # uint64 [n_states, n_words]
    ignore: np.ndarray  # uint64 [n_words]: terminals dropped between tokens (%ignore)
    swallows: np.ndarray  # bool [n_terminals, n_terminals]: see `_swallows`

    @property
    def n_words(self) -> int:
        return int(self.live.shape[1])

    @classmethod
    def from_lark(cls, parser: lark.Lark) -> "Lexicon":
        # lark's order: priority, then (its "unless" rule) a string literal before a regex that
        # matches the same text, then the regex with the larger maximum width, then the longer
        # pattern, then the name.
        terminals = sorted(
            parser.terminals,
            key=lambda t: (
                -t.priority,
                not isinstance(t.pattern, PatternStr),
                -t.pattern.max_width,
                -len(t.pattern.value),
                t.name,
            ),
        )
        names = tuple(t.name for t in terminals)
        dfas = [_terminal_dfa(t) for t in terminals]
        ignored = set(parser.lexer_conf.ignore)
        n_words = max(1, (len(terminals) + 63) // 64)
        ignore = np.zeros(n_words, dtype=np.uint64)
        for i, name in enumerate(names):
            if name in ignored:
                ignore[i // 64] |= np.uint64(1) << np.uint64(i % 64)
        transitions, components = _product(dfas)
        live, accept, extend = _bitsets(dfas, components, transitions, n_words)
        return cls(names, transitions, live, accept, extend, ignore, _swallows(dfas))

    def is_ignored(self, terminal: int) -> bool:
        return bool((self.ignore[terminal // 64] >> np.uint64(terminal % 64)) & np.uint64(1))


def _terminal_dfa(terminal) -> ByteDFA:
    pattern = terminal.pattern
    try:
        if isinstance(pattern, PatternStr):
            return literal_byte_dfa(pattern.value, pattern.flags)
        dfa = regex_byte_dfa(pattern.value, pattern.flags)
        # lark's lexer stops a lazy pattern (".*?" in ESCAPED_STRING, C_COMMENT) at its first
        # possible end: keep only the matches that have no shorter match as a prefix.
        return dfa.prefix_free() if _has_lazy_repeat(pattern.value) else dfa
    except UnsupportedRegexError as e:
        raise type(e)(f"terminal {terminal.name}: {e}") from None


def _has_lazy_repeat(pattern: str) -> bool:
    def walk(items) -> bool:
        for op, arg in items:
            if op == sre_constants.MIN_REPEAT:
                return True
            for sub in arg if isinstance(arg, (list, tuple)) else ():
                if isinstance(sub, sre_parser.SubPattern) and walk(sub):
                    return True
                if isinstance(sub, (list, tuple)) and any(
                    isinstance(x, sre_parser.SubPattern) and walk(x) for x in sub
                ):
                    return True
        return False

    return walk(sre_parser.parse(pattern))


def _swallows(dfas: list[ByteDFA]) -> np.ndarray:
    """``[a, b]`` is True when terminal b can never come right after terminal a: every byte that
    starts b extends every complete match of a, and lexing is greedy."""
    n = len(dfas)
    out = np.zeros((n, n), dtype=bool)
    for a, da in enumerate(dfas):
        final = da.transitions[da.accepting]  # rows of a's complete matches
        if not len(final):
            continue
        extends_all = (final >= 0).all(axis=0)  # bytes that extend every complete match of a
        for b, db in enumerate(dfas):
            first = np.flatnonzero(db.transitions[0] >= 0)
            out[a, b] = len(first) > 0 and bool(extends_all[first].all())
    return out


def _product(dfas: list[ByteDFA]) -> tuple[np.ndarray, np.ndarray]:
    """Subset-free product construction over byte classes; returns transitions and, per state,
    the component state of each terminal (-1 = dead)."""
    if not dfas:  # a grammar without terminals (`start:`): one state that no byte leaves
        return np.full((1, 256), -1, dtype=np.int32), np.zeros((1, 0), dtype=np.int32)
    tables = [d.transitions for d in dfas]
    # Bytes that every terminal treats alike form one class: the product walks classes, not bytes.
    signature = np.concatenate([t.T for t in tables], axis=1)
    _, first_byte, byte_class = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    byte_class = byte_class.reshape(-1)
    n_classes = len(first_byte)
    class_tables = [t[:, first_byte] for t in tables]  # [n_i, n_classes]
    start = tuple(0 for _ in dfas)
    index = {start: 0}
    states = [start]
    rows: list[np.ndarray] = []
    dead = np.full(n_classes, -1, dtype=np.int32)
    i = 0
    while i < len(states):
        comp = states[i]
        nxt = np.stack([class_tables[k][s] if s >= 0 else dead for k, s in enumerate(comp)])
        row = np.full(n_classes, -1, dtype=np.int32)
        alive = (nxt >= 0).any(axis=0)
        for c, key in zip(np.flatnonzero(alive).tolist(), map(tuple, nxt[:, alive].T.tolist())):
            j = index.get(key)
            if j is None:
                j = index[key] = len(states)
                states.append(key)
                if len(states) > MAX_LEXER_STATES:
                    raise GrammarTooLargeError(
                        f"the terminals' combined automaton exceeds {MAX_LEXER_STATES} states; "
                        "simplify the terminal regexes (bounded repetitions, overlapping classes)"
                    )
            row[c] = j
        rows.append(row)
        i += 1
    transitions = np.ascontiguousarray(np.stack(rows)[:, byte_class], dtype=np.int32)
    return transitions, np.array(states, dtype=np.int32).reshape(len(states), len(dfas))


def _bitsets(dfas, components, transitions, n_words):
    n = len(components)
    live = np.zeros((n, n_words), dtype=np.uint64)
    accept = np.zeros((n, n_words), dtype=np.uint64)
    for k, dfa in enumerate(dfas):
        word, bit = k // 64, np.uint64(1) << np.uint64(k % 64)
        comp = components[:, k]
        alive = comp >= 0
        live[alive, word] |= bit
        acc = np.zeros(n, dtype=bool)
        acc[alive] = dfa.accepting[comp[alive]]
        accept[acc, word] |= bit
    extend = np.zeros((n, n_words), dtype=np.uint64)
    for q in range(n):
        succ = transitions[q]
        succ = np.unique(succ[succ >= 0])
        if len(succ):
            extend[q] = np.bitwise_or.reduce(live[succ], axis=0)
    return live, accept, extend
