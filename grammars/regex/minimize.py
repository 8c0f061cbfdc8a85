"""DFA minimisation (Moore rounds, then Hopcroft) with canonical BFS numbering."""

from __future__ import annotations

import numpy as np

LARGE = 20_000  # states x symbol classes above which Hopcroft runs as a Numba kernel

def minimize(table: np.ndarray, accepting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimises a DFA with start 0 and -1 = dead; drops dead and unreachable states and renumbers
    in BFS order from the start (successors in symbol order, so equivalent DFAs come out identical).
    Returns (table, accepting); 0 rows if the language is empty.

    Small automata: Moore refinement (vectorised) for a few rounds, which settles typical
    terminals, then Hopcroft for the deep ones (long counted repetitions). Large automata: the
    Numba Hopcroft kernel of :mod:`grammars.regex.jit`."""
    n, k = table.shape
    if not accepting.any():
        return np.zeros((0, k), dtype=np.int32), np.zeros(0, dtype=bool)
    first_symbol, col_inv = column_classes(table)  # byte (atom) classes
    cols = table[:, first_symbol]
    kc = cols.shape[1]
    sink = n
    T = np.vstack([np.where(cols < 0, sink, cols), np.full((1, kc), sink)]).astype(np.int64)
    acc = np.append(np.asarray(accepting, dtype=bool), False)
    if T.shape[0] * kc > LARGE:
        from .jit import hopcroft_blocks  # Numba: loaded only for large automata

        bo = hopcroft_blocks(T, acc)
    else:
        bo = _moore(T, acc, max_rounds=48)
        if bo is None:
            bo = _hopcroft(T, acc)
    n_blocks = int(bo.max()) + 1
    dead = int(bo[sink])
    rep = np.zeros(n_blocks, dtype=np.int64)
    rep[bo] = np.arange(n + 1)  # some member of each block
    qt = bo[T[rep]]  # quotient [n_blocks, kc]
    # Canonical numbering: BFS from the start, successors in byte (symbol) order.
    start = int(bo[0])
    new_id = {start: 0}
    order = [start]
    i = 0
    qtl = qt[:, np.argsort(first_symbol)].tolist()
    while i < len(order):
        for t in qtl[order[i]]:
            if t != dead and t not in new_id:
                new_id[t] = len(order)
                order.append(t)
        i += 1
    remap = np.full(n_blocks, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    remap[dead] = -1
    small = remap[qt[order]]  # [m, kc]
    return np.ascontiguousarray(small[:, col_inv], dtype=np.int32), acc[rep[order]]


def column_classes(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symbols (columns) that ``table`` treats alike, numbered by first occurrence: the first
    column of each class (increasing) and the class of each column. Hashed column bytes, not a
    sort (``np.unique(axis=1)`` sorts whole columns, seconds on a large automaton)."""
    cols = np.ascontiguousarray(np.asarray(table).T)
    seen: dict[bytes, int] = {}
    inv = np.array([seen.setdefault(cols[j].tobytes(), len(seen)) for j in range(cols.shape[0])],
                   dtype=np.int64)
    first = np.unique(inv, return_index=True)[1]
    return first, inv


def _moore(T: np.ndarray, acc: np.ndarray, max_rounds: int):
    """Block of each state after Moore refinement, or None if it has not settled in max_rounds."""
    cls = acc.astype(np.int64)
    count = int(cls.max()) + 1 if acc.any() and not acc.all() else 1
    for _ in range(max_rounds):
        sig = np.ascontiguousarray(np.concatenate([cls[:, None], cls[T]], axis=1))
        rows = sig.view(np.dtype((np.void, sig.shape[1] * sig.itemsize))).reshape(-1)
        _, inv = np.unique(rows, return_inverse=True)
        inv = inv.reshape(-1)
        new_count = int(inv.max()) + 1
        cls = inv.astype(np.int64)
        if new_count == count:
            return cls
        count = new_count
    return None


def _hopcroft(T: np.ndarray, acc: np.ndarray) -> np.ndarray:
    N, kc = T.shape
    preds = []
    for c in range(kc):
        col = T[:, c]
        order = np.argsort(col, kind="stable")
        bounds = np.searchsorted(col[order], np.arange(N + 1)).tolist()
        ol = order.tolist()
        preds.append([ol[bounds[t] : bounds[t + 1]] for t in range(N)])
    accs = set(np.nonzero(acc)[0].tolist())
    rest = set(range(N)) - accs  # holds the sink at least
    blocks = [accs, rest]
    block_of = [0] * N
    for s in rest:
        block_of[s] = 1
    work = {0 if len(accs) <= len(rest) else 1}
    while work:
        a = work.pop()
        members = list(blocks[a])
        for c in range(kc):
            pc = preds[c]
            touched: dict[int, list[int]] = {}
            for t in members:
                for s in pc[t]:
                    b = block_of[s]
                    lst = touched.get(b)
                    if lst is None:
                        touched[b] = [s]
                    else:
                        lst.append(s)
            for b, xs in touched.items():
                blk = blocks[b]
                if len(xs) == len(blk):
                    continue
                xset = set(xs)
                blk -= xset
                nb = len(blocks)
                blocks.append(xset)
                for s in xs:
                    block_of[s] = nb
                if b in work or len(xset) <= len(blk):
                    work.add(nb)
                else:
                    work.add(b)
    return np.array(block_of, dtype=np.int64)
