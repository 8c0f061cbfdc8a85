"""Constraints: grammars compiled against a vocabulary into token masks.

    front-ends: Lark text, frontends/ (regex, llguidance dialect), json_schema/, structural_tag/
        │ (each produces Lark text; the core never imports a front-end back)
        ▼
    Grammar ─► compile_grammar(vocabulary) ─► CompiledGrammar ─► GrammarMatcher ─► masks
                 lexing/   terminals, each a byte DFA (regex/), run as one Lexicon
                 parsing/  LALR(1) tables; the general path (GLR, indenter) for the rest
                 trie, kernels (Numba), cache (on disk)

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


def __getattr__(name: str):
    """The JSON Schema front-end's names, imported on first use: a process that never reads a
    schema does not load the translator (about 40 ms of imports on the way to a first mask)."""
    if name in ("UnsupportedSchemaError", "serialize_instance"):
        from . import json_schema

        return getattr(json_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
