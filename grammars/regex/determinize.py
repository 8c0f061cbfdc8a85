"""Atoms (the code-point classes no set tells apart) and subset construction over them."""

from __future__ import annotations

import numpy as np

from .charsets import MAX_CODE_POINT
from .limits import WORK_PER_STATE, too_large, too_much_work
from .nfa import ThompsonNFA


def atoms(charsets):
    """Partition of the code points used by ``charsets`` into atoms.

    Returns (atom intervals list, per charset the list of its atoms).
    """
    bounds = {0, MAX_CODE_POINT + 1}
    for ivs in charsets:
        for lo, hi in ivs:
            bounds.add(lo)
            bounds.add(hi + 1)
    if not charsets:
        return [], []
    b = np.array(sorted(bounds), dtype=np.int64)
    n_el = len(b) - 1
    m = len(charsets)
    member = np.zeros((m, n_el + 1), dtype=np.int32)
    for i, ivs in enumerate(charsets):
        if ivs:
            arr = np.array(ivs, dtype=np.int64)
            np.add.at(member[i], np.searchsorted(b, arr[:, 0]), 1)
            np.add.at(member[i], np.searchsorted(b, arr[:, 1] + 1), -1)
    member = np.cumsum(member, axis=1)[:, :n_el] > 0  # [m, n_el]
    packed = np.ascontiguousarray(np.packbits(member, axis=0).T)  # [n_el, ceil(m/8)]
    sig = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(n_el)
    _, first, inv = np.unique(sig, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    covered = member.any(axis=0)
    # Atom ids in order of first appearance, skipping the "in no set" class.
    order = [int(c) for c in np.argsort(first) if covered[first[c]]]
    atom_id = np.full(len(first), -1, dtype=np.int64)
    atom_id[order] = np.arange(len(order))
    el_atom = atom_id[inv]
    atom_ivs: list[list[tuple[int, int]]] = [[] for _ in order]
    los, his = b[:-1].tolist(), (b[1:] - 1).tolist()
    for j, a in enumerate(el_atom.tolist()):
        if a >= 0:
            lst = atom_ivs[a]
            if lst and lst[-1][1] + 1 == los[j]:
                lst[-1] = (lst[-1][0], his[j])
            else:
                lst.append((los[j], his[j]))
    per_charset = []
    for i in range(m):
        per_charset.append(sorted(set(el_atom[member[i]].tolist())))
    return atom_ivs, per_charset


def determinize(nfa: ThompsonNFA, start: int, final: int, atoms_of, n_atoms: int, trackers, limit: int):
    """Subset construction over atoms. ``trackers``: list of (table, accept set) of the lookbehind
    automata (run in parallel on the text read). Returns (table int32 [n, n_atoms], accepting)."""
    eps, edges, cond = nfa.eps, nfa.edges, nfa.cond
    budget = WORK_PER_STATE * max(nfa.max_states, 1000)
    work = 0

    def closure(seed, tr):
        nonlocal work
        seen = set(seed)
        stack = list(seed)
        work += len(stack)
        while stack:
            s = stack.pop()
            work += 1
            if work > budget:
                raise too_much_work(nfa.pattern, work, nfa.max_states)
            for t in eps[s]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
            for t, lb, neg in cond[s]:
                if t not in seen and (tr[lb] in trackers[lb][1]) != neg:
                    seen.add(t)
                    stack.append(t)
        return frozenset(s for s in seen if edges[s] or s == final)

    tr0 = tuple(0 for _ in trackers)
    key0 = (closure([start], tr0), tr0)
    ids = {key0: 0}
    keys = [key0]
    rows: list[dict[int, int]] = []
    memo: dict = {}
    i = 0
    while i < len(keys):
        key, tr = keys[i]
        moves: dict[int, set] = {}
        work += len(key)
        if work > budget:
            raise too_much_work(nfa.pattern, work, nfa.max_states)
        for s in key:
            for cs, t in edges[s]:
                work += len(atoms_of[cs])
                for a in atoms_of[cs]:
                    ms = moves.get(a)
                    if ms is None:
                        moves[a] = {t}
                    else:
                        ms.add(t)
        row = {}
        for a, ts in moves.items():
            tr2 = tuple(trackers[j][0][tr[j]][a] for j in range(len(trackers))) if trackers else ()
            mk = (frozenset(ts), tr2)
            nk = memo.get(mk)
            if nk is None:
                nk = memo[mk] = (closure(ts, tr2), tr2)
            j = ids.get(nk)
            if j is None:
                j = ids[nk] = len(keys)
                keys.append(nk)
                if len(keys) > limit:
                    raise too_large(nfa.pattern, "character DFA", len(keys), nfa.max_states)
            row[a] = j
        rows.append(row)
        i += 1
    table = np.full((len(keys), max(n_atoms, 1)), -1, dtype=np.int32)
    for s, row in enumerate(rows):
        if row:
            table[s, list(row)] = list(row.values())
    accepting = np.array([final in k for k, _ in keys], dtype=bool)
    return table, accepting
