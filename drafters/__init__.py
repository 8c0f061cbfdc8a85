"""Draft-and-verify decoding (ADED): an adaptive tri-gram table, tree drafts from a Monte-Carlo tree
search over it, and lossless tree verification. Token ids and tensors in, accepted tokens out; knows
no model library."""

import numpy as np

import grammars.llvmlite_compat  # noqa: F401  (lets a vLLM engine start after numba is imported)

from .search import DraftConfig, DraftTree, draft_tree
from .trigram import TableMismatchError, TrigramTable
from .verify import TreeBatch, accept, tree_inputs



def compile_kernels() -> None:
    """Compile (or load from Numba's disk cache) the drafting kernels with a tiny table, so the
    first real draft does not pay for the JIT; ``scripts/setup.sh`` calls it.

    Example:
        >>> compile_kernels()
    """
    table = TrigramTable.from_token_ids([[1, 2, 3, 1, 2, 4]], "warm-up")
    table.update([5, 6, 7, 1, 2, 3])
    draft_tree(table, 1, 2, context=np.array([1, 2, 3, 1, 2]))
    table.copy()._grow(64)


__all__ = [
    "compile_kernels",
    "DraftConfig",
    "DraftTree",
    "TableMismatchError",
    "TreeBatch",
    "TrigramTable",
    "accept",
    "draft_tree",
    "tree_inputs",
]
