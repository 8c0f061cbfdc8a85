"""Decoding algorithms over next-token distributions: grammar-constrained (GCD), grammar-aligned
(ASAp) and exact grammar-aligned sampling. Uses :mod:`grammars`; knows no model library."""

from .aligned import (
    AlignedSample,
    AlignedSampler,
    NextTokenModel,
    SamplingError,
    UnsatisfiableError,
)
from .trie import SampleTrie, TrieMismatchError

__all__ = [
    "AlignedSample",
    "AlignedSampler",
    "NextTokenModel",
    "SampleTrie",
    "SamplingError",
    "TrieMismatchError",
    "UnsatisfiableError",
]
