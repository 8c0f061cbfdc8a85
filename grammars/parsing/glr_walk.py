"""The stack-independent part of the general path's mask walk, as a Numba kernel.

Below a trie node, as long as a walk only extends the current lexeme or ends ``%ignore``'d
terminals, the parser stack does not change: what the walk allows depends only on the lexer state,
the terminals the stack can shift (``acc``) and, with an indenter, the column of a newline lexeme.
:func:`subtree_walk` marks those tokens and lists the nodes where a terminal the parser must take
ends (the *boundaries*), where the general parser (:mod:`grammars.parsing.glr`) steps each branch
in Python. The rules are those of ``GeneralParser.step`` (and of ``grammars.kernels``): greedy,
contextual, the lowest accepting terminal, a complete lexeme that nothing can extend ended at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..kernels import _any, _has, _lowest, _mark_tokens

OVERFLOW = -2
NO_LINE = -1  # the column of a newline lexeme that holds no \n yet (see grammars.parsing.indented)


# What a byte that leads to lexer state q does (``cont``), for one set of shiftable terminals:
GONE, GO, GO_IGNORED_END, GO_SETTLE = 0, 1, 2, 3  # not live; live; live, then an ignored
# terminal or one the parser must take ends at once (complete, nothing extends it)
# What a byte that cannot extend the lexeme in state q does (``ends``):
DEAD, IGNORED_END, END = 0, 1, 2
# The kinds of boundary: the lexeme before the node ends (the node's byte then starts the next),
# or the node's byte completes a terminal that ends at once.
END_BEFORE, SETTLE_AT = 0, 1


@njit(cache=True, inline="always")
def _set_tokens(token_ids, lo, hi, out, touched, nt):
    """Set in ``out`` the tokens ``token_ids[lo:hi]``, appending to ``touched`` (``nt`` entries so
    far) each word that was zero; returns the new count."""
    for j in range(lo, hi):
        tok = token_ids[j]
        w = tok >> 5
        if out[w] == 0:
            touched[nt] = w
            nt += 1
        out[w] |= np.uint32(1) << np.uint32(tok & 31)
    return nt


@njit(cache=True)
def classify(acc, live, accept, extend, ignore, cont, ends, term):
    """Fill ``cont``, ``ends`` (int8) and ``term`` (the lowest accepting terminal, int32), one
    entry per lexer state, for the shiftable terminals ``acc``."""
    row = acc.reshape((1, acc.shape[0]))  # the kernels' bitset helpers compare table rows
    for q in range(live.shape[0]):
        t = _lowest(accept, q, row, 0)
        term[q] = t
        if not _any(live, q, row, 0):
            cont[q] = GONE
        elif t >= 0 and not _any(extend, q, row, 0):
            cont[q] = GO_IGNORED_END if _has(ignore, t) else GO_SETTLE
        else:
            cont[q] = GO
        ends[q] = DEAD if q == 0 or t < 0 else IGNORED_END if _has(ignore, t) else END


@njit(cache=True, inline="always")
def _column(col, q, byte, newline_live, tab_len):
    """``IndentedParser._lexing``: the column after ``byte`` joined the lexeme in state q (the
    new state's ``newline_live``: the newline terminal is still live)."""
    if not newline_live or byte == 10:
        return 0
    if q == 0 or col == NO_LINE:
        return NO_LINE
    return col + (1 if byte == 32 else tab_len if byte == 9 else 0)


@njit(cache=True)
def subtree_walk(starts, inclusive, q0, col0, cont, ends, term, newline_live, tab_len, max_depth,
                 node_byte, node_depth, subtree_end, token_start, token_ids, transitions, out,
                 touched, b_node, b_kind, b_term, b_col):
    """Walk the trie from each of the nodes ``starts`` (the node itself too if ``inclusive``,
    else only below it) from lexer state ``q0`` and column ``col0`` before the first byte, for
    the shiftable terminals that ``cont``, ``ends`` and ``term`` were made for
    (:func:`classify`). Sets in ``out`` (uint32 words, zero on entry) every token reached
    without a parser decision and lists the words it set non-zero in ``touched``; lists the
    nodes where the parser must take a terminal (``b_node``): the kind (``END_BEFORE`` or
    ``SETTLE_AT``), the terminal and the column of the lexeme that ends. Returns (boundaries,
    touched words); boundaries is OVERFLOW if the lists are too short."""
    qs = np.empty(max_depth + 2, dtype=np.int32)
    cols = np.empty(max_depth + 2, dtype=np.int32)
    nb = 0
    nt = 0
    for start in starts:
        i = start if inclusive else start + 1
        stop = subtree_end[start]
        if i >= stop:
            continue
        qs[node_depth[i] - 1] = q0
        cols[node_depth[i] - 1] = col0
        while i < stop:
            d = node_depth[i]
            qp = qs[d - 1]
            byte = node_byte[i]
            q2 = transitions[qp, byte]
            k = cont[q2] if q2 >= 0 else GONE
            kind = SETTLE_AT
            if k != GONE:
                cp = _column(cols[d - 1], qp, byte, newline_live[q2], tab_len)
            else:
                e = ends[qp]
                q2 = transitions[0, byte]
                if e == DEAD or q2 < 0:
                    i = subtree_end[i]
                    continue
                if e == IGNORED_END:
                    k = cont[q2]
                    if k == GONE:
                        i = subtree_end[i]
                        continue
                    cp = _column(0, 0, byte, newline_live[q2], tab_len)
                else:
                    kind = END_BEFORE
            if kind == END_BEFORE or k == GO_SETTLE:
                if nb >= b_node.shape[0]:
                    return OVERFLOW, nt
                b_node[nb] = i
                b_kind[nb] = kind
                if kind == END_BEFORE:
                    b_term[nb] = term[qp]
                    b_col[nb] = cols[d - 1]
                else:
                    b_term[nb] = term[q2]
                    b_col[nb] = cp
                nb += 1
                i = subtree_end[i]
                continue
            if k == GO_IGNORED_END:
                q2 = 0
                cp = 0
            qs[d] = q2
            cols[d] = cp
            nt = _set_tokens(token_ids, token_start[i], token_start[i + 1], out, touched, nt)
            i += 1
    return nb, nt


@njit(cache=True)
def mark_tokens(out, nodes, token_start, token_ids):
    """Set in ``out`` the tokens that end at each of ``nodes``."""
    for n in nodes:
        _mark_tokens(out, token_start, token_ids, n)


@njit(cache=True)
def subtree_tokens(nodes, subtree_end, token_start, token_ids, out, touched):
    """Set in ``out`` (zero on entry) every token at or below each of ``nodes`` (the most a group
    of boundaries can add to a mask), listing the words it set non-zero in ``touched``; returns
    their number."""
    nt = 0
    for n in nodes:
        nt = _set_tokens(token_ids, token_start[n], token_start[subtree_end[n]], out, touched, nt)
    return nt

