"""Masks for a whole batch in one call: every row's matcher state written into one int32 bitmask,
across threads when the batch is large and the grammar kernels release the GIL (as xgrammar's
``BatchGrammarMatcher`` and llguidance's parallel fill do), then applied to the logits where they
live (on a GPU: on the device, one transfer of the bitmask, no host loop over rows).

Example:
    >>> import torch
    >>> from grammars import Grammar, GrammarMatcher, Vocabulary, compile_grammar
    >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
    >>> m = GrammarMatcher(compile_grammar(Grammar.from_regex("ab"), vocab, use_disk_cache=False))
    >>> filler = BatchMaskFiller(logits_width=3)
    >>> logits = torch.zeros(2, 3)
    >>> filler.apply(logits, [m], rows=[1])
    >>> logits.tolist()
    [[0.0, 0.0, 0.0], [0.0, -inf, -inf]]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from grammars import GrammarMatcher, allocate_token_bitmask
from grammars import kernels as _kernels

from ..hf import apply_bitmask

PARALLEL_FROM = 64  # rows per batch from which the fill is split across threads


def kernels_release_the_gil() -> bool:
    """Whether the mask kernel runs without the GIL (``nogil=True``), so threads fill in parallel."""
    return bool(getattr(_kernels.fill_mask, "targetoptions", {}).get("nogil"))


class BatchMaskFiller:
    """Fills and applies the allowed-token masks of many matchers at once, reusing one bitmask.

    Args:
        logits_width: the logits' last dimension.
        threads: worker threads for large batches (default: up to 4 when the kernels release the
            GIL, else none: threads would only take turns).
    """

    def __init__(self, logits_width: int, *, threads: int | None = None) -> None:
        self.logits_width = logits_width
        if threads is None:
            threads = min(4, os.cpu_count() or 1) if kernels_release_the_gil() else 0
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, "guided-decoding-mask") if threads > 1 else None
        self._bitmask = allocate_token_bitmask(8, logits_width)

    def fill(self, matchers: Sequence[GrammarMatcher]) -> np.ndarray:
        """The bitmask rows of ``matchers`` (a view of the filler's buffer, valid until the next
        call)."""
        n = len(matchers)
        if self._bitmask.shape[0] < n:
            self._bitmask = allocate_token_bitmask(2 * n, self.logits_width)
        bitmask = self._bitmask[:n]
        if self._pool is None or n < PARALLEL_FROM:
            for i, m in enumerate(matchers):
                m.fill_bitmask(bitmask, i)
            return bitmask
        chunk = -(-n // self.threads)
        starts = range(0, n, chunk)

        def fill_part(start: int) -> None:
            for i in range(start, min(start + chunk, n)):
                matchers[i].fill_bitmask(bitmask, i)

        for done in self._pool.map(fill_part, starts):  # re-raises a worker's error
            del done
        return bitmask

    def apply(self, logits: torch.Tensor, matchers: Sequence[GrammarMatcher], rows: Sequence[int]) -> None:
        """Mask, in place, logits row ``rows[i]`` by what ``matchers[i]`` allows."""
        if not matchers:
            return
        apply_bitmask(logits, self.fill(matchers), list(rows))  # on the logits' device

