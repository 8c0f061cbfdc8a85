"""Python-style indentation (``indenter="python"``): the language is lark's, with its LALR parser
and ``PythonIndenter`` as the oracle (lark's crashes on a text, such as its Indenter's IndexError on
a newline token without a line break, count as rejections: lark parses no such text)."""

from __future__ import annotations

import random

import lark
import pytest
from lark.indenter import PythonIndenter

from grammars import Grammar, GrammarError, byte_vocabulary, compile_grammar
from grammars.matcher import text_matches

from indent_walks import lark_accepts, random_walks  # tests/ is on sys.path (pytest rootdir insertion)

BLOCKS = r"""
start: (_NEWLINE | stmt)*
?stmt: simple | block
simple: NAME ("=" value)? _NEWLINE
block: NAME ":" _NEWLINE _INDENT stmt+ _DEDENT
?value: NAME | list
list: "[" [value ("," value)*] "]"
NAME: /[a-z]+/
COMMENT: /#[^\n]*/
_NEWLINE: ( /\r?\n[\t ]*/ | COMMENT )+
%ignore /[\t ]+/
%ignore COMMENT
%declare _INDENT _DEDENT
"""


@pytest.fixture(scope="module")
def blocks():
    oracle = lark.Lark(BLOCKS, parser="lalr", postlex=PythonIndenter())
    return Grammar.from_lark(BLOCKS, indenter="python"), oracle


ACCEPT = ["a\n", "a:\n  b\n", "a:\n  b\n  c:\n    d\nx\n", "a:\n\tb\n", "a:\n  b = [c,\n d]\n",
          "a:\n  b\n\n  c\n", "a:\n  b\n    # note\n  c\n", "a:\n  b:\n    c\n", "\n\na\n", "a = [\n]\n",
          "a:\n    b\nc:\n d\n", "  a\n", "a #c\n", "a\n#c", "a:\n  b #c\n  # d\n  c\n"]
# "a #c" ends in a newline token without a line break: lark's Indenter fails on it (IndexError).
REJECT = ["a:\nb\n", "a:\n  b\n c\n", "a:\n  b\n    c\n", "a", "a:\n  b", "a #c", "gx#", "a = [b\n",
          "a:\n  b\n   ", "a:\n", "a = b]\n"]


def test_block_grammar_agrees_with_lark_indenter(blocks):
    g, oracle = blocks
    for text in ACCEPT + REJECT:
        assert text_matches(g, text) == lark_accepts(oracle, text), text
    assert all(lark_accepts(oracle, t) for t in ACCEPT) and not any(lark_accepts(oracle, t) for t in REJECT)


def test_block_grammar_random_texts_agree_with_lark(blocks):
    g, oracle = blocks
    rng = random.Random(7)
    pieces = ["a", "b", ":", "\n", "  ", "\t", "=", "[", "]", ",", "# c", "\n  ", "\n    "]
    agree = 0
    for _ in range(600):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10))) + rng.choice(["\n", "\n", ""])
        ours = text_matches(g, text)
        assert ours == lark_accepts(oracle, text), repr(text)
        agree += ours
    assert agree > 5  # the sample holds accepted texts, not only rejections


def test_random_walks_are_sound_and_never_dead_end(blocks):
    g, oracle = blocks
    cg = compile_grammar(g, byte_vocabulary(), use_disk_cache=False)
    finished = random_walks(cg, oracle, random.Random(3), walks=60, steps=40)
    assert finished > 10


def test_indenter_needs_its_terminals():
    with pytest.raises(GrammarError, match="_NEWLINE"):
        Grammar.from_lark('start: "a" _NL _INDENT "b" _DEDENT\n_NL: /\\n */\n%declare _INDENT _DEDENT',
                          indenter="python")
    with pytest.raises(GrammarError, match=r"_DEDENT, _INDENT are only %declare'd"):
        Grammar.from_lark('start: "a" _NEWLINE _INDENT "b" _DEDENT\n_NEWLINE: /\\n */\n%declare _INDENT _DEDENT')


def test_masks_of_multi_byte_tokens_are_exact(blocks):
    """With tokens that run through a newline's spaces into the next line (``"  b"``), the mask
    is exactly the tokens the matcher can advance by: the column is tracked inside the walk
    (a mask once allowed ``" b"`` after a top-level line, which the indenter then refuses)."""
    import itertools

    from grammars import GrammarMatcher, Vocabulary

    g, _ = blocks
    texts = ["".join(p) for n in (1, 2) for p in itertools.product("a: \n\t=[],", repeat=n)]
    texts += ["".join(p) for p in itertools.product("a \n:", repeat=3)]
    vocab = Vocabulary([t.encode() for t in texts] + [None], eos_token_ids=(len(texts),))
    cg = compile_grammar(g, vocab, use_disk_cache=False)
    checked = 0
    for text in ["a\na = [a]\n", "a:\n  a\n  a:\n    a\na\n", "a = [a,\n a]\n", "a:\n\ta\n\n\ta\n"]:
        m = GrammarMatcher(cg)
        for ch in text:
            allowed = set(m.allowed_token_ids().tolist()) - {len(texts)}
            assert allowed == {i for i in range(len(texts)) if m.accepts_token(i)}, repr(m.text())
            checked += len(allowed)
            m.advance(texts.index(ch))
    assert checked > 500
