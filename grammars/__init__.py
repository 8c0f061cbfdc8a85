"""Constraints: Lark grammars compiled against a vocabulary into token masks.

    Grammar  --compile_grammar(vocabulary)-->  CompiledGrammar  --GrammarMatcher-->  bitmasks

Knows nothing of models: a :class:`Vocabulary` (token id -> bytes) is all it needs.
"""

from . import llvmlite_compat  # noqa: F401  (before numba is used: lets a vLLM engine start)
from .compiler import CompiledGrammar, compile_grammar, token_trie
from .warmup import compile_kernels
from .errors import (
    EmptyLanguageError,
    EmptyMaskError,
    GrammarConflictError,
    GrammarError,
    GrammarSyntaxError,
    GrammarTooLargeError,
    TokenRejectedError,
    UndefinedSymbolError,
    RegexSyntaxError,
    UnsupportedRegexError,
    VocabularyError,
)
from .grammar import Grammar, bundled_grammar_description, bundled_grammar_names
from .json_schema import UnsupportedSchemaError, serialize_instance
from .bitmask import allocate_token_bitmask, apply_token_bitmask_inplace, bitmask_to_token_ids
from .matcher import GrammarMatcher, text_matches
from .vocabulary import Vocabulary, byte_vocabulary

__all__ = [
    "CompiledGrammar",
    "EmptyLanguageError",
    "EmptyMaskError",
    "Grammar",
    "GrammarConflictError",
    "GrammarError",
    "GrammarMatcher",
    "GrammarSyntaxError",
    "GrammarTooLargeError",
    "TokenRejectedError",
    "UndefinedSymbolError",
    "RegexSyntaxError",
    "UnsupportedRegexError",
    "UnsupportedSchemaError",
    "serialize_instance",
    "Vocabulary",
    "VocabularyError",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "bitmask_to_token_ids",
    "byte_vocabulary",
    "bundled_grammar_description",
    "bundled_grammar_names",
    "compile_grammar",
    "compile_kernels",
    "text_matches",
    "token_trie",
]
