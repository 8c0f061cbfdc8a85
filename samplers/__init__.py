"""Decoding algorithms over next-token distributions: grammar-constrained (GCD), grammar-aligned
(ASAp) and exact grammar-aligned sampling; attributes and the learned attribute classifier of
conditional beam search (:mod:`samplers.attributes`, :mod:`samplers.attribute_classifier`);
inference-aware best-of-N selection (:mod:`samplers.best_of_n`); in-context navigation
(:mod:`samplers.navigation`). Uses :mod:`grammars`; knows no model library."""

from .aligned import (
    AlignedSample,
    AlignedSampler,
    NextTokenModel,
    SamplingError,
    UnsatisfiableError,
)
from .exact import LanguageTable, TableModel, enumerate_language
from .trie import SampleTrie, TrieMismatchError

__all__ = [
    "AlignedSample",
    "AlignedSampler",
    "LanguageTable",
    "NextTokenModel",
    "SampleTrie",
    "SamplingError",
    "TableModel",
    "TrieMismatchError",
    "UnsatisfiableError",
    "enumerate_language",
]
