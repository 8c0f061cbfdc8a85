"""Numba kernels for large automata (long counted repetitions, length-bounded string patterns):
loaded only when an automaton is large, so ordinary grammars never pay for them.

``hopcroft_blocks``: Hopcroft's partition refinement. The partition is one permutation of the
states with a slice per block; splitters are whole blocks (all symbols at once), the smaller half
of a split block joins the work list unless the block is already there. Predecessors are a CSR
array per symbol. Work O(k n log n).

``lookahead_product``: the product automaton of a body DFA and the DFAs of its leading
lookaheads (see :func:`grammars.regex.lookahead._with_lookaheads`, whose Python loop it replaces
for large automata), breadth first, states in an open-addressing hash table.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def hopcroft_blocks(T, acc):
    """Block id of each state of the total DFA ``T`` (int64 [n, k], every entry a state) with
    accepting states ``acc``: states in one block have the same language."""
    n, k = T.shape
    ptr = np.zeros((k, n + 1), np.int64)
    for s in range(n):
        for c in range(k):
            ptr[c, T[s, c] + 1] += 1
    for c in range(k):
        for t in range(n):
            ptr[c, t + 1] += ptr[c, t]
    pred = np.empty((k, n), np.int64)
    fill = ptr[:, :n].copy()
    for s in range(n):
        for c in range(k):
            t = T[s, c]
            pred[c, fill[c, t]] = s
            fill[c, t] += 1
    elems = np.empty(n, np.int64)
    loc = np.empty(n, np.int64)
    block = np.zeros(n, np.int64)
    start = np.zeros(n + 1, np.int64)
    end = np.zeros(n + 1, np.int64)
    marked = np.zeros(n + 1, np.int64)
    in_work = np.zeros(n + 1, np.bool_)
    work = np.empty(n + 1, np.int64)
    n_acc = 0
    for s in range(n):
        if acc[s]:
            n_acc += 1
    i, j = 0, n_acc
    for s in range(n):
        if acc[s]:
            elems[i] = s
            loc[s] = i
            i += 1
        else:
            elems[j] = s
            loc[s] = j
            block[s] = 1
            j += 1
    n_blocks = 0
    top = 0
    if n_acc > 0 and n_acc < n:
        start[0], end[0], start[1], end[1] = 0, n_acc, n_acc, n
        n_blocks = 2
        first = 0 if n_acc <= n - n_acc else 1
        work[0] = first
        in_work[first] = True
        top = 1
    else:  # one block: nothing to split
        for s in range(n):
            block[s] = 0
        return block
    members = np.empty(n, np.int64)
    touched = np.empty(n + 1, np.int64)
    while top > 0:
        top -= 1
        a = work[top]
        in_work[a] = False
        m = end[a] - start[a]
        for x in range(m):
            members[x] = elems[start[a] + x]
        for c in range(k):
            n_touched = 0
            for x in range(m):
                t = members[x]
                for q in range(ptr[c, t], ptr[c, t + 1]):
                    p = pred[c, q]
                    b = block[p]
                    pos = start[b] + marked[b]
                    other = elems[pos]
                    lp = loc[p]
                    elems[pos], elems[lp] = p, other
                    loc[p], loc[other] = pos, lp
                    if marked[b] == 0:
                        touched[n_touched] = b
                        n_touched += 1
                    marked[b] += 1
            for y in range(n_touched):
                b = touched[y]
                mk = marked[b]
                marked[b] = 0
                size = end[b] - start[b]
                if mk == size:
                    continue
                nb = n_blocks
                n_blocks += 1
                start[nb], end[nb] = start[b], start[b] + mk
                start[b] = start[b] + mk
                for z in range(start[nb], end[nb]):
                    block[elems[z]] = nb
                if in_work[b] or mk <= size - mk:
                    work[top] = nb
                    in_work[nb] = True
                else:
                    work[top] = b
                    in_work[b] = True
                top += 1
    return block


MATCHED = -2  # a prefix lookahead whose body has matched: decided for good


@njit(cache=True)
def _settle(nst, k, c_acc, c_off, negated, whole):
    """``nst`` (the check components after a step) settled in place; False when the product
    state is dead (an excluded prefix matched, or a required one can no longer match)."""
    for i in range(k):
        st = nst[i]
        if not whole[i] and st >= 0 and c_acc[c_off[i] + st]:
            st = MATCHED
            nst[i] = st
        if negated[i] and st == MATCHED:
            return False
        if not negated[i] and st == -1:
            return False
    return True


@njit(cache=True)
def lookahead_product(body_t, c_t, c_acc, c_off, negated, whole, start, cap):
    """Reachable states of the product (row ``(body state, check states...)``, start ``start``)
    over symbol classes, in discovery order, and their transitions (int32 [n, k_classes]); ``n``
    is -1 when more than ``cap`` states are reachable. ``c_t``/``c_acc``: the check DFAs stacked,
    check ``i`` at rows ``c_off[i]:``."""
    kc = body_t.shape[1]
    k = c_off.shape[0]
    width = k + 1
    states = np.empty((cap + 1, width), np.int64)
    table = np.full((cap + 1, kc), -1, np.int32)
    size = 1
    while size < 4 * (cap + 1):
        size *= 2
    slots = np.full(size, -1, np.int64)
    mask = size - 1
    for j in range(width):
        states[0, j] = start[j]
    h = 0
    for j in range(width):
        h = (h * 1000003 + states[0, j] + 3) & 0x7FFFFFFFFFFFFFFF
    slots[h & mask] = 0
    n = 1
    nst = np.empty(k, np.int64)
    i = 0
    while i < n:
        s0 = states[i, 0]
        for c in range(kc):
            n0 = body_t[s0, c]
            if n0 < 0:
                continue
            for j in range(k):
                st = states[i, j + 1]
                nst[j] = c_t[c_off[j] + st, c] if st >= 0 else st
            if not _settle(nst, k, c_acc, c_off, negated, whole):
                continue
            h = (n0 + 3) & 0x7FFFFFFFFFFFFFFF
            for j in range(k):
                h = (h * 1000003 + nst[j] + 3) & 0x7FFFFFFFFFFFFFFF
            pos = h & mask
            found = -1
            while slots[pos] >= 0:
                cand = slots[pos]
                same = states[cand, 0] == n0
                for j in range(k):
                    if states[cand, j + 1] != nst[j]:
                        same = False
                if same:
                    found = cand
                    break
                pos = (pos + 1) & mask
            if found < 0:
                if n >= cap:
                    return states[:0], table[:0], -1
                found = n
                states[n, 0] = n0
                for j in range(k):
                    states[n, j + 1] = nst[j]
                slots[pos] = n
                n += 1
            table[i, c] = found
        i += 1
    return states[:n], table[:n], n
