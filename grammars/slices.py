"""The token slicer: dense masks without walking the whole token trie.

Inside a JSON string, a comment or free text, nearly every token keeps the unfinished terminal
going and the trie walk of :func:`grammars.kernels.lexeme_walk` would visit every node. Per lexer
state ``q``, :func:`slice_key` finds a set of ASCII bytes, and whether complete multi-byte UTF-8
characters join it, such that every string of them read from ``q`` keeps the terminal going at
every byte (checked on the lexer automaton: the states such strings reach, with UTF-8's own
automaton for multi-byte characters; bytes that fail from a reached state are dropped until none
does). The *slice* of that key is the tokens made only of such bytes and characters: each is in
the mask, and no parser decision lies below it.

Per trie node, :func:`node_features` records (once per vocabulary, with the trie) the ASCII bytes
used by the tokens below it and whether any of them has a non-ASCII byte or is not complete UTF-8.
The walk skips every subtree whose tokens all lie in the slice and ORs in the slice's mask, which
depends only on the key and is kept per vocabulary (on the token trie), so one dense state costs
one bitmask copy plus a walk of the few nodes above tokens outside the slice (``"``, ``\\``,
control bytes, partial characters).

Example:
    >>> import numpy as np
    >>> from grammars import Grammar, Vocabulary, compile_grammar
    >>> cg = compile_grammar(Grammar.from_lark('start: /"[a-z]*"/'), Vocabulary([b'"', b"ab", b"c"]),
    ...                      use_disk_cache=False)
    >>> q = int(cg.lexicon.transitions[0, ord('"')])
    >>> lo, hi, utf8 = slice_key(q, cg.initial_state.acc, cg.lexicon.transitions, cg.lexicon.live,
    ...                          cg.lexicon.accept, cg.lexicon.extend)
    >>> [chr(b) for b in range(64, 128) if int(hi) >> (b - 64) & 1][:3], utf8
    (['a', 'b', 'c'], False)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import _any
from .regex.utf8 import utf8_sequences

NON_ASCII = np.uint8(1)  # node flag: a token below has a byte >= 0x80
NOT_UTF8 = np.uint8(2)  # node flag: a token below is not complete, valid UTF-8
MAX_SLICE_MASKS = 64  # cached slice masks per vocabulary (one per distinct key)
_FRONTIER = 64  # lexer states followed at once through one UTF-8 character before giving up
_REACHED = 128  # lexer states a slice may reach before the state gets no slice
_ROUNDS = 16  # rounds of dropping the ways into a failing state before that search gives up
_GOOD_ENOUGH = 120 + 64  # a slice this large (ASCII bytes, + 64 with characters) is not improved on

# Well-formed multi-byte UTF-8 (RFC 3629, no overlongs or surrogates): per lead-byte range, the
# byte ranges of the character's bytes (lead first); (0, -1) pads.
UTF8_SEQUENCES = np.array([
    [b for r in seq + ((0, -1),) * (4 - len(seq)) for b in r]
    for seq in utf8_sequences(0x80, 0xD7FF) + utf8_sequences(0xE000, 0x10FFFF)
], dtype=np.int32)


@njit(cache=True)
def _goes_on(s, acc, live, accept, extend):
    """Whether lexer state s keeps the unfinished terminal going for the shiftable terminals acc
    (the walk's in-lexeme case, as ``kernels._quick_step``: some terminal is live, and none is
    complete unless one extends)."""
    row = acc.reshape((1, acc.shape[0]))
    return _any(live, s, row, 0) and (not _any(accept, s, row, 0) or _any(extend, s, row, 0))


@njit(cache=True, inline="always")
def _go(s, go, acc, live, accept, extend):
    """:func:`_goes_on`, remembered per lexer state in ``go`` (-1: not known yet)."""
    if go[s] < 0:
        go[s] = _goes_on(s, acc, live, accept, extend)
    return go[s] == 1


@njit(cache=True)
def _add(states, n, s2, cap):
    """Add s2 to states[:n] if new; the new count, or -1 past the cap."""
    for x in range(n):
        if states[x] == s2:
            return n
    if n >= cap:
        return -1
    states[n] = s2
    return n + 1


@njit(cache=True)
def _char_ends(s, go, acc, transitions, live, accept, extend, seqs, ends, n_ends, frontier, nxt):
    """Add to ends[:n_ends] the lexer states after each well-formed multi-byte character read from
    s, if every byte of every such character keeps the terminal going; -1 if one does not (or
    past the caps)."""
    for k in range(seqs.shape[0]):
        frontier[0] = s
        n = 1
        for r in range(4):
            lo, hi = seqs[k, 2 * r], seqs[k, 2 * r + 1]
            if hi < lo:
                break
            m = 0
            for j in range(n):
                prev = -2
                for b in range(lo, hi + 1):
                    s2 = transitions[frontier[j], b]
                    if s2 == prev:  # neighbouring bytes mostly lead to the same state
                        continue
                    prev = s2
                    if s2 < 0 or not _go(s2, go, acc, live, accept, extend):
                        return -1
                    m = _add(nxt, m, s2, nxt.shape[0])
                    if m < 0:
                        return -1
            frontier, nxt = nxt, frontier
            n = m
        for j in range(n):
            n_ends = _add(ends, n_ends, frontier[j], ends.shape[0])
            if n_ends < 0:
                return -1
    return n_ends


@njit(cache=True)
def _reach(q, ok, utf8, acc, transitions, live, accept, extend, seqs, pos, reached, memo):
    """The lexer states that strings of the slice (ASCII bytes ``ok``, multi-byte characters if
    ``utf8``) reach from q, in ``reached``, indexed by ``pos``; their count, or -1 past the cap."""
    reached[0] = q
    pos[q] = 0
    n = 1
    j = 0
    while j < n:
        s = reached[j]
        for b in range(128):
            if ok[b]:
                s2 = transitions[s, b]
                if s2 >= 0 and pos[s2] < 0 and _go(s2, memo[6], acc, live, accept, extend):
                    if n >= reached.shape[0]:
                        return -1
                    pos[s2] = n
                    reached[n] = s2
                    n += 1
        if utf8:
            k = _ends_of(s, acc, transitions, live, accept, extend, seqs, memo)
            for x in range(max(memo[2][k], 0)):
                s2 = memo[1][k, x]
                if pos[s2] < 0:
                    if n >= reached.shape[0]:
                        return -1
                    pos[s2] = n
                    reached[n] = s2
                    n += 1
        j += 1
    return n


@njit(cache=True)
def _ends_of(s, acc, transitions, live, accept, extend, seqs, memo):
    """The row of s's character end states in the memo (its count in ``n_ends``: -1 if one
    fails); memo = (slot per lexer state, ends, n_ends, [rows used], frontier, next)."""
    slot, ends, n_ends, used, frontier, nxt, go = memo
    k = slot[s]
    if k >= 0:
        return k
    k = min(used[0], _REACHED)  # past the cap the last row is recomputed each time
    if used[0] < _REACHED:
        slot[s] = k
        used[0] += 1
    n_ends[k] = _char_ends(s, go, acc, transitions, live, accept, extend, seqs, ends[k], 0,
                           frontier, nxt)
    return k


@njit(cache=True)
def _fixpoint(q, ok0, by_entry, acc, transitions, live, accept, extend, seqs, pos, memo):
    """A slice of q: drop what fails until nothing does. A byte failing from a reached state is
    dropped itself, or (``by_entry``) the bytes and characters that lead into the first such
    state are (at most ``_ROUNDS`` times)."""
    ok = ok0.copy()
    utf8 = True
    reached = np.empty(_REACHED, dtype=np.int32)
    for _ in range(_ROUNDS if by_entry else 130):
        n = _reach(q, ok, utf8, acc, transitions, live, accept, extend, seqs, pos, reached, memo)
        if n < 0:
            for x in range(reached.shape[0]):
                pos[reached[x]] = -1
            return ok, False, False
        failed = False
        first_bad = -1
        for j in range(n):
            s = reached[j]
            here = utf8 and memo[2][_ends_of(s, acc, transitions, live, accept, extend, seqs,
                                             memo)] < 0
            if here and (not by_entry or s == q):
                utf8 = False
            for b in range(128):
                if ok[b]:
                    s2 = transitions[s, b]
                    if s2 < 0 or ((pos[s2] < 0 or s2 == q) and not _go(s2, memo[6], acc, live,
                                                                     accept, extend)):
                        here = True
                        if not by_entry or s == q:
                            ok[b] = False
            failed |= here
            if here and s != q and first_bad < 0:
                first_bad = s
        if by_entry and first_bad >= 0:
            for j in range(n):
                s = reached[j]
                for b in range(128):
                    if ok[b] and transitions[s, b] == first_bad:
                        ok[b] = False
                if utf8:
                    k = _ends_of(s, acc, transitions, live, accept, extend, seqs, memo)
                    for x in range(max(memo[2][k], 0)):
                        if memo[1][k, x] == first_bad:
                            utf8 = False
        for j in range(n):
            pos[reached[j]] = -1
        if not failed:
            return ok, utf8, True
    return ok, False, False


@njit(cache=True)
def _slice_key(q, acc, transitions, live, accept, extend, seqs):
    """The larger of two slices (each found by dropping what fails until nothing does)."""
    ok0 = np.zeros(128, dtype=np.bool_)
    for b in range(128):
        s2 = transitions[q, b]
        ok0[b] = s2 >= 0 and _goes_on(s2, acc, live, accept, extend)
    pos = np.full(transitions.shape[0], -1, dtype=np.int32)
    memo = (np.full(transitions.shape[0], -1, dtype=np.int32),
            np.empty((_REACHED + 1, _FRONTIER), dtype=np.int32),
            np.empty(_REACHED + 1, dtype=np.int32), np.zeros(1, dtype=np.int32),
            np.empty(_FRONTIER, dtype=np.int32), np.empty(_FRONTIER, dtype=np.int32),
            np.full(transitions.shape[0], -1, dtype=np.int8))
    best = ok0 & False
    best_utf8 = False
    best_size = 0
    for by_entry in (False, True):
        if best_size >= _GOOD_ENOUGH:
            break
        ok, utf8, found = _fixpoint(q, ok0, by_entry, acc, transitions, live, accept, extend,
                                    seqs, pos, memo)
        size = ok.sum() + (64 if utf8 else 0)
        if found and size > best_size:
            best, best_utf8, best_size = ok, utf8, size
    lo = np.uint64(0)
    hi = np.uint64(0)
    for b in range(128):
        if best[b]:
            if b < 64:
                lo |= np.uint64(1) << np.uint64(b)
            else:
                hi |= np.uint64(1) << np.uint64(b - 64)
    return lo, hi, best_utf8


def slice_key(q: int, acc: np.ndarray, transitions: np.ndarray, live: np.ndarray,
              accept: np.ndarray, extend: np.ndarray) -> tuple[np.uint64, np.uint64, bool]:
    """The slice of lexer state q under the shiftable terminals acc: ASCII bytes (two 64-bit
    words: bytes 0-63, 64-127) and whether complete multi-byte characters belong, such that any
    string of them read from q keeps the unfinished terminal going at every byte. (0, 0, False)
    is the empty slice."""
    lo, hi, utf8 = _slice_key(q, acc, transitions, live, accept, extend, UTF8_SEQUENCES)
    return np.uint64(lo), np.uint64(hi), bool(utf8)


@njit(cache=True)
def _utf8_valid(data, start, stop, seqs):
    """Whether data[start:stop] is complete, well-formed UTF-8."""
    i = start
    while i < stop:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        k = 0
        while k < seqs.shape[0] and not seqs[k, 0] <= b <= seqs[k, 1]:
            k += 1
        if k == seqs.shape[0]:
            return False
        i += 1
        for r in range(1, 4):
            lo, hi = seqs[k, 2 * r], seqs[k, 2 * r + 1]
            if hi < lo:
                break
            if i >= stop or not lo <= data[i] <= hi:
                return False
            i += 1
    return True


@njit(cache=True)
def _node_features(token_offsets, token_data, node_depth, token_start, token_ids, seqs):
    n = node_depth.shape[0]
    ascii_bits = np.zeros((n, 2), dtype=np.uint64)
    flags = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        for k in range(token_start[i], token_start[i + 1]):
            tok = token_ids[k]
            start, stop = token_offsets[tok], token_offsets[tok + 1]
            for j in range(start, stop):
                b = token_data[j]
                if b < 64:
                    ascii_bits[i, 0] |= np.uint64(1) << np.uint64(b)
                elif b < 128:
                    ascii_bits[i, 1] |= np.uint64(1) << np.uint64(b - 64)
                else:
                    flags[i] |= NON_ASCII
            if not _utf8_valid(token_data, start, stop, seqs):
                flags[i] |= NOT_UTF8
    parent = np.empty(n, dtype=np.int32)
    path = np.zeros(n + 1, dtype=np.int32)  # node of each depth on the current path
    for i in range(1, n):
        parent[i] = path[node_depth[i] - 1]
        path[node_depth[i]] = i
    for i in range(n - 1, 0, -1):  # children come after their parent
        p = parent[i]
        ascii_bits[p, 0] |= ascii_bits[i, 0]
        ascii_bits[p, 1] |= ascii_bits[i, 1]
        flags[p] |= flags[i]
    return ascii_bits, flags


def node_features(token_offsets: np.ndarray, token_data: np.ndarray, node_depth: np.ndarray,
                  token_start: np.ndarray, token_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per trie node, over the tokens of its subtree: the ASCII bytes they use (uint64 [n, 2]) and
    flags (uint8 [n]: ``NON_ASCII``, ``NOT_UTF8``)."""
    return _node_features(token_offsets, token_data, node_depth, token_start, token_ids,
                          UTF8_SEQUENCES)
