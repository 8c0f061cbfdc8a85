"""Lookaheads at the start of a pattern (product automata) and unions of byte DFAs."""

from __future__ import annotations

import numpy as np
from re import _constants as _C
from re import _parser as _sre_parse

from .byte_dfa import ByteDFA
from .limits import too_large, unsupported
from .minimize import column_classes, minimize
from .plain import compile_plain


def leads_with_lookahead(items) -> bool:
    items = list(items)
    return bool(items) and items[0][0] in (_C.ASSERT, _C.ASSERT_NOT) and items[0][1][0] == 1


def union(dfas: list[ByteDFA], pattern: str, max_states: int) -> ByteDFA:
    """The union of byte DFAs (subset product), trimmed and minimised."""
    rows = [d.transitions.tolist() for d in dfas]
    accs = [d.accepting.tolist() for d in dfas]

    def step(states, b):
        nxt = tuple(-1 if st < 0 else rows[i][st][b] for i, st in enumerate(states))
        return None if all(x < 0 for x in nxt) else nxt

    order, table = explore(tuple(0 for _ in dfas), step, pattern, max_states, "union of alternatives", dfas)
    accepting = np.array([any(st >= 0 and accs[i][st] for i, st in enumerate(states)) for states in order], dtype=bool)
    return trimmed(table, accepting, pattern, max_states)


def explore(start, step, pattern: str, max_states: int, what: str,
            dfas: list[ByteDFA]) -> tuple[list, np.ndarray]:
    """The states reachable from ``start`` (``step(state, byte)`` gives the next one or None) in
    discovery order, and their transition table over bytes. ``dfas``: the components, whose
    states alone decide ``step``: bytes that all of them treat alike are stepped once."""
    first, byte_class = column_classes(np.concatenate([d.transitions for d in dfas], axis=0))
    representatives = first.tolist()
    index, order, table = {start: 0}, [start], []
    for state in order:
        row = [-1] * len(representatives)
        for c, b in enumerate(representatives):
            nxt = step(state, b)
            if nxt is None:
                continue
            if nxt not in index:
                if len(order) >= 4 * max_states:
                    raise too_large(pattern, what, len(order), max_states)
                index[nxt] = len(order)
                order.append(nxt)
            row[c] = index[nxt]
        table.append(row)
    return order, np.ascontiguousarray(np.array(table, dtype=np.int32)[:, byte_class])


def trimmed(table: np.ndarray, accepting: np.ndarray, pattern: str, max_states: int) -> ByteDFA:
    """The minimal ByteDFA of a table (the one-state empty DFA for an empty language)."""
    t, acc = minimize(table, accepting)
    if t.shape[0] == 0:
        return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))
    if t.shape[0] > max_states:
        raise too_large(pattern, "byte DFA", t.shape[0], max_states)
    return ByteDFA(t, acc)


def compile_with_lookaheads(pattern: str, parsed, max_states: int) -> ByteDFA:
    """``parsed`` compiled, with the lookaheads at its start applied (see the module notes)."""
    items = list(parsed)
    leading = []
    while items and items[0][0] in (_C.ASSERT, _C.ASSERT_NOT) and items[0][1][0] == 1:
        leading.append(items.pop(0))
    if not leading:
        return compile_plain(pattern, parsed, max_states)
    body = compile_plain(pattern, _sre_parse.SubPattern(parsed.state, items), max_states)
    checks = []
    for op, av in leading:
        sub = list(av[1])
        whole = bool(sub) and sub[-1][0] is _C.AT and sub[-1][1] in (_C.AT_END, _C.AT_END_STRING)
        dfa = compile_plain(pattern, _sre_parse.SubPattern(parsed.state, sub[:-1] if whole else sub), max_states)
        checks.append((op is _C.ASSERT_NOT, whole, dfa))
    return _with_lookaheads(body, checks, pattern, max_states)


