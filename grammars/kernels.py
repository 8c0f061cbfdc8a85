"""Numba kernels: the lexer + LALR parser step over bytes, the token-trie mask walk, ``advance``.

A matcher state is a parser stack ``S0`` (int32 states) and a lexer state ``q`` (the bytes of the
unfinished terminal). Byte ``b`` either extends the unfinished terminal (greedy: whenever some
terminal the parser can take goes on) or, if it cannot, ends it (the highest-priority accepting
terminal), feeds it to the parser and starts the next terminal with ``b``. A terminal that is
complete and cannot be extended is ended at once, so ``q == 0`` after a finished punctuation.

While walking one token (or a trie of them) the parser stack changes only at terminal boundaries.
Each stack reached is a "configuration" in a small pool: the bottom ``base`` entries of ``S0`` plus
a short suffix, with the set of terminals that the parser can shift next (exactly: reductions are
simulated, so LALR's default reductions never admit a terminal that would fail after them).
"""

from __future__ import annotations

import numpy as np
from numba import njit


OK = 0
DEAD = -1
OVERFLOW = -2
UNKNOWN = -3  # a configuration not computed yet (see _quick_step)
MEMO = 8  # remembered (terminal -> configuration) edges per configuration


@njit(cache=True, inline="always")
def _any(a, i, b, j):
    """Whether rows a[i] and b[j] of two bitset tables share a bit. No array views (they cost
    reference counting), and a straight-line path for grammars of at most 64 terminals."""
    if a.shape[1] == 1:
        return (a[i, 0] & b[j, 0]) != 0
    for w in range(a.shape[1]):
        if a[i, w] & b[j, w]:
            return True
    return False


@njit(cache=True, inline="always")
def _bit_index(x):
    """Index of the lowest set bit of a non-zero uint64."""
    low = x & (~x + np.uint64(1))
    return int(np.log2(np.float64(low)))


@njit(cache=True, inline="always")
def _lowest(a, i, b, j):
    """The lowest bit set in both a[i] and b[j], or -1."""
    if a.shape[1] == 1:
        x = a[i, 0] & b[j, 0]
        return _bit_index(x) if x else -1
    for w in range(a.shape[1]):
        x = a[i, w] & b[j, w]
        if x:
            return w * 64 + _bit_index(x)
    return -1


@njit(cache=True, inline="always")
def _has(bits, t):
    return (bits[t >> 6] >> np.uint64(t & 63)) & np.uint64(1)


@njit(cache=True, inline="always")
def _at(S0, suf, base, h, c):
    """Entry h-1 (the top, for height h) of configuration c's stack."""
    if h > base:
        return suf[c, h - base - 1]
    return S0[h - 1]


@njit(cache=True)
def _run(S0, suf, base, slen, c, sym, action, rule_len, rule_lhs, end_state, tmp):
    """Feed terminal ``sym`` (or $END) to configuration c without changing it.

    Returns (status, height, n_pushed, target): the stack after the feed is the first ``height``
    entries of c, then ``tmp[:n_pushed]``, then ``target`` (a shift). status 1 = shifted,
    2 = accepted ($END), 0 = error, OVERFLOW = tmp too small."""
    h = base[c] + slen[c]
    nt = 0
    while True:
        top = tmp[nt - 1] if nt > 0 else _at(S0, suf, base[c], h, c)
        a = action[top, sym]
        if a >= 0:
            return 1, h, nt, a
        if a == -1:
            return 0, h, nt, -1
        r = -2 - a
        n = rule_len[r]
        if n <= nt:
            nt -= n
        else:
            h -= n - nt
            nt = 0
        top = tmp[nt - 1] if nt > 0 else _at(S0, suf, base[c], h, c)
        g = action[top, rule_lhs[r]]
        if nt >= tmp.shape[0]:
            return OVERFLOW, h, nt, -1
        tmp[nt] = g
        nt += 1
        if g == end_state:
            return 2, h, nt, g


