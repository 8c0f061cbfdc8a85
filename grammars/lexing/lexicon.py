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

import functools
from dataclasses import dataclass

import re._constants as sre_constants
import re._parser as sre_parser

import lark
import numpy as np
from lark.lexer import PatternStr

from ..errors import GrammarError, GrammarTooLargeError, UnsupportedRegexError
from ..regex import ByteDFA, literal_byte_dfa, regex_byte_dfa
from ..special_tokens import literal_bytes

MAX_LEXER_STATES = 100_000
# The mark at the end of a terminal made from an llguidance-dialect lazy rule (an empty lazy group):
# the terminal ends at its first match (see grammars.frontends.rule_attributes).
LAZY_MARK = "(?:)??"



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
    first_bytes: np.ndarray  # uint64 [n_terminals, 4]: 256-bit set of the bytes that start each
    extends_all: np.ndarray  # uint64 [n_terminals, 4]: bytes that extend every complete match

    @property
    def n_words(self) -> int:
        return int(self.live.shape[1])

    @classmethod
    def from_lark(cls, parser: lark.Lark, groups: dict[str, tuple[str, ...]] | None = None) -> "Lexicon":
        """The lexicon of a lark parser's terminals; ``groups`` (merged name -> member names, see
        :mod:`grammars.lexing.merge`) makes each group one terminal: the union of its members,
        at its first member's place in the priority order."""
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
        group_of = {m: g for g, ms in (groups or {}).items() for m in ms}
        names: list[str] = []
        dfas: list[ByteDFA] = []
        parts: dict[str, list[ByteDFA]] = {}
        for t in terminals:
            g = group_of.get(t.name)
            if g is None:
                names.append(t.name)
                dfas.append(_terminal_dfa(t))
                continue
            if g not in parts:
                parts[g] = []
                names.append(g)
                dfas.append(None)  # filled below: the union of the group
            parts[g].append(t)
        for i, name in enumerate(names):
            if dfas[i] is None:
                dfas[i] = _group_dfa(parts[name])
        names = tuple(names)
        ignored = set(parser.lexer_conf.ignore)
        n_words = max(1, (len(names) + 63) // 64)
        ignore = np.zeros(n_words, dtype=np.uint64)
        for i, name in enumerate(names):
            if name in ignored:
                ignore[i // 64] |= np.uint64(1) << np.uint64(i % 64)
        transitions, components = _product(dfas)
        live, accept, extend = _bitsets(dfas, components, transitions, n_words)
        lazy = {names.index(t.name) for t in terminals if t.name in names and _is_lazy_rule(t)}
        _check_lazy_ends(names, sorted(lazy), accept, extend)
        return cls(names, transitions, live, accept, extend, ignore, *_byte_sets(dfas))

    def productive(self) -> np.ndarray:
        """bool [n_terminals]: whether each terminal matches some text."""
        any_accept = np.bitwise_or.reduce(self.accept, axis=0)
        k = np.arange(len(self.names))
        return ((any_accept[k // 64] >> (k % 64).astype(np.uint64)) & np.uint64(1)).astype(bool)

    def swallows(self, a: int, b: int) -> bool:
        """True when terminal b can never come right after terminal a: every byte that starts b
        extends every complete match of a, and lexing is greedy."""
        first = self.first_bytes[b]
        return bool(first.any()) and not bool((first & ~self.extends_all[a]).any())

    def shares_lexemes(self, action: np.ndarray) -> bool:
        """Whether some text is matched by two terminals, neither %ignore'd, that one parser state
        may both take (a shift or a reduce in ``action``, a parse table whose first columns are
        these terminals, -1 = error: ``ParseTables.action``)."""
        allowed = action[:, :len(self.names)] != -1
        rows = np.unique(self.accept[(self.accept & self.ignore == 0).all(axis=1)], axis=0)
        rows = rows[several_bits(rows)]
        if not len(rows):
            return False
        packed = np.packbits(allowed, axis=1, bitorder="little")
        padded = np.zeros((packed.shape[0], 8 * self.n_words), dtype=np.uint8)
        padded[:, :packed.shape[1]] = packed
        states = np.unique(padded.view("<u8").astype(np.uint64), axis=0)
        return any(several_bits(states & row).any() for row in rows)

    def is_ignored(self, terminal: int) -> bool:
        return bool((self.ignore[terminal // 64] >> np.uint64(terminal % 64)) & np.uint64(1))


def several_bits(words: np.ndarray) -> np.ndarray:
    """bool per row of uint64 bitsets: whether the row has two or more bits set."""
    return ((words & (words - np.uint64(1))) != 0).any(axis=1) | ((words != 0).sum(axis=1) >= 2)


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


def _is_lazy_rule(terminal) -> bool:
    return not isinstance(terminal.pattern, PatternStr) and terminal.pattern.value.endswith(LAZY_MARK)


def _check_lazy_ends(names: tuple[str, ...], lazy: list[int], accept: np.ndarray, extend: np.ndarray) -> None:
    """Refuse a lazy-rule terminal whose match another terminal can go on from: llguidance ends
    the lexeme at the lazy match, this lexer would take the longer one (a larger language)."""
    for k in lazy:
        rows = extend[np.flatnonzero(accept[:, k // 64] & (np.uint64(1) << np.uint64(k % 64)))]
        if rows.any():
            words = rows[np.flatnonzero(rows.any(axis=1))[0]]
            w = int(np.flatnonzero(words)[0])
            other = w * 64 + (int(words[w]) & -int(words[w])).bit_length() - 1
            raise GrammarError(
                f"the lazy rule's terminal {names[k]} ends where the terminal {names[other]} can go "
                "on: llguidance ends the lexeme at the lazy match, which this lexer cannot yet do "
                "when another terminal competes (for free text with tool calls, use "
                "Grammar.from_structural_tag)")


@functools.lru_cache(maxsize=4096)
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


def _byte_sets(dfas: list[ByteDFA]) -> tuple[np.ndarray, np.ndarray]:
    """Per terminal, packed 256-bit sets (uint64 [n, 4]): the bytes that can start it, and the
    bytes that extend every complete match of it (all bytes when it has no complete match)."""
    n = len(dfas)
    first = np.zeros((n, 256), dtype=bool)
    extends_all = np.ones((n, 256), dtype=bool)
    for k, d in enumerate(dfas):
        first[k] = d.transitions[0] >= 0
        final = d.transitions[d.accepting]
        if len(final):
            extends_all[k] = (final >= 0).all(axis=0)
    pack = lambda m: np.packbits(m, axis=1).view(np.uint64).reshape(n, 4)  # noqa: E731
    return pack(first), pack(extends_all)


def _product(dfas: list[ByteDFA]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Product construction over byte classes that carries only the live terminals of each state
    (work linear in the live components, so thousands of literals cost what their trie costs);
    returns transitions and, per state, (terminal ids, their component states)."""
    if not dfas:  # a grammar without terminals (`start:`): one state that no byte leaves
        return np.full((1, 256), -1, dtype=np.int32), [(np.zeros(0, np.int64), np.zeros(0, np.int64))]
    # Bytes that every terminal treats alike form one class: the product walks classes, not bytes.
    columns = np.ascontiguousarray(np.concatenate([d.transitions for d in dfas], axis=0).T)
    seen: dict[bytes, int] = {}
    byte_class = np.array([seen.setdefault(columns[b].tobytes(), len(seen)) for b in range(256)])
    first_byte = np.unique(byte_class, return_index=True)[1]
    n_classes = len(first_byte)
    class_tables = [d.transitions[:, first_byte] for d in dfas]  # [n_i, n_classes]
    stacked = np.concatenate(class_tables, axis=0)
    offsets = np.cumsum([0] + [len(t) for t in class_tables[:-1]]).astype(np.int64)
    ks0 = np.arange(len(dfas), dtype=np.int64)
    states = [(ks0, np.zeros(len(dfas), dtype=np.int64))]
    # Keys: (terminal, state) for a single live component (most states of a literal trie, walked
    # with plain ints), the components' bytes otherwise. State 0, the start, has no key: state 0
    # means "no byte of a lexeme read yet", so a text that leads back to the components' start
    # (the "a" of /a*b/) gets a state of its own.
    index: dict = {}
    lists: dict[int, list] = {}
    rows: list = []

    def add(key, key_ks, key_vs) -> int:
        j = index[key] = len(states)
        states.append((key_ks, key_vs))
        if len(states) > MAX_LEXER_STATES:
            raise GrammarTooLargeError(
                f"the terminals' combined automaton exceeds {MAX_LEXER_STATES} states; "
                "simplify the terminal regexes (bounded repetitions, overlapping classes)"
            )
        return j

    i = 0
    while i < len(states):
        ks, vs = states[i]
        if len(ks) == 1:
            k = int(ks[0])
            table = lists.get(k)
            if table is None:
                table = lists[k] = class_tables[k].tolist()
            row = [-1] * n_classes
            for c, w in enumerate(table[int(vs[0])]):
                if w >= 0:
                    j = index.get((k, w))
                    row[c] = j if j is not None else add((k, w), ks, np.array([w], dtype=np.int64))
            rows.append(row)
            i += 1
            continue
        nxt = stacked[offsets[ks] + vs]  # [live components, n_classes]
        row = [-1] * n_classes
        alive = nxt >= 0
        columns = np.ascontiguousarray(nxt.T)
        same: dict[bytes, int] = {}  # classes with the same successor components: one lookup
        for c in np.flatnonzero(alive.any(axis=0)).tolist():
            column = columns[c].tobytes()
            j = same.get(column)
            if j is None:
                sel = alive[:, c]
                key_ks, key_vs = ks[sel], nxt[sel, c].astype(np.int64)
                key = (int(key_ks[0]), int(key_vs[0])) if len(key_ks) == 1 else key_vs.tobytes() + key_ks.tobytes()
                j = index.get(key)
                if j is None:
                    j = add(key, key_ks, key_vs)
                same[column] = j
            row[c] = j
        rows.append(row)
        i += 1
    transitions = np.ascontiguousarray(np.array(rows, dtype=np.int32)[:, byte_class])
    return transitions, states


def _literal_trie(texts: list[bytes]) -> ByteDFA:
    """The byte trie of a set of non-empty byte strings, as an automaton."""
    children: list[dict[int, int]] = [{}]
    final = [False]
    for data in texts:
        node = 0
        for b in data:
            nxt = children[node].get(b)
            if nxt is None:
                nxt = children[node][b] = len(children)
                children.append({})
                final.append(False)
            node = nxt
        final[node] = True
    src = [q for q, ch in enumerate(children) for _ in ch]
    byte = [b for ch in children for b in ch]
    dst = [t for ch in children for t in ch.values()]
    trans = np.full((len(children), 256), -1, dtype=np.int32)
    trans[src, byte] = dst
    return ByteDFA(trans, np.array(final, dtype=bool))


def _group_dfa(terminals) -> ByteDFA:
    """The automaton of a merged group of string literals: their trie (or, where a flag such as
    case-insensitivity is set, the union of their own automata)."""
    if all(not set(t.pattern.flags) - {"u", "m", "s", "x"} for t in terminals):
        try:
            return _literal_trie([literal_bytes(t.pattern.value) for t in terminals])
        except UnicodeEncodeError:
            pass  # a lone surrogate: _terminal_dfa names it
    return _union([_terminal_dfa(t) for t in terminals])


def _union(dfas: list[ByteDFA]) -> ByteDFA:
    """One automaton for the union of ``dfas`` (the product of their live components: for string
    literals, their byte trie)."""
    transitions, components = _product(dfas)
    accepting = np.array([any(dfas[k].accepting[v] for k, v in zip(ks.tolist(), vs.tolist()))
                          for ks, vs in components], dtype=bool)
    return ByteDFA(transitions, accepting)


def _bitsets(dfas, components, transitions, n_words):
    n = len(components)
    live = np.zeros((n, n_words), dtype=np.uint64)
    accept = np.zeros((n, n_words), dtype=np.uint64)
    if dfas:
        offsets = np.cumsum([0] + [len(d.accepting) for d in dfas])
        accepting = np.concatenate([d.accepting for d in dfas])
        q = np.repeat(np.arange(n, dtype=np.int64), [len(ks) for ks, _ in components])
        k = np.concatenate([ks for ks, _ in components])
        v = np.concatenate([vs for _, vs in components])
        bits = np.left_shift(np.uint64(1), (k % 64).astype(np.uint64))
        np.bitwise_or.at(live, (q, k // 64), bits)
        acc = accepting[offsets[k] + v]
        np.bitwise_or.at(accept, (q[acc], k[acc] // 64), bits[acc])
    extend = np.zeros((n, n_words), dtype=np.uint64)
    src, byte = np.nonzero(transitions >= 0)
    pairs = np.unique(src.astype(np.int64) * n + transitions[src, byte])
    np.bitwise_or.at(extend, pairs // n, live[pairs % n])
    return live, accept, extend
