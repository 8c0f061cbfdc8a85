"""A minimal character DFA (over atoms) to a minimal byte DFA over UTF-8."""

from __future__ import annotations

import numpy as np

from .charsets import normalize
from .limits import too_large


def utf8_sequences(lo: int, hi: int) -> list[tuple[tuple[int, int], ...]]:
    """Split the code-point range [lo, hi] (no surrogates) into sequences of byte ranges whose
    products are exactly the UTF-8 encodings of the range (as Rust regex-syntax's Utf8Sequences)."""
    out = []
    stack = [(lo, hi)]
    while stack:
        lo, hi = stack.pop()
        while True:
            for boundary in (0x7F, 0x7FF, 0xFFFF):
                if lo <= boundary < hi:
                    stack.append((boundary + 1, hi))
                    hi = boundary
                    break
            else:
                if hi <= 0x7F:
                    out.append(((lo, hi),))
                    break
                for i in (1, 2, 3):
                    m = (1 << (6 * i)) - 1
                    if lo & ~m != hi & ~m:
                        if lo & m:
                            stack.append(((lo | m) + 1, hi))
                            hi = lo | m
                            break
                        if hi & m != m:
                            stack.append((hi & ~m, hi))
                            hi = (hi & ~m) - 1
                            break
                else:
                    a = chr(lo).encode("utf-8")
                    b = chr(hi).encode("utf-8")
                    out.append(tuple(zip(a, b)))
                    break
    return out


def expand_bytes(table, accepting, atom_ivs, pattern: str, max_states: int):
    """Minimal character DFA (over atoms) -> minimal byte DFA.

    Each character state gets a deterministic byte trie of the UTF-8 sequences of its transitions.
    The tries are hash-consed bottom-up (a node is identified by its row of byte ranges -> canonical
    children), which minimises the acyclic inside-a-character part (Revuz); character states stay
    pairwise inequivalent, and a node inside a character never equals a character state or a node of
    another depth, so the result is minimal without a general minimisation pass.
    Returns (table int32 [m, 256], accepting) in canonical BFS numbering.
    """
    n = table.shape[0]
    rows: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    by_items: dict = {}  # frozenset of (rest, target) -> node
    by_row: dict = {}  # canonical row -> node
    seq_cache: dict = {}
    limit = max_states  # every node made is part of the final (minimal) DFA

    def expand(items) -> list[tuple[int, int, int]]:
        groups: dict[tuple[int, int], list] = {}
        for seq, t in items:
            groups.setdefault(seq[0], []).append((seq[1:], t))
        bounds = sorted({x for lo, hi in groups for x in (lo, hi + 1)})
        ranges = list(groups.items())
        row: list[tuple[int, int, int]] = []
        for a, b1 in zip(bounds, bounds[1:]):
            b = b1 - 1
            sub = []
            for (lo, hi), rests in ranges:
                if lo <= a and b <= hi:
                    sub.extend(rests)
            if not sub:
                continue
            if len(sub) == 1 and not sub[0][0]:
                child = sub[0][1]
            else:
                key = frozenset(sub)
                child = by_items.get(key)
                if child is None:
                    crow = tuple(expand(sub))
                    child = by_row.get(crow)
                    if child is None:
                        child = by_row[crow] = len(rows)
                        rows.append(list(crow))
                        if len(rows) > limit:
                            raise too_large(pattern, "byte DFA", len(rows), max_states)
                    by_items[key] = child
            if row and row[-1][2] == child and row[-1][1] + 1 == a:
                row[-1] = (row[-1][0], b, child)
            else:
                row.append((a, b, child))
        return row

    tl = table.tolist()
    for s in range(n):
        by_target: dict[int, list[int]] = {}
        for a, t in enumerate(tl[s]):
            if t >= 0:
                by_target.setdefault(t, []).append(a)
        if not by_target:
            continue
        items = []
        for t, atoms in by_target.items():
            key = tuple(atoms)
            seqs = seq_cache.get(key)
            if seqs is None:
                ivs = normalize([iv for a in atoms for iv in atom_ivs[a]])
                seqs = seq_cache[key] = [q for lo, hi in ivs for q in utf8_sequences(lo, hi)]
            items.extend((q, t) for q in seqs)
        rows[s] = expand(items)
    # Canonical numbering: BFS from the start, successors in byte order.
    new_id = {0: 0}
    order = [0]
    i = 0
    while i < len(order):
        for _, _, t in rows[order[i]]:
            if t not in new_id:
                new_id[t] = len(order)
                order.append(t)
        i += 1
    m = len(order)
    out = np.full((m, 256), -1, dtype=np.int32)
    for new, old in enumerate(order):
        for lo, hi, t in rows[old]:
            out[new, lo : hi + 1] = new_id[t]
    acc = np.zeros(m, dtype=bool)
    for new, old in enumerate(order):
        if old < n and accepting[old]:
            acc[new] = True
    return out, acc