@njit(cache=True)
def _new_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                c, h, nt, target, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp, tmp2):
    """Store the stack (c's first h entries, tmp[:nt], target) as a new configuration and compute
    the terminals it can shift. Returns its index, or OVERFLOW."""
    k = count[0]
    if k >= pool_base.shape[0]:
        return OVERFLOW
    width = pool_suf.shape[1]
    b = pool_base[c]
    if h >= b:
        keep = h - b
        if keep + nt + 1 > width:
            return OVERFLOW
        for i in range(keep):
            pool_suf[k, i] = pool_suf[c, i]
        pool_base[k] = b
        n = keep
    else:
        if nt + 1 > width:
            return OVERFLOW
        pool_base[k] = h
        n = 0
    for i in range(nt):
        pool_suf[k, n + i] = tmp[i]
    n += nt
    pool_suf[k, n] = target
    pool_len[k] = n + 1
    memo_n[k] = 0
    count[0] = k + 1
    for w in range(pool_acc.shape[1]):
        pool_acc[k, w] = ignore[w]
    for t in range(n_terms):
        if action[target, t] == -1:
            continue
        st, _, _, _ = _run(S0, pool_suf, pool_base, pool_len, k, t, action, rule_len, rule_lhs,
                           end_state, tmp2)
        if st == OVERFLOW:
            return OVERFLOW
        if st == 1:
            pool_acc[k, t >> 6] |= np.uint64(1) << np.uint64(t & 63)
    return k


@njit(cache=True)
def _end_terminal(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                  c, t, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp, tmp2):
    """The configuration after terminal t (which c can shift) ends."""
    if _has(ignore, t):
        return c
    for i in range(memo_n[c]):
        if memo_t[c, i] == t:
            return memo_c[c, i]
    st, h, nt, target = _run(S0, pool_suf, pool_base, pool_len, c, t, action, rule_len, rule_lhs,
                             end_state, tmp)
    if st != 1:
        return OVERFLOW if st == OVERFLOW else DEAD
    k = _new_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                    c, h, nt, target, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp,
                    tmp2)
    if k >= 0 and memo_n[c] < memo_t.shape[1]:
        memo_t[c, memo_n[c]] = t
        memo_c[c, memo_n[c]] = k
        memo_n[c] += 1
    return k


@njit(cache=True)
def _settle(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count, q, c,
            accept, extend, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp, tmp2):
    """End the unfinished terminal at once if it is complete and nothing can extend it."""
    if _any(accept, q, pool_acc, c) and not _any(extend, q, pool_acc, c):
        t = _lowest(accept, q, pool_acc, c)
        c2 = _end_terminal(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n,
                           count, c, t, action, rule_len, rule_lhs, end_state, ignore, n_terms,
                           tmp, tmp2)
        return 0, c2
    return q, c


@njit(cache=True)
def _step(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count, q, c, byte,
          transitions, live, accept, extend, action, rule_len, rule_lhs, end_state, ignore,
          n_terms, tmp, tmp2):
    """One byte. Returns (q, c); c < 0 means DEAD or OVERFLOW."""
    q2 = transitions[q, byte]
    if q2 >= 0 and _any(live, q2, pool_acc, c):
        return _settle(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                       q2, c, accept, extend, action, rule_len, rule_lhs, end_state, ignore,
                       n_terms, tmp, tmp2)
    if q == 0:
        return 0, DEAD
    t = _lowest(accept, q, pool_acc, c)
    if t < 0:
        return 0, DEAD
    c2 = _end_terminal(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                       c, t, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp, tmp2)
    if c2 < 0:
        return 0, c2
    q2 = transitions[0, byte]
    if q2 < 0 or not _any(live, q2, pool_acc, c2):
        return 0, DEAD
    return _settle(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count, q2,
                   c2, accept, extend, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp,
                   tmp2)


@njit(cache=True)
def _accepts_end(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count, q, c,
                 accept, action, rule_len, rule_lhs, end_state, end_symbol, ignore, n_terms, tmp,
                 tmp2):
    """1 if $END is accepted after ending the unfinished terminal, 0 if not, OVERFLOW."""
    if q != 0:
        t = _lowest(accept, q, pool_acc, c)
        if t < 0:
            return 0
        c = _end_terminal(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n,
                          count, c, t, action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp,
                          tmp2)
        if c < 0:
            return OVERFLOW if c == OVERFLOW else 0
    st, _, _, _ = _run(S0, pool_suf, pool_base, pool_len, c, end_symbol, action, rule_len,
                       rule_lhs, end_state, tmp)
    if st == OVERFLOW:
        return OVERFLOW
    return 1 if st == 2 else 0


