"""The adaptive tri-gram table of ADED: for each token pair (a, b), up to ``ROW`` successors c with a
score, in an open-addressing hash table of flat arrays (Numba reads and updates it).

Built from a corpus tokenised with the target tokenizer: scores start as conditional frequencies
``count(a, b, c) / count(a, b, *)``, pruned to the top ``keep`` successors per pair (12, as ADED).
Online adaptation: each trigram of a request's prompt and of what the model commits adds
``increment`` to its score, capped at ``cap`` (3.0), creating the pair or successor if missing (a
full row replaces its weakest entry). Each trigram is bumped once, when it enters the context; the
reference code instead adds 0.04 at every step while a trigram lies in the last 16 tokens (about 0.5
in all), so the default increment is 0.5 (it measured better than 0.04 once-only on
``benchmarks/drafting.py``). Scores stop being probabilities; drafting normalises a row when it
needs a probability. The table is shared state: it improves across
requests; :meth:`TrigramTable.copy` gives a private one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence

import numba
import numpy as np

from grammars.cache import load_arrays, save_arrays

__all__ = ["TrigramTable", "TableMismatchError", "ROW"]

ROW = 16  # successor slots per pair: ``keep`` from the corpus plus room for online additions
_EMPTY = -1
_FORMAT = "guided-decoding trigram table"
_FORMAT_VERSION = 1


class TableMismatchError(ValueError):
    """A saved table was built for another tokenizer."""


@numba.njit(cache=True, inline="always")
def _hash(a: int, b: int, mask: int) -> int:
    h = (np.uint64(a) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(b) * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))


@numba.njit(cache=True)
def _probe(key_a: np.ndarray, key_b: np.ndarray, a: int, b: int) -> int:
    """The slot holding pair (a, b), else the empty slot where it would go."""
    mask = len(key_a) - 1
    i = _hash(a, b, mask)
    while key_a[i] != _EMPTY and not (key_a[i] == a and key_b[i] == b):
        i = (i + 1) & mask
    return i


@numba.njit(cache=True)
def find_row(key_a: np.ndarray, key_b: np.ndarray, a: int, b: int) -> int:
    """The slot of pair (a, b), or -1."""
    i = _probe(key_a, key_b, a, b)
    return i if key_a[i] != _EMPTY else -1


@numba.njit(cache=True)
def _insert_row(key_a, key_b, a, b) -> int:
    i = _probe(key_a, key_b, a, b)
    key_a[i] = a
    key_b[i] = b
    return i


@numba.njit(cache=True)
def _bump(key_a, key_b, succ, score, tokens, start, increment, cap) -> int:
    """Add ``increment`` to every trigram of ``tokens`` ending at index >= start; returns the number
    of pairs created (the caller grows the table before it gets too full)."""
    created = 0
    for k in range(max(start, 2), len(tokens)):
        a, b, c = tokens[k - 2], tokens[k - 1], tokens[k]
        row = find_row(key_a, key_b, a, b)
        if row < 0:
            row = _insert_row(key_a, key_b, a, b)
            created += 1
        weakest = 0
        hit = -1
        for j in range(succ.shape[1]):
            if succ[row, j] == c:
                hit = j
                break
            if succ[row, j] == _EMPTY:
                hit = j
                succ[row, j] = c
                score[row, j] = 0.0
                break
            if score[row, j] < score[row, weakest]:
                weakest = j
        if hit < 0:
            hit = weakest
            succ[row, hit] = c
            score[row, hit] = 0.0
        score[row, hit] = min(score[row, hit] + increment, cap)
    return created


class TrigramTable:
    """Tri-gram successor scores for draft construction.

    Args:
        tokenizer_fingerprint: identifies the tokenizer the token ids belong to; a saved table
            loads only for the same one.
        capacity: initial number of pair slots (grows as needed).

    Example:
        >>> table = TrigramTable.from_token_ids([[1, 2, 3, 1, 2, 3, 1, 2, 4]], "toy")
        >>> tokens, scores = table.successors(1, 2)     # best first
        >>> tokens.tolist(), [round(float(s), 3) for s in scores]
        ([3, 4], [0.667, 0.333])
        >>> table.update([7, 8, 9])                     # the model said 7 8 9: learn it
        >>> table.successors(7, 8)[0].tolist()
        [9]
    """

    def __init__(self, tokenizer_fingerprint: str, *, capacity: int = 1 << 12, increment: float = 0.5,
                 cap: float = 3.0):
        size = 1 << max(4, int(capacity - 1).bit_length())
        self.tokenizer_fingerprint = tokenizer_fingerprint
        self.increment = float(increment)
        self.cap = float(cap)
        self.key_a = np.full(size, _EMPTY, dtype=np.int32)
        self.key_b = np.full(size, _EMPTY, dtype=np.int32)
        self.succ = np.full((size, ROW), _EMPTY, dtype=np.int32)
        self.score = np.zeros((size, ROW), dtype=np.float32)
        self.pairs = 0
        self._lock = threading.Lock()

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_token_ids(cls, documents: Iterable[Sequence[int]], tokenizer_fingerprint: str, *,
                       keep: int = 12, **kwargs) -> "TrigramTable":
        """Count the trigrams of tokenised documents; keep the ``keep`` most frequent successors
        of each pair, scored by conditional frequency (not renormalised after pruning)."""
        if not 1 <= keep <= ROW:
            raise ValueError(f"keep must be between 1 and {ROW} (got {keep})")
        keys = []
        for doc in documents:
            ids = np.asarray(doc, dtype=np.int64)
            if len(ids) < 3:
                continue
            if ids.min() < 0 or ids.max() >= 1 << 21:
                raise ValueError("token ids must lie in [0, 2**21)")
            keys.append((ids[:-2] << 42) | (ids[1:-1] << 21) | ids[2:])
        if not keys:
            return cls(tokenizer_fingerprint, **kwargs)
        trigram, count = np.unique(np.concatenate(keys), return_counts=True)
        pair = trigram >> 21
        # Sort by pair, then by count descending, and keep the first ``keep`` of each pair.
        order = np.lexsort((-count, pair))
        trigram, count, pair = trigram[order], count[order], pair[order]
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        sizes = np.diff(np.r_[starts, len(pair)])
        totals = np.add.reduceat(count, starts)
        rank = np.arange(len(pair)) - np.repeat(starts, sizes)
        kept = rank < keep
        table = cls(tokenizer_fingerprint, capacity=2 * len(starts) + 16, **kwargs)
        pa = (pair >> 21).astype(np.int32)
        pb = (pair & ((1 << 21) - 1)).astype(np.int32)
        c = (trigram & ((1 << 21) - 1)).astype(np.int32)
        prob = (count / np.repeat(totals, sizes)).astype(np.float32)
        _fill(table.key_a, table.key_b, table.succ, table.score, pa[starts], pb[starts],
              np.repeat(np.arange(len(starts)), sizes)[kept], rank[kept].astype(np.int64),
              c[kept], prob[kept])
        table.pairs = len(starts)
        return table

    # -- use ----------------------------------------------------------------------------------

    def successors(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """The successors of pair (a, b) and their scores, best first."""
        row = find_row(self.key_a, self.key_b, a, b)
        if row < 0:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        ok = self.succ[row] != _EMPTY
        toks, scores = self.succ[row][ok], self.score[row][ok]
        order = np.argsort(-scores, kind="stable")
        return toks[order], scores[order]

    def update(self, tokens: Sequence[int], start: int = 0) -> None:
        """Learn the trigrams of ``tokens`` that end at index ``start`` or later."""
        ids = np.asarray(tokens, dtype=np.int32)
        if len(ids) < 3:
            return
        with self._lock:
            if 4 * (self.pairs + len(ids)) > 3 * len(self.key_a):
                self._grow(2 * len(self.key_a) + 4 * len(ids))
            self.pairs += _bump(self.key_a, self.key_b, self.succ, self.score, ids, int(start),
                                np.float32(self.increment), np.float32(self.cap))

    def _grow(self, min_size: int) -> None:
        old = (self.key_a, self.key_b, self.succ, self.score)
        size = 1 << int(min_size - 1).bit_length()
        self.key_a = np.full(size, _EMPTY, dtype=np.int32)
        self.key_b = np.full(size, _EMPTY, dtype=np.int32)
        self.succ = np.full((size, ROW), _EMPTY, dtype=np.int32)
        self.score = np.zeros((size, ROW), dtype=np.float32)
        live = np.flatnonzero(old[0] != _EMPTY)
        _rehash(self.key_a, self.key_b, self.succ, self.score, old[0][live], old[1][live],
                old[2][live], old[3][live])

    def copy(self) -> "TrigramTable":
        """An independent copy (per-request or per-worker isolation)."""
        other = TrigramTable.__new__(TrigramTable)
        other.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v)
                               for k, v in self.__dict__.items() if k != "_lock"})
        other._lock = threading.Lock()
        return other

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the table (``.npz``, with a header naming the tokenizer), atomically."""
        header = {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                  "tokenizer_fingerprint": self.tokenizer_fingerprint,
                  "increment": self.increment, "cap": self.cap, "pairs": self.pairs}
        save_arrays(path, header, {"key_a": self.key_a, "key_b": self.key_b, "succ": self.succ,
                                   "score": self.score})

    @classmethod
    def load(cls, path: str | os.PathLike, tokenizer_fingerprint: str) -> "TrigramTable":
        """Read a saved table; refused (:class:`TableMismatchError`) if it was built for another
        tokenizer."""
        header, arrays = load_arrays(path, ("key_a", "key_b", "succ", "score"), "a trigram table file")
        if header.get("format") != _FORMAT or header.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: not a trigram table file of format version {_FORMAT_VERSION}")
        if header["tokenizer_fingerprint"] != tokenizer_fingerprint:
            raise TableMismatchError(
                f"{path}: this trigram table was built for another tokenizer (fingerprint "
                f"{header['tokenizer_fingerprint']}, this one is {tokenizer_fingerprint}); its token "
                f"ids would mean other tokens. Build a table with this tokenizer.")
        table = cls(tokenizer_fingerprint, increment=header["increment"], cap=header["cap"])
        table.key_a, table.key_b = arrays["key_a"], arrays["key_b"]
        table.succ, table.score = arrays["succ"], arrays["score"]
        table.pairs = int(header["pairs"])
        return table


@numba.njit(cache=True)
def _fill(key_a, key_b, succ, score, pa, pb, row_of, rank, c, prob):
    rows = np.empty(len(pa), dtype=np.int64)
    for i in range(len(pa)):
        rows[i] = _insert_row(key_a, key_b, pa[i], pb[i])
    for k in range(len(row_of)):
        r = rows[row_of[k]]
        succ[r, rank[k]] = c[k]
        score[r, rank[k]] = prob[k]


@numba.njit(cache=True)
def _rehash(key_a, key_b, succ, score, old_a, old_b, old_succ, old_score):
    for i in range(len(old_a)):
        r = _insert_row(key_a, key_b, old_a[i], old_b[i])
        succ[r] = old_succ[i]
        score[r] = old_score[i]