def _with_lookaheads(body: ByteDFA, checks: list, pattern: str, max_states: int) -> ByteDFA:
    """``body`` restricted by lookaheads at the start of the pattern, as ``re.fullmatch`` reads
    them: ``(?=B)C`` is ``C`` and ``B·Σ*`` (some prefix matches B); ``(?!B)C`` is ``C`` minus
    ``B·Σ*``; a body ending in ``$``/``\\Z`` must match the whole string instead of a prefix.
    ``checks``: (negated, whole, DFA of B). One product automaton over bytes, trimmed and
    minimised."""
    matched = -2  # a prefix lookahead whose body has matched: decided for good
    rows = [(dfa.transitions.tolist(), dfa.accepting.tolist()) for _, _, dfa in checks]
    body_rows, body_acc = body.transitions.tolist(), body.accepting.tolist()

    def settle(states):
        out = []
        for (negated, whole, _), (t, acc), st in zip(checks, rows, states):
            if not whole and st >= 0 and acc[st]:
                st = matched
            if negated and st == matched:
                return None  # the excluded pattern matched a prefix: nothing here can be accepted
            if not negated and st == -1:
                return None  # the required pattern can no longer match
            out.append(st)
        return tuple(out)

    def accepts(s0, states) -> bool:
        if not body_acc[s0]:
            return False
        for (negated, whole, _), (t, acc), st in zip(checks, rows, states):
            hit = st == matched or (whole and st >= 0 and acc[st])
            if hit == negated:
                return False
        return True

    start = settle([0] * len(checks))
    if start is None:
        return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))

    def step(state, b):
        s0, states = state
        n0 = body_rows[s0][b]
        if n0 < 0:
            return None
        nxt = settle([st if st < 0 else rows[i][0][st][b] for i, st in enumerate(states)])
        return None if nxt is None else (n0, nxt)

    dfas = [body] + [dfa for _, _, dfa in checks]
    if np.prod([float(d.n_states) + 2 for d in dfas]) > LARGE_PRODUCT:
        return _large_product(dfas, checks, (0,) + start, pattern, max_states)
    order, table = explore((0, start), step, pattern, max_states, "lookahead product", dfas)
    for s0, states in order:  # where the token may end, every prefix lookahead must be decided
        if body_acc[s0] and any(st >= 0 and not whole and max(rows[i][0][st]) >= 0
                                for i, ((_, whole, _), st) in enumerate(zip(checks, states))):
            raise unsupported("lookahead that can look past the end of the token", pattern)
    accepting = np.array([accepts(s0, states) for s0, states in order], dtype=bool)
    return trimmed(table, accepting, pattern, max_states)


LARGE_PRODUCT = 20_000  # a product bound above which the Numba kernel explores it


def _large_product(dfas: list[ByteDFA], checks: list, start: tuple, pattern: str,
                   max_states: int) -> ByteDFA:
    """What the end of :func:`_with_lookaheads` computes, with the product explored by the
    Numba kernel :func:`grammars.regex.jit.lookahead_product` over byte classes."""
    from .jit import MATCHED, lookahead_product

    first, byte_class = column_classes(np.concatenate([d.transitions for d in dfas], axis=0))
    body, parts = dfas[0], dfas[1:]
    c_t = np.ascontiguousarray(np.concatenate([d.transitions[:, first] for d in parts], axis=0))
    c_acc = np.concatenate([d.accepting for d in parts])
    c_off = np.cumsum([0] + [d.n_states for d in parts[:-1]]).astype(np.int64)
    negated = np.array([neg for neg, _, _ in checks], dtype=bool)
    whole = np.array([w for _, w, _ in checks], dtype=bool)
    states, table, n = lookahead_product(np.ascontiguousarray(body.transitions[:, first]), c_t, c_acc,
                                         c_off, negated, whole, np.array(start, dtype=np.int64),
                                         4 * max_states)
    if n < 0:
        raise too_large(pattern, "lookahead product", 4 * max_states, max_states)
    s0, sts = states[:, 0], states[:, 1:]
    safe = np.maximum(sts, 0) + c_off  # row of each check state (masked where st < 0)
    goes_on = np.zeros(sts.shape, dtype=bool)
    for i, d in enumerate(parts):
        goes_on[:, i] = (d.transitions >= 0).any(axis=1)[np.maximum(sts[:, i], 0)]
    open_prefix = (sts >= 0) & ~whole & goes_on
    body_acc = body.accepting[s0]
    if (body_acc[:, None] & open_prefix).any():
        raise unsupported("lookahead that can look past the end of the token", pattern)
    hit = (sts == MATCHED) | (whole & (sts >= 0) & c_acc[safe])
    accepting = body_acc & (hit != negated).all(axis=1)
    return trimmed(np.ascontiguousarray(table[:, byte_class]), accepting, pattern, max_states)