@njit(cache=True)
def _root_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_n, count, action, rule_len,
                 rule_lhs, end_state, ignore, n_terms, tmp):
    """Configuration 0 = the matcher's stack S0 itself."""
    count[0] = 1
    pool_base[0] = S0.shape[0]
    pool_len[0] = 0
    memo_n[0] = 0
    top = S0[S0.shape[0] - 1]
    for w in range(pool_acc.shape[1]):
        pool_acc[0, w] = ignore[w]
    for t in range(n_terms):
        if action[top, t] == -1:
            continue
        st, _, _, _ = _run(S0, pool_suf, pool_base, pool_len, 0, t, action, rule_len, rule_lhs,
                           end_state, tmp)
        if st == OVERFLOW:
            return OVERFLOW
        if st == 1:
            pool_acc[0, t >> 6] |= np.uint64(1) << np.uint64(t & 63)
    return 0


@njit(cache=True, inline="always")
def _mark_tokens(out, token_start, token_ids, node):
    """Set the bits of the tokens that end at trie node ``node``."""
    for k in range(token_start[node], token_start[node + 1]):
        tok = token_ids[k]
        out[tok >> 5] |= np.uint32(1) << np.uint32(tok & 31)


@njit(cache=True, inline="always")
def _memo(c, t, ignore, memo_t, memo_c, memo_n):
    """The configuration after terminal t ends in c, if already known; UNKNOWN otherwise."""
    if _has(ignore, t):
        return c
    for i in range(memo_n[c]):
        if memo_t[c, i] == t:
            return memo_c[c, i]
    return UNKNOWN


@njit(cache=True, inline="always")
def _quick_step(q, c, byte, transitions, live, accept, extend, pool_acc, ignore, memo_t, memo_c,
                memo_n):
    """:func:`_step` for the cases that need no new parser configuration; (q, UNKNOWN) else."""
    q2 = transitions[q, byte]
    if q2 >= 0 and _any(live, q2, pool_acc, c):
        if not _any(accept, q2, pool_acc, c) or _any(extend, q2, pool_acc, c):
            return q2, c
        return 0, _memo(c, _lowest(accept, q2, pool_acc, c), ignore, memo_t, memo_c, memo_n)
    if q == 0:
        return 0, DEAD
    t = _lowest(accept, q, pool_acc, c)
    if t < 0:
        return 0, DEAD
    c2 = _memo(c, t, ignore, memo_t, memo_c, memo_n)
    if c2 == UNKNOWN:
        return 0, UNKNOWN
    q2 = transitions[0, byte]
    if q2 < 0 or not _any(live, q2, pool_acc, c2):
        return 0, DEAD
    if not _any(accept, q2, pool_acc, c2) or _any(extend, q2, pool_acc, c2):
        return q2, c2
    return 0, _memo(c2, _lowest(accept, q2, pool_acc, c2), ignore, memo_t, memo_c, memo_n)


