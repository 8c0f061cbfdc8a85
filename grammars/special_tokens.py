"""Special tokens that a grammar names (``<|im_end|>``, ``<[128010]>`` in the llguidance dialect).

A grammar stands for a special token with a literal that no text can spell: the token's name
between two 0xFF bytes, a byte that UTF-8 never uses. In Lark text the byte is written
``\\udcff`` (the lone surrogate that Python's ``surrogateescape`` reads as 0xFF). A vocabulary for
such a grammar (:func:`vocabulary_with_special_tokens`) gives each named special token those bytes
and drops the ordinary tokens that contain a 0xFF byte (no UTF-8 text has one), so the special
token is the only way to produce the literal, and it is allowed only where the grammar names it.

Example:
    >>> from grammars import Grammar, Vocabulary, compile_grammar, GrammarMatcher
    >>> g = Grammar.from_lark('start: "a" S "b"\\nS: ' + special_token_literal("<|sep|>"))
    >>> special_token_names(g)
    {'<|sep|>'}
    >>> vocab = Vocabulary([b"a", b"b", b"\\xff", None, None], eos_token_ids=(4,))
    >>> vocab = vocabulary_with_special_tokens(vocab, {"<|sep|>": 3})
    >>> m = GrammarMatcher(compile_grammar(g, vocab, use_disk_cache=False))
    >>> m.advance(0)
    >>> m.allowed_token_ids().tolist()  # only the special token, not the ordinary 0xFF byte
    [3]
"""

from __future__ import annotations

import json
from typing import Any

from .errors import VocabularyError
from .vocabulary import Vocabulary

MARK = "\udcff"  # the byte 0xFF under surrogateescape
_MARK_BYTE = 0xFF
_MAX_CACHED = 64  # vocabularies with special tokens kept (one per tokenizer and set of names)
_cache: dict[tuple, Vocabulary] = {}


def special_token_literal(name: str) -> str:
    """The Lark string literal that stands for the special token ``name`` (e.g. ``<|im_end|>``)."""
    return json.dumps(MARK + name + MARK)


def literal_bytes(text: str) -> bytes:
    """The bytes a Lark string literal matches: its UTF-8, or for a special token's literal the
    name between two 0xFF bytes. A lone surrogate anywhere else is a ``UnicodeEncodeError``."""
    if len(text) > 2 and text[0] == MARK and text[-1] == MARK and MARK not in text[1:-1]:
        return b"\xff" + text[1:-1].encode("utf-8") + b"\xff"
    return text.encode("utf-8")


def special_token_names(grammar: Any) -> set[str]:
    """The special tokens a :class:`~grammars.Grammar` names (its special-token literals)."""
    found = set()
    for t in getattr(grammar.parser, "terminals", ()):
        value = t.pattern.value
        if t.pattern.type == "str" and len(value) > 2 and value[0] == MARK and value[-1] == MARK:
            found.add(value[1:-1])
    return found


def vocabulary_with_special_tokens(vocabulary: Vocabulary, ids: dict[str, int]) -> Vocabulary:
    """``vocabulary`` in which token ``ids[name]`` stands for the special token ``name`` and no
    ordinary token contains a 0xFF byte. A :class:`VocabularyError` names an id that the vocabulary
    does not have or that ends the sequence (the grammar's end stands for that token). Built once
    per vocabulary and set of ids: a new request with the same special tokens reuses it (and its
    token trie)."""
    key = (vocabulary.fingerprint, tuple(sorted(ids.items())))
    hit = _cache.get(key)
    if hit is None:
        hit = _build(vocabulary, ids)
        if len(_cache) >= _MAX_CACHED:
            _cache.clear()
        _cache[key] = hit
    return hit


def _build(vocabulary: Vocabulary, ids: dict[str, int]) -> Vocabulary:
    token_bytes = [None if b is not None and _MARK_BYTE in b else b for b in vocabulary.token_bytes]
    for name, i in sorted(ids.items()):
        if not 0 <= i < vocabulary.size:
            raise VocabularyError(f"the grammar names the special token {name} (id {i}), which is outside "
                                  f"the vocabulary ({vocabulary.size} tokens)")
        if i in vocabulary.eos_token_ids:
            raise VocabularyError(f"the grammar names {name}, the end-of-sequence token: the end of the "
                                  "grammar's language stands for it; leave it out of the grammar")
        token_bytes[i] = b"\xff" + name.encode("utf-8") + b"\xff"
    return Vocabulary(token_bytes, vocabulary.eos_token_ids, vocabulary.logits_width,
                      name=f"{vocabulary.name}+specials {','.join(sorted(ids))}")
