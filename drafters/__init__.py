"""Draft-and-verify decoding (ADED): an adaptive tri-gram table, tree drafts from a Monte-Carlo tree
search over it, and lossless tree verification. Token ids and tensors in, accepted tokens out; knows
no model library."""

from .search import DraftConfig, DraftTree, draft_tree
from .trigram import TableMismatchError, TrigramTable
from .verify import TreeBatch, accept, tree_inputs

__all__ = [
    "DraftConfig",
    "DraftTree",
    "TableMismatchError",
    "TreeBatch",
    "TrigramTable",
    "accept",
    "draft_tree",
    "tree_inputs",
]
