"""Allowed-token bitmasks: int32 rows, bit ``j`` of word ``i`` is token ``32 * i + j`` (the layout
of xgrammar and vLLM, so masks interoperate). Allocation, inspection and a Numba apply kernel."""

from __future__ import annotations

import numpy as np
from numba import njit


def allocate_token_bitmask(batch_size: int, logits_width: int) -> np.ndarray:
    """A zeroed int32 bitmask ``[batch_size, ceil(logits_width / 32)]``.

    Example:
        >>> allocate_token_bitmask(2, 49152).shape
        (2, 1536)
    """
    return np.zeros((batch_size, (logits_width + 31) // 32), dtype=np.int32)


def bitmask_to_token_ids(bitmask_row: np.ndarray, logits_width: int | None = None) -> np.ndarray:
    """The token ids whose bit is set in one bitmask row.

    Example:
        >>> bitmask_to_token_ids(np.array([0b101, 1], dtype=np.int32)).tolist()
        [0, 2, 32]
    """
    bits = np.unpackbits(np.ascontiguousarray(bitmask_row).view(np.uint8), bitorder="little")
    if logits_width is not None:
        bits = bits[:logits_width]
    return np.flatnonzero(bits)


@njit(cache=True)
def _apply(logits, bitmask, rows):
    width = logits.shape[1]
    n_words = bitmask.shape[1]
    ninf = -np.inf
    for r in range(rows.shape[0]):
        row = rows[r]
        for w in range(n_words):
            word = np.uint32(bitmask[r, w])
            if word == np.uint32(0xFFFFFFFF):
                continue
            base = w * 32
            for j in range(32):
                k = base + j
                if k >= width:
                    break
                if not (word >> np.uint32(j)) & np.uint32(1):
                    logits[row, k] = ninf
        for k in range(n_words * 32, width):
            logits[row, k] = ninf


def apply_token_bitmask_inplace(logits: np.ndarray, bitmask: np.ndarray, rows=None) -> None:
    """Set to -inf every logit whose bit is 0 in ``bitmask`` (row ``i`` of the mask applies to row
    ``rows[i]`` of ``logits``, all rows by default). Ids past the mask's width are masked too.

    Example:
        >>> logits = np.zeros((1, 4), dtype=np.float32)
        >>> apply_token_bitmask_inplace(logits, np.array([[0b0110]], dtype=np.int32))
        >>> logits.tolist()
        [[-inf, 0.0, 0.0, -inf]]
    """
    rows = np.arange(len(bitmask)) if rows is None else np.asarray(rows, dtype=np.int64)
    _apply(logits, np.ascontiguousarray(bitmask, dtype=np.int32), rows.astype(np.int64))
