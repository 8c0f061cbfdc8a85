"""The token slicer (grammars/slices.py): the stack-independent mask of every state met along real
documents is the same with the slice skipped (its tokens from the vocabulary's slice masks, first
recorded, then reused) as with the whole trie walked; and the slices are what they should be
inside a JSON string and in free text."""

from __future__ import annotations

import numpy as np
import pytest

from grammars import Grammar, GrammarMatcher, compile_grammar
from grammars.slices import slice_key
from grammars.structural_tag.free_text import text_avoiding

DOCUMENTS = {
    "json": [
        '{"name": "Zoë Ωμέγα 日本語 😀", "esc": "a\\"b\\\\c\\u00e9\\n", "n": [1, -2.5e3, true, null]}',
        '[{"id": 1, "text": "The quick brown fox, jumps over: the lazy dog!"}, {"id": 2}]',
    ],
    "free": ["Sure, I can help <with> that — voilà <b>bold</b> 😀 <tool call, <too>, <tool!"],
}


def _grammar(name: str) -> Grammar:
    if name == "json":
        return Grammar.bundled("json")
    return Grammar.from_lark(f'start: TEXT\nTEXT: /{text_avoiding(["<tool>"], nonempty=True)}/')


def _slice_bytes(cg, state) -> tuple[set[int], bool]:
    lx = cg.lexicon
    lo, hi, utf8 = slice_key(state.q, state.acc, lx.transitions, lx.live, lx.accept, lx.extend)
    bits = int(lo) | int(hi) << 64
    return {b for b in range(128) if bits >> b & 1}, utf8


@pytest.fixture(scope="module")
def vocab(test_tokenizer):
    from decoding.tokenizers import vocabulary_from_hf

    return vocabulary_from_hf(test_tokenizer)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_sliced_lexeme_masks_equal_the_full_walk(name, vocab, test_tokenizer):
    cg = compile_grammar(_grammar(name), vocab, use_disk_cache=False)
    cg.trie.__dict__.pop("_slice_masks", None)  # the first pass records the slice masks, the second reuses them
    sliced_states = 0
    for _ in range(2):
        cg.__dict__.pop("_lexeme_masks", None)
        for text in DOCUMENTS[name]:
            matcher = GrammarMatcher(cg)
            for token in [*test_tokenizer.encode(text, add_special_tokens=False), None]:
                state = matcher._state
                fast = cg.lexeme_mask(state.q, state.acc)
                full = cg._lexeme_walk(state.q, state.acc)  # the empty slice: every token walked
                assert np.array_equal(fast.mask, full.mask), (name, matcher.text())
                assert np.array_equal(fast.boundary_node, full.boundary_node)
                assert np.array_equal(fast.boundary_q, full.boundary_q)
                ascii_bytes, utf8 = _slice_bytes(cg, state)
                sliced_states += len(ascii_bytes) > 60 and utf8
                if token is not None:
                    matcher.advance(token)
    assert sliced_states > 10  # dense states were met, and their slices hold text and characters


def test_slices_inside_a_json_string_and_in_free_text(vocab):
    cg = compile_grammar(Grammar.bundled("json"), vocab, use_disk_cache=False)
    matcher = GrammarMatcher(cg)
    matcher.advance_bytes(b'["ab')
    ascii_bytes, utf8 = _slice_bytes(cg, matcher._state)
    assert utf8 and ascii_bytes == set(range(32, 128)) - {ord('"'), ord("\\")}
    cg = compile_grammar(_grammar("free"), vocab, use_disk_cache=False)
    matcher = GrammarMatcher(cg)
    matcher.advance_bytes(b"Hi <to")
    ascii_bytes, utf8 = _slice_bytes(cg, matcher._state)
    # every string without the last byte of "<tool>" keeps the free text going from here
    assert utf8 and ascii_bytes == set(range(128)) - {ord(">")}
