"""One parsed pattern without leading lookaheads: NFA, subset construction, minimisation, bytes."""

from __future__ import annotations

import numpy as np

from .byte_dfa import ByteDFA
from .determinize import atoms, determinize
from .minimize import minimize
from .nfa import Context, ThompsonNFA, nfa_size_estimate
from .limits import too_large
from .utf8 import expand_bytes


def compile_plain(pattern: str, parsed, max_states: int) -> ByteDFA:
    nfa = ThompsonNFA(pattern, max_states)
    estimate = nfa_size_estimate(parsed)
    if estimate > nfa.limit:
        raise too_large(pattern, "NFA (estimated)", int(min(estimate, 10**18)), max_states)
    start = nfa.state()
    final = nfa.seq(parsed, start, parsed.state.flags, Context(0, 0, 0, False))
    atom_ivs, atoms_of = atoms(nfa.charsets)
    n_atoms = len(atom_ivs)
    limit = 4 * max_states + 100
    trackers = []
    for fs, fe in nfa.lookbehinds:
        t, acc = determinize(nfa, fs, fe, atoms_of, n_atoms, [], limit)
        trackers.append((t.tolist(), frozenset(np.nonzero(acc)[0].tolist())))
    table, accepting = determinize(nfa, start, final, atoms_of, n_atoms, trackers, limit)
    table, accepting = minimize(table, accepting)
    if table.shape[0] == 0:  # empty language
        return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))
    if table.shape[0] > max_states:
        raise too_large(pattern, "character DFA", table.shape[0], max_states)
    btable, bacc = expand_bytes(table, accepting, atom_ivs, pattern, max_states)
    if btable.shape[0] > max_states:
        raise too_large(pattern, "byte DFA", btable.shape[0], max_states)
    return ByteDFA(btable, bacc)