@njit(cache=True)
def lexeme_walk(q, acc, max_depth, node_byte, node_depth, subtree_end, token_start, token_ids,
                transitions, live, accept, extend, ignore, out, boundary_node, boundary_q,
                node_ascii, node_flags, slice_lo, slice_hi, slice_flags, record, slice_out):
    """The part of a mask that depends only on the lexer state q and the shiftable terminals acc.

    Sets in ``out`` every token whose bytes only extend the unfinished terminal or end ignored
    ones (whitespace): the parser stack does not change along such a walk. Lists the trie nodes
    where a walk ends a terminal the parser must take, with the lexer state before each node.
    Returns the number of boundary nodes, or OVERFLOW if the lists are too short.

    The slice of q (:mod:`grammars.slices`: ASCII bytes ``slice_lo``/``slice_hi`` and the node
    flags ``slice_flags`` allows, ``NON_ASCII`` for complete multi-byte characters, all looping
    on q) is not walked: a subtree whose tokens all lie in it is skipped, its tokens set in ``slice_out`` when ``record`` (else
    the caller has them there already from an earlier walk with the same slice)."""
    sliced = slice_lo != 0 or slice_hi != 0 or slice_flags != 0
    acc2 = acc.reshape(1, acc.shape[0])
    single_word = acc.shape[0] == 1
    memo_t = np.zeros((1, 1), dtype=np.int32)
    memo_c = np.zeros((1, 1), dtype=np.int32)
    memo_n = np.zeros(1, dtype=np.int32)  # knows nothing: every parser decision is UNKNOWN
    qs = np.empty(max_depth + 1, dtype=np.int32)
    qs[0] = q
    nb = 0
    i = 1
    n_nodes = node_byte.shape[0]
    while i < n_nodes:
        if sliced and node_ascii[i, 0] & ~slice_lo == 0 and node_ascii[i, 1] & ~slice_hi == 0 and (
                node_flags[i] | slice_flags) == slice_flags:
            stop = subtree_end[i]
            if record:
                for k in range(token_start[i], token_start[stop]):
                    tok = token_ids[k]
                    slice_out[tok >> 5] |= np.uint32(1) << np.uint32(tok & 31)
            i = stop
            continue
        d = node_depth[i]
        qp = qs[d - 1]
        q2 = transitions[qp, node_byte[i]]
        if single_word and q2 >= 0:  # the common case, written out: the byte extends the terminal
            a = acc[0]
            if live[q2, 0] & a and (not accept[q2, 0] & a or extend[q2, 0] & a):
                qs[d] = q2
                _mark_tokens(out, token_start, token_ids, i)
                i += 1
                continue
        q2, c2 = _quick_step(qp, 0, node_byte[i], transitions, live, accept, extend, acc2, ignore,
                             memo_t, memo_c, memo_n)
        if c2 == 0:
            qs[d] = q2
            _mark_tokens(out, token_start, token_ids, i)
            i += 1
            continue
        if c2 == UNKNOWN:
            if nb >= boundary_node.shape[0]:
                return OVERFLOW
            boundary_node[nb] = i
            boundary_q[nb] = qp
            nb += 1
        i = subtree_end[i]
    return nb


@njit(cache=True)
def fill_mask(S0, q, boundary_node, boundary_q, max_depth, node_byte, node_depth, subtree_end, token_start,
              token_ids, eos_ids, transitions, live, accept, extend, action, rule_len, rule_lhs,
              end_state, end_symbol, ignore, n_terms, pool_base, pool_len, pool_suf, pool_acc,
              memo_t, memo_c, memo_n, tmp, tmp2, out):
    """Complete a mask whose in-lexeme part (from :func:`lexeme_walk`) is already in ``out``:
    walk the subtrees below the boundary nodes through the parser, then add the end-of-sequence
    ids if the text so far is complete. Returns 1 if EOS is allowed, 0 if not, or OVERFLOW."""
    count = np.zeros(1, dtype=np.int64)
    if _root_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_n, count, action, rule_len,
                    rule_lhs, end_state, ignore, n_terms, tmp) < 0:
        return OVERFLOW
    qs = np.empty(max_depth + 1, dtype=np.int32)
    cs = np.empty(max_depth + 1, dtype=np.int32)
    single_word = live.shape[1] == 1
    for b in range(boundary_node.shape[0]):
        start = boundary_node[b]
        stop = subtree_end[start]
        qs[node_depth[start] - 1] = boundary_q[b]
        cs[node_depth[start] - 1] = 0
        i = start
        while i < stop:
            d = node_depth[i]
            qp = qs[d - 1]
            c = cs[d - 1]
            q2 = transitions[qp, node_byte[i]]
            if single_word and q2 >= 0:  # written out: the byte extends the unfinished terminal
                a = pool_acc[c, 0]
                if live[q2, 0] & a and (not accept[q2, 0] & a or extend[q2, 0] & a):
                    qs[d] = q2
                    cs[d] = c
                    _mark_tokens(out, token_start, token_ids, i)
                    i += 1
                    continue
            q2, c2 = _quick_step(qp, c, node_byte[i], transitions, live, accept, extend, pool_acc,
                                 ignore, memo_t, memo_c, memo_n)
            if c2 == UNKNOWN:
                q2, c2 = _step(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n,
                               count, qp, c, node_byte[i], transitions, live, accept, extend,
                               action, rule_len, rule_lhs, end_state, ignore, n_terms, tmp, tmp2)
            if c2 < 0:
                if c2 == OVERFLOW:
                    return OVERFLOW
                i = subtree_end[i]
                continue
            qs[d] = q2
            cs[d] = c2
            _mark_tokens(out, token_start, token_ids, i)
            i += 1
    end = _accepts_end(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                       q, 0, accept, action, rule_len, rule_lhs, end_state, end_symbol, ignore,
                       n_terms, tmp, tmp2)
    if end == OVERFLOW:
        return OVERFLOW
    if end == 1:
        for tok in eos_ids:
            out[tok >> 5] |= np.uint32(1) << np.uint32(tok & 31)
    return end


