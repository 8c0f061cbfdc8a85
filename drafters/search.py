"""Draft trees from the tri-gram table: ADED's Monte-Carlo tree search with the PUCT rule.

From the root pair (second-last token, root token) the search runs ``iterations`` times:
select children by PUCT ``W/N + P * sqrt(N_parent) / (1 + N) * (c1 + log((N_parent + c2 + 1) / c2))``
(unvisited children first), expand a leaf with all its successors (prior ``P`` = the successor's
score normalised over its row), roll out to ``depth`` tokens sampling successors by prior, and back
up the value ``1 + sum of the rollout's priors`` (the value the paper describes; the reference
code reads the wrong entry, which makes it about 1 for every path). The most visited paths, each
extended by the table's best next token(s), are merged into a tree of at most ``max_nodes`` tokens,
after one more path drafted first: what followed the last 3 (else 2) tokens where they last
occurred in the context (prompt lookup; ``lookup`` tokens, 0 to turn it off).

The search is Numba code and seeded, so drafts are reproducible; a draft costs tens of
microseconds, far below one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numba
import numpy as np

from .trigram import TrigramTable, find_row

__all__ = ["DraftTree", "draft_tree", "DraftConfig", "merge_paths"]


@dataclass(frozen=True)
class DraftConfig:
    """Search settings (ADED's defaults, with a smaller tree for CPUs: see the benchmark)."""

    iterations: int = 150
    depth: int = 3          # tokens the search looks ahead of the root
    extend: int = 1         # then each path follows the table's best successor this many tokens
    lookup: int = 8         # context path: the tokens that followed the last n-gram's previous use
    top_paths: int = 24
    max_nodes: int = 16     # draft tokens verified per step and sequence
    max_batch_nodes: int = 32  # and for all sequences of a batch together (split evenly)
    c1: float = 32.0
    c2: float = 8.0

    def for_batch(self, rows: int) -> "DraftConfig":
        """The settings for one of ``rows`` sequences drafted together."""
        per_row = max(1, min(self.max_nodes, self.max_batch_nodes // max(rows, 1)))
        return self if per_row == self.max_nodes else replace(self, max_nodes=per_row)


@dataclass(frozen=True)
class DraftTree:
    """Draft tokens below the root token: ``parents[i]`` is -1 for a child of the root, else the
    index of an earlier node; ``depths[i]`` counts from 1 (children of the root)."""

    tokens: np.ndarray   # int64
    parents: np.ndarray  # int64
    depths: np.ndarray   # int64

    def __len__(self) -> int:
        return len(self.tokens)

    def token_paths(self) -> list[tuple[int, ...]]:
        """Root-to-leaf token paths (without the root), in node order."""
        return [tuple(int(self.tokens[i]) for i in path) for path in self.paths()]

    def paths(self) -> list[list[int]]:
        """Root-to-leaf node index paths (without the root)."""
        is_parent = np.zeros(len(self), dtype=bool)
        is_parent[self.parents[self.parents >= 0]] = True
        out = []
        for leaf in np.flatnonzero(~is_parent):
            path = []
            node = int(leaf)
            while node >= 0:
                path.append(node)
                node = int(self.parents[node])
            out.append(path[::-1])
        return out


EMPTY_TREE = DraftTree(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


@numba.njit(cache=True)
def _row_probs(succ, score, row, toks, probs) -> int:
    n = 0
    total = 0.0
    for j in range(succ.shape[1]):
        if succ[row, j] >= 0 and score[row, j] > 0:
            toks[n] = succ[row, j]
            probs[n] = score[row, j]
            total += score[row, j]
            n += 1
    for j in range(n):
        probs[j] /= total
    return n


@numba.njit(cache=True)
def _pick(probs, n) -> int:
    u = np.random.random()
    acc = 0.0
    for j in range(n):
        acc += probs[j]
        if u < acc:
            return j
    return n - 1


@numba.njit(cache=True)
def _mcts(key_a, key_b, succ, score, a0, b0, iterations, depth, c1, c2, seed):
    """Returns the arena: (token, parent, visits) of every tree node (node 0 = the root)."""
    np.random.seed(seed)
    row_len = succ.shape[1]
    cap = 1 + iterations * row_len
    ka = np.empty(cap, np.int64)
    kb = np.empty(cap, np.int64)
    parent = np.full(cap, -1, np.int64)
    first = np.full(cap, -1, np.int64)
    nkids = np.zeros(cap, np.int64)
    visits = np.zeros(cap, np.float64)
    value = np.zeros(cap, np.float64)
    prior = np.zeros(cap, np.float64)
    level = np.zeros(cap, np.int64)
    toks = np.empty(row_len, np.int64)
    probs = np.empty(row_len, np.float64)
    ka[0] = a0
    kb[0] = b0
    size = 1
    for _ in range(iterations):
        node = 0
        # selection
        while nkids[node] > 0 and level[node] < depth:
            best = -1
            best_score = -1.0
            for c in range(first[node], first[node] + nkids[node]):
                if visits[c] == 0:
                    s = 1e30 + prior[c]
                else:
                    explore = c1 + np.log((visits[node] + c2 + 1.0) / c2)
                    s = value[c] / visits[c] + prior[c] * np.sqrt(visits[node]) / (1.0 + visits[c]) * explore
                if s > best_score:
                    best_score = s
                    best = c
            node = best
        # expansion
        if nkids[node] == 0 and level[node] < depth:
            row = find_row(key_a, key_b, ka[node], kb[node])
            if row >= 0:
                n = _row_probs(succ, score, row, toks, probs)
                if n > 0:
                    first[node] = size
                    nkids[node] = n
                    for j in range(n):
                        ka[size] = kb[node]
                        kb[size] = toks[j]
                        parent[size] = node
                        prior[size] = probs[j]
                        level[size] = level[node] + 1
                        size += 1
                    node = first[node] + _pick(probs, n)
        # rollout
        total = 1.0
        a = ka[node]
        b = kb[node]
        for _step in range(depth - level[node]):
            row = find_row(key_a, key_b, a, b)
            if row < 0:
                break
            n = _row_probs(succ, score, row, toks, probs)
            if n == 0:
                break
            j = _pick(probs, n)
            total += probs[j]
            a = b
            b = toks[j]
        # backup
        while node >= 0:
            visits[node] += 1.0
            value[node] += total
            node = parent[node]
    return kb[:size].copy(), parent[:size].copy(), visits[:size].copy(), ka[:size].copy()


@numba.njit(cache=True)
def context_continuation(tokens: np.ndarray, max_len: int) -> np.ndarray:
    """The tokens that followed the most recent earlier occurrence of the context's last three
    (else two) tokens, up to ``max_len`` of them (prompt lookup over the context)."""
    n = len(tokens)
    for size in (3, 2):
        if n <= size:
            continue
        for start in range(n - size - 1, -1, -1):
            same = True
            for k in range(size):
                if tokens[start + k] != tokens[n - size + k]:
                    same = False
                    break
            if same:
                begin = start + size
                return tokens[begin:min(begin + max_len, n)].copy()
    return tokens[:0].copy()


def draft_tree(table: TrigramTable, previous: int, root: int, config: DraftConfig = DraftConfig(),
               seed: int = 0, context: np.ndarray | None = None) -> DraftTree:
    """The draft tree after the tokens ``previous, root`` (``root`` is already chosen). With
    ``context`` (the sequence so far, ending with ``previous, root``), the continuation of the
    last n-gram's previous occurrence in it is drafted first (``config.lookup`` tokens).

    Example:
        >>> from drafters.trigram import TrigramTable
        >>> table = TrigramTable.from_token_ids([[1, 2, 3, 4, 5, 6]] * 3 + [[1, 2, 3, 9]], "toy")
        >>> tree = draft_tree(table, 1, 2)
        >>> tree.tokens.tolist(), tree.parents.tolist()
        ([3, 4, 5, 6, 9], [-1, 0, 1, 2, 0])
    """
    if config.max_nodes <= 0:
        return EMPTY_TREE
    paths: list[tuple[int, ...]] = []
    seen = set()
    if context is not None and config.lookup > 0:
        copied = tuple(context_continuation(np.asarray(context, dtype=np.int64), config.lookup).tolist())
        if copied:
            paths.append(copied)
            seen.add(copied)
    tokens, parent, visits, keys_a = _mcts(table.key_a, table.key_b, table.succ, table.score,
                                           int(previous), int(root), int(config.iterations),
                                           int(config.depth), float(config.c1), float(config.c2),
                                           int(seed))
    order = np.argsort(-visits[1:], kind="stable")[: config.top_paths] + 1
    for node in order.tolist():
        path = []
        k = node
        while k > 0:
            path.append(int(tokens[k]))
            k = int(parent[k])
        path.reverse()
        # extend by the table's best next tokens after the path's last two tokens
        a, b = int(keys_a[node]), int(tokens[node])
        for _ in range(config.extend):
            nxt, _ = table.successors(a, b)
            if not len(nxt):
                break
            a, b = b, int(nxt[0])
            path.append(b)
        key = tuple(path)
        if key not in seen:
            seen.add(key)
            paths.append(key)
    return merge_paths(paths, config.max_nodes)


def merge_paths(paths: list[tuple[int, ...]], max_nodes: int) -> DraftTree:
    """Merge paths (best first) into a prefix tree, skipping those that would exceed the budget;
    a path that only partly fits contributes its prefix."""
    index: dict[tuple[int, ...], int] = {}
    toks: list[int] = []
    parents: list[int] = []
    depths: list[int] = []
    for path in paths:
        for d in range(1, len(path) + 1):
            prefix = path[:d]
            if prefix in index:
                continue
            if len(toks) >= max_nodes:
                break
            index[prefix] = len(toks)
            toks.append(prefix[-1])
            parents.append(index[prefix[:-1]] if d > 1 else -1)
            depths.append(d)
        if len(toks) >= max_nodes:
            break
    return DraftTree(np.array(toks, np.int64), np.array(parents, np.int64), np.array(depths, np.int64))
