"""Draft trees from the tri-gram table: ADED's Monte-Carlo tree search with the PUCT rule.

From the root pair (second-last token, root token) the search runs ``iterations`` times:
select children by PUCT ``W/N + P * sqrt(N_parent) / (1 + N) * (c1 + log((N_parent + c2 + 1) / c2))``
(unvisited children first), expand a leaf with all its successors (prior ``P`` = the successor's
score normalised over its row), roll out to ``depth`` tokens sampling successors by prior, and back
up the value ``1 + sum of the rollout's priors`` (the value the paper describes; the reference
code reads the wrong entry, which makes it about 1 for every path). Each searched node gets a
likelihood of being accepted: its parent's times its share of the parent's visits (times
``table_trust``); each leaf is extended by the table's best next token(s). One more candidate path
comes from the context: what followed the last 3 (else 2, else 1) tokens where they last occurred
(prompt lookup; ``lookup`` tokens, 0 to turn it off), its k-th token being worth
``context_first * context_next ** (k - 1)``. The draft is the ``min_nodes`` most likely nodes, and
any further ones at least ``min_prob`` likely, up to ``max_nodes``: a confident copy makes a long
tree, a vague guess a short one, since every verified node costs forward time.

The search is Numba code and seeded, so drafts are reproducible; a draft costs tens of
microseconds, far below one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numba
import numpy as np

from .trigram import TrigramTable, find_row

__all__ = ["DraftTree", "draft_tree", "DraftConfig", "likely_prefixes", "merge_paths"]


@dataclass(frozen=True)
class DraftConfig:
    """Search settings: ADED's search defaults, and a draft of the 3 likeliest nodes, which is
    what pays for fp32 on a 2-core CPU (``benchmarks/drafting.py``; there, a forward of the root
    and 3 nodes costs about one decoding step, and each further row about a tenth of one more).
    Where verifying more nodes is cheap, ``max_nodes`` is higher: the nodes beyond ``min_nodes``
    are then the ones at least ``min_prob`` likely to be accepted (see :func:`draft_tree` and
    :meth:`for_model`)."""

    iterations: int = 150
    depth: int = 3          # tokens the search looks ahead of the root
    extend: int = 1         # then each leaf follows the table's best successor this many tokens
    lookup: int = 16        # context path: the tokens that followed the last n-gram's previous use
    min_nodes: int = 3      # draft tokens always verified (when there are candidates)
    max_nodes: int = 3      # at most, per step and sequence (raise it on a GPU, e.g. to 32)
    min_prob: float = 0.25  # beyond min_nodes, only nodes at least this likely to be accepted
    max_batch_nodes: int = 32  # and for all sequences of a batch together (split evenly)
    c1: float = 32.0
    c2: float = 8.0
    # a node's likelihood: the product over its path of these conditional estimates
    context_first: float = 0.75  # the context path's first token (after a 2- or 3-token match)
    context_unigram: float = 0.2  # the same after a 1-token match
    context_next: float = 0.9    # each further one
    table_trust: float = 0.8     # times a search node's share of its parent's visits

    @classmethod
    def for_model(cls, device_type: str, dtype: str) -> "DraftConfig":
        """The default for a model on ``device_type`` ("cpu", "cuda", ...) in ``dtype``
        ("float32", "bfloat16", ...): 3 nodes for fp32 on a CPU, else up to 16. Measured on the
        2-core CPU: bf16 forwards of many rows are cheap there (oneDNN), and 16 nodes took
        grounded prompts from 0.96× to 1.06× prompt lookup. On a GPU, 16 is unmeasured.

        Example:
            >>> [DraftConfig.for_model("cpu", t).max_nodes for t in ("float32", "bfloat16")]
            [3, 16]
        """
        return cls() if (device_type, dtype) == ("cpu", "float32") else cls(max_nodes=16)

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
def context_continuation(tokens: np.ndarray, max_len: int) -> tuple[np.ndarray, int]:
    """The tokens that followed the most recent earlier occurrence of the context's last three
    (else two, else one) tokens, up to ``max_len`` of them (prompt lookup over the context), and
    how many tokens matched (0: no occurrence)."""
    n = len(tokens)
    for size in (3, 2, 1):
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
                return tokens[begin:min(begin + max_len, n)].copy(), size
    return tokens[:0].copy(), 0


def draft_tree(table: TrigramTable, previous: int, root: int, config: DraftConfig = DraftConfig(),
               seed: int = 0, context: np.ndarray | None = None) -> DraftTree:
    """The draft tree after the tokens ``previous, root`` (``root`` is already chosen): the draft
    tokens most likely to be accepted, each node's likelihood being the product of its path's
    conditional estimates (see :class:`DraftConfig`). With ``context`` (the sequence so far, ending
    with ``previous, root``), the continuation of the last n-gram's previous occurrence in it is a
    candidate path too (``config.lookup`` tokens).

    Example:
        >>> from drafters.trigram import TrigramTable
        >>> table = TrigramTable.from_token_ids([[1, 2, 3, 4, 5, 6]] * 3 + [[1, 2, 3, 9]], "toy")
        >>> tree = draft_tree(table, 1, 2)  # the 3 likeliest nodes
        >>> tree.tokens.tolist(), tree.parents.tolist()
        ([3, 4, 5], [-1, 0, 1])
        >>> [(path, round(p, 2)) for path, p in likely_prefixes(table, 1, 2)][-2:]
        [((3, 4, 5, 6), 0.3), ((3, 9), 0.16)]
        >>> draft_tree(table, 1, 2, DraftConfig(max_nodes=8)).tokens.tolist()  # 0.25 likely or more
        [3, 4, 5, 6]
    """
    if config.max_nodes <= 0:
        return EMPTY_TREE
    chosen = []
    for prefix, p in likely_prefixes(table, previous, root, config, seed, context):
        if len(chosen) >= config.max_nodes or (len(chosen) >= config.min_nodes and p < config.min_prob):
            break
        chosen.append(prefix)
    return merge_paths(chosen, config.max_nodes)


def likely_prefixes(table: TrigramTable, previous: int, root: int, config: DraftConfig = DraftConfig(),
                    seed: int = 0, context: np.ndarray | None = None) -> list[tuple[tuple[int, ...], float]]:
    """Every candidate draft (a token prefix after ``root``) with its likelihood of being accepted,
    most likely first; a prefix's parent always comes before it (see :func:`draft_tree`)."""
    likely: dict[tuple[int, ...], float] = {}
    if context is not None and config.lookup > 0:
        copied, size = context_continuation(np.asarray(context, dtype=np.int64), config.lookup)
        path = copied.tolist()
        p = 1.0
        for d in range(len(path)):
            p *= config.context_next if d else (config.context_first if size > 1 else config.context_unigram)
            likely[tuple(path[:d + 1])] = p
    tokens, parent, visits, keys_a = _mcts(table.key_a, table.key_b, table.succ, table.score,
                                           int(previous), int(root), int(config.iterations),
                                           int(config.depth), float(config.c1), float(config.c2),
                                           int(seed))
    prob = np.zeros(len(tokens))
    prob[0] = 1.0
    prefixes: dict[int, tuple[int, ...]] = {0: ()}
    has_child = np.zeros(len(tokens), dtype=bool)
    visited = np.flatnonzero(visits > 0)[1:]  # arena order: parents before children
    has_child[parent[visited]] = True
    for node in visited.tolist():
        up = int(parent[node])
        prob[node] = prob[up] * visits[node] / visits[up] * config.table_trust
        prefix = prefixes[up] + (int(tokens[node]),)
        prefixes[node] = prefix
        likely[prefix] = max(likely.get(prefix, 0.0), float(prob[node]))
        if not has_child[node]:  # a leaf: follow the table's best successors
            a, b, p = int(keys_a[node]), int(tokens[node]), float(prob[node])
            for _ in range(config.extend):
                nxt, score = table.successors(a, b)
                if not len(nxt):
                    break
                p *= float(score[0] / score.sum()) * config.table_trust
                if p < config.min_prob:
                    break
                a, b = b, int(nxt[0])
                prefix = prefix + (b,)
                likely[prefix] = max(likely.get(prefix, 0.0), p)
    return sorted(likely.items(), key=lambda kv: (-kv[1], len(kv[0])))


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