@njit(cache=True)
def advance_bytes(S0, q, data, transitions, live, accept, extend, action, rule_len, rule_lhs,
                  end_state, ignore, n_terms, pool_base, pool_len, pool_suf, pool_acc, memo_t,
                  memo_c, memo_n, tmp, tmp2, new_stack, new_acc):
    """Walk ``data`` from (S0, q). Returns (status, new stack length, new q) with the new stack
    written to ``new_stack`` and the terminals it can shift to ``new_acc``; status DEAD if a byte
    is not allowed, OVERFLOW if pools are short."""
    count = np.zeros(1, dtype=np.int64)
    if _root_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_n, count, action, rule_len,
                    rule_lhs, end_state, ignore, n_terms, tmp) < 0:
        return OVERFLOW, 0, 0
    c = 0
    for i in range(data.shape[0]):
        q, c = _step(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count, q,
                     c, data[i], transitions, live, accept, extend, action, rule_len, rule_lhs,
                     end_state, ignore, n_terms, tmp, tmp2)
        if c < 0:
            return c, 0, 0
    b = pool_base[c]
    n = pool_len[c]
    if b + n > new_stack.shape[0]:
        return OVERFLOW, 0, 0
    new_stack[:b] = S0[:b]
    new_stack[b:b + n] = pool_suf[c, :n]
    new_acc[:] = pool_acc[c]
    return OK, b + n, q


@njit(cache=True)
def accepts_end(S0, q, accept, action, rule_len, rule_lhs, end_state, end_symbol, ignore, n_terms,
                pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, tmp, tmp2):
    """1 if the grammar accepts the text read so far as a complete string, 0 if not, OVERFLOW."""
    count = np.zeros(1, dtype=np.int64)
    if _root_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_n, count, action, rule_len,
                    rule_lhs, end_state, ignore, n_terms, tmp) < 0:
        return OVERFLOW
    return _accepts_end(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count,
                        q, 0, accept, action, rule_len, rule_lhs, end_state, end_symbol, ignore,
                        n_terms, tmp, tmp2)


@njit(cache=True)
def allowed_bytes(S0, q, transitions, live, accept, extend, action, rule_len, rule_lhs, end_state,
                  ignore, n_terms, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n,
                  tmp, tmp2, out):
    """out[b] = True for every byte that can come next. Returns the count."""
    count = np.zeros(1, dtype=np.int64)
    if _root_config(S0, pool_base, pool_len, pool_suf, pool_acc, memo_n, count, action, rule_len,
                    rule_lhs, end_state, ignore, n_terms, tmp) < 0:
        return OVERFLOW
    n = 0
    for b in range(256):
        _, c = _step(S0, pool_base, pool_len, pool_suf, pool_acc, memo_t, memo_c, memo_n, count, q,
                     0, b, transitions, live, accept, extend, action, rule_len, rule_lhs, end_state,
                     ignore, n_terms, tmp, tmp2)
        if c == OVERFLOW:
            return OVERFLOW
        out[b] = c >= 0
        n += c >= 0
    return n
