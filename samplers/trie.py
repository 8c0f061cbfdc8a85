"""The sample trie of grammar-aligned sampling: every prefix sampled so far, with its expected
future grammaticality ``theta``, stored in flat arrays.

A node is a token prefix after the prompt. Each node holds the log-probability of its last token
(under the distribution the user samples, first value seen), and ``log theta``: an
over-approximation of the probability that the model, continuing from the prefix, ends with a
string of the grammar. Children that were never sampled are not stored: their theta is 1.

Once a node is *expanded* (its allowed tokens and their probabilities were seen),

    theta(u) = (allowed mass of unvisited children) + sum over visited children c of p_c * theta_c

is recomputed, and the change propagates to the root. theta therefore only decreases, and
``theta(root)`` falls towards the probability that the model's output belongs to the grammar.

Memory: a node costs 53 bytes (``max_nodes`` default 4,000,000, about 210 MB: 10,000 samples of
100 tokens fit); the allowed tokens of expanded nodes are kept, 8 bytes per token, up to
``max_stored`` entries (default 16 M, 128 MB) so revisits need no model call. At either bound the
trie stops growing: prefixes it cannot store behave as never seen (theta 1, a sound
over-approximation), samples stay valid and exact mode stays exact; only the learning stops there.
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np

from grammars.cache import load_arrays, save_arrays

__all__ = ["SampleTrie", "TrieMismatchError", "TRIE_FORMAT"]

TRIE_FORMAT = "guided-decoding sample trie"
TRIE_FORMAT_VERSION = 1

_EOS = 1
_EXPANDED = 2
_STORED = 4

_NODE_FIELDS = {
    "parent": np.int32,
    "token": np.int32,
    "first_child": np.int32,
    "next_sibling": np.int32,
    "logp": np.float32,
    "logtheta": np.float64,
    "allowed_mass": np.float64,
    "n_allowed": np.int32,
    "dist_start": np.int64,
    "flags": np.uint8,
}


class TrieMismatchError(ValueError):
    """A saved trie was built for another prompt, grammar, tokenizer, decoding config or version;
    ``field`` names the first header field that differs."""

    def __init__(self, path: str | os.PathLike, field: str, saved, current):
        super().__init__(
            f"{path}: the saved trie does not match this run: {field} is {saved!r} in the file "
            f"but {current!r} now. Use another file, or delete it to start afresh."
        )
        self.field = field


class SampleTrie:
    """Prefixes sampled so far with their log theta, in growable arrays (node 0 is the root).

    Example:
        >>> import numpy as np
        >>> trie = SampleTrie()
        >>> trie.expand(0, np.array([3, 7]), np.log(np.array([0.5, 0.25], dtype=np.float32)))
        >>> round(trie.theta(0), 6)               # allowed mass: 0.5 + 0.25
        0.75
        >>> child = trie.add_child(0, 3, np.log(0.5))
        >>> trie.expand(child, np.array([], dtype=np.int64), np.array([], dtype=np.float32))
        >>> round(trie.theta(0), 6)               # token 3 turned out to be a dead end
        0.25
    """

    def __init__(self, *, max_nodes: int = 4_000_000, max_stored: int = 16_000_000,
                 header: dict | None = None):
        self.max_nodes = int(max_nodes)
        self.max_stored = int(max_stored)
        self.header: dict = dict(header or {})
        self._n = 0
        self._cap = 0
        self._a: dict[str, np.ndarray] = {}
        self._grow(1024)
        self._dist_tokens = np.zeros(0, dtype=np.int32)
        self._dist_logp = np.zeros(0, dtype=np.float32)
        self._dist_used = 0
        self._warned = False
        self._new_node(-1, -1, 0.0, eos=False)

    # -- size ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes held by the node arrays and the stored distributions."""
        return sum(a.nbytes for a in self._a.values()) + self._dist_tokens.nbytes + self._dist_logp.nbytes

    def _grow(self, cap: int) -> None:
        for name, dtype in _NODE_FIELDS.items():
            new = np.empty(cap, dtype=dtype)
            if name in self._a:
                new[: self._n] = self._a[name][: self._n]
            self._a[name] = new
        self._cap = cap

    def _full(self, what: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"sample trie: {what} bound reached; new prefixes are no longer stored "
                          f"(samples stay valid, learning stops there)", RuntimeWarning, stacklevel=3)

    def _new_node(self, parent: int, token: int, logp: float, *, eos: bool) -> int:
        if self._n >= self.max_nodes:
            self._full(f"max_nodes={self.max_nodes}")
            return -1
        if self._n == self._cap:
            self._grow(min(self._cap * 2, self.max_nodes))
        i = self._n
        a = self._a
        a["parent"][i] = parent
        a["token"][i] = token
        a["first_child"][i] = -1
        a["logp"][i] = logp
        a["logtheta"][i] = 0.0
        a["allowed_mass"][i] = math.nan
        a["n_allowed"][i] = -1
        a["dist_start"][i] = -1
        a["flags"][i] = _EOS if eos else 0
        if parent >= 0:
            a["next_sibling"][i] = a["first_child"][parent]
            a["first_child"][parent] = i
        else:
            a["next_sibling"][i] = -1
        self._n += 1
        return i

    # -- structure ----------------------------------------------------------------------------

    def child(self, node: int, token: int) -> int:
        """The child of ``node`` reached by ``token``, or -1 if it was never sampled."""
        first, nxt, tok = self._a["first_child"], self._a["next_sibling"], self._a["token"]
        c = int(first[node])
        while c >= 0:
            if tok[c] == token:
                return c
            c = int(nxt[c])
        return -1

    def children(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, node ids) of the sampled children of ``node``."""
        nxt, tok = self._a["next_sibling"], self._a["token"]
        ids = []
        c = int(self._a["first_child"][node])
        while c >= 0:
            ids.append(c)
            c = int(nxt[c])
        ids_arr = np.array(ids, dtype=np.int64)
        return tok[ids_arr].astype(np.int64), ids_arr

    def add_child(self, node: int, token: int, logp: float, *, eos: bool = False) -> int:
        """Store a newly sampled child (theta 1); returns its id, or -1 if the trie is full."""
        return self._new_node(node, token, logp, eos=eos)

    def parent(self, node: int) -> int:
        return int(self._a["parent"][node])

    def path(self, node: int) -> list[int]:
        """Token ids from the root to ``node``."""
        out = []
        while node > 0:
            out.append(int(self._a["token"][node]))
            node = int(self._a["parent"][node])
        return out[::-1]

    def is_expanded(self, node: int) -> bool:
        return bool(self._a["flags"][node] & _EXPANDED)

    def is_eos(self, node: int) -> bool:
        return bool(self._a["flags"][node] & _EOS)

    def logtheta(self, node: int) -> float:
        return float(self._a["logtheta"][node])

    def theta(self, node: int) -> float:
        return math.exp(self._a["logtheta"][node])

    def logp(self, node: int) -> float:
        return float(self._a["logp"][node])

    def allowed_mass(self, node: int) -> float:
        return float(self._a["allowed_mass"][node])

    def logthetas(self) -> np.ndarray:
        """A copy of every node's log theta (index = node id)."""
        return self._a["logtheta"][: self._n].copy()

    # -- expansion and the theta recursion -----------------------------------------------------

    def expand(self, node: int, tokens: np.ndarray, logps: np.ndarray) -> None:
        """Record the allowed tokens of ``node`` (ascending ids) and their log-probabilities, then
        recompute theta on the path to the root. Expanding twice keeps the first values."""
        a = self._a
        if a["flags"][node] & (_EXPANDED | _EOS):
            return
        n = len(tokens)
        a["allowed_mass"][node] = float(np.exp(logps.astype(np.float64)).sum()) if n else 0.0
        a["n_allowed"][node] = n
        flags = _EXPANDED
        if self._dist_used + n <= self.max_stored:
            start = self._dist_used
            self._reserve(start + n)
            self._dist_tokens[start:start + n] = tokens
            self._dist_logp[start:start + n] = logps
            self._dist_used = start + n
            a["dist_start"][node] = start
            flags |= _STORED
        else:
            self._full(f"max_stored={self.max_stored}")
        a["flags"][node] |= flags
        self.propagate(node)

    def _reserve(self, size: int) -> None:
        if size > len(self._dist_tokens):
            cap = max(size, 2 * len(self._dist_tokens), 4096)
            for name in ("_dist_tokens", "_dist_logp"):
                old = getattr(self, name)
                new = np.empty(cap, dtype=old.dtype)
                new[: self._dist_used] = old[: self._dist_used]
                setattr(self, name, new)

    def distribution(self, node: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The stored (allowed token ids, log-probabilities) of an expanded node, or None."""
        if not self._a["flags"][node] & _STORED:
            return None
        s = int(self._a["dist_start"][node])
        n = int(self._a["n_allowed"][node])
        return self._dist_tokens[s:s + n], self._dist_logp[s:s + n]

    def _recompute(self, node: int) -> None:
        a = self._a
        _, kids = self.children(node)
        if len(kids):
            p = np.exp(a["logp"][kids].astype(np.float64))
            visited = float(p.sum())
            weighted = float((p * np.exp(a["logtheta"][kids])).sum())
        else:
            visited = weighted = 0.0
        # The unvisited mass is recomputed from the sum each time (never decremented), and is
        # exactly 0 once every allowed token has been visited.
        unvisited = 0.0 if len(kids) >= a["n_allowed"][node] else max(a["allowed_mass"][node] - visited, 0.0)
        total = unvisited + weighted
        new = math.log(total) if total > 0.0 else -math.inf
        a["logtheta"][node] = min(new, float(a["logtheta"][node]))  # round-off never raises theta

    def propagate(self, node: int) -> None:
        """Recompute theta of ``node`` (if expanded) and of each ancestor."""
        while node >= 0:
            if self._a["flags"][node] & _EXPANDED:
                self._recompute(node)
            node = int(self._a["parent"][node])

    def proposal_logits(self, node: int, tokens: np.ndarray, logps: np.ndarray) -> np.ndarray:
        """``log p + log theta(child)`` for each allowed token (float64): the ASAp proposal."""
        out = logps.astype(np.float64)
        toks, kids = self.children(node)
        if len(kids):
            pos = np.searchsorted(tokens, toks)
            ok = (pos < len(tokens))
            pos, kids = pos[ok], kids[ok]
            hit = tokens[pos] == toks[ok]
            out[pos[hit]] += self._a["logtheta"][kids[hit]]
        return out

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the trie and its header to ``path`` (``.npz``), atomically."""
        header = {"format": TRIE_FORMAT, "format_version": TRIE_FORMAT_VERSION, **self.header}
        arrays = {name: a[: self._n] for name, a in self._a.items()}
        arrays["dist_tokens"] = self._dist_tokens[: self._dist_used]
        arrays["dist_logp"] = self._dist_logp[: self._dist_used]
        save_arrays(path, header, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, *, expect: dict | None = None,
             max_nodes: int = 4_000_000, max_stored: int = 16_000_000) -> "SampleTrie":
        """Read a trie saved by :meth:`save`. Each field of ``expect`` must equal the file's
        header, else :class:`TrieMismatchError` names the first field that differs."""
        header, arrays = load_arrays(path, (*_NODE_FIELDS, "dist_tokens", "dist_logp"),
                                     "a sample trie file")
        current = {"format": TRIE_FORMAT, "format_version": TRIE_FORMAT_VERSION, **(expect or {})}
        for key, value in current.items():
            saved = header.get(key)
            if json.loads(json.dumps(value)) != saved:
                raise TrieMismatchError(path, key, saved, value)
        for key in ("format", "format_version"):
            header.pop(key, None)
        trie = cls.__new__(cls)
        trie.max_nodes = max(int(max_nodes), len(arrays["parent"]))
        trie.max_stored = max(int(max_stored), len(arrays["dist_tokens"]))
        trie.header = header
        trie._n = len(arrays["parent"])
        trie._cap = 0
        trie._a = {}
        trie._grow(max(trie._n, 1024))
        for name in _NODE_FIELDS:
            trie._a[name][: trie._n] = arrays[name]
        trie._dist_tokens = arrays["dist_tokens"].astype(np.int32, copy=True)
        trie._dist_logp = arrays["dist_logp"].astype(np.float32, copy=True)
        trie._dist_used = len(trie._dist_tokens)
        trie._warned = False
        return trie
