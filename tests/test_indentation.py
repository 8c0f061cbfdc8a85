"""Python-style indentation (``indenter="python"``): the language is lark's, with its LALR parser
and ``PythonIndenter`` as the oracle (lark's crashes on a text, such as its Indenter's IndexError on
a newline token without a line break, count as rejections: lark parses no such text)."""

from __future__ import annotations

import random
from pathlib import Path

import lark
import pytest
from lark.indenter import PythonIndenter

from grammars import Grammar, GrammarError, byte_vocabulary, compile_grammar
from grammars.matcher import GrammarMatcher, text_matches

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


def _lark_accepts(parser: lark.Lark, text: str) -> bool:
    try:
        parser.parse(text)
    except (lark.exceptions.LarkError, AssertionError, IndexError):
        return False
    return True


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
        assert text_matches(g, text) == _lark_accepts(oracle, text), text
    assert all(_lark_accepts(oracle, t) for t in ACCEPT) and not any(_lark_accepts(oracle, t) for t in REJECT)


def test_block_grammar_random_texts_agree_with_lark(blocks):
    g, oracle = blocks
    rng = random.Random(7)
    pieces = ["a", "b", ":", "\n", "  ", "\t", "=", "[", "]", ",", "# c", "\n  ", "\n    "]
    agree = 0
    for _ in range(600):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10))) + rng.choice(["\n", "\n", ""])
        ours = text_matches(g, text)
        assert ours == _lark_accepts(oracle, text), repr(text)
        agree += ours
    assert agree > 5  # the sample holds accepted texts, not only rejections


def test_random_walks_are_sound_and_never_dead_end(blocks):
    g, oracle = blocks
    cg = compile_grammar(g, byte_vocabulary(), use_disk_cache=False)
    rng = random.Random(3)
    finished = 0
    for _ in range(60):
        m = GrammarMatcher(cg)
        for _ in range(40):
            if m.is_accepting():
                assert _lark_accepts(oracle, m.text()), repr(m.text())
                finished += 1
                if rng.random() < 0.3:
                    break
            allowed = [t for t in m.allowed_token_ids().tolist() if t not in cg.eos_token_ids]
            assert allowed or m.is_accepting(), repr(m.text())
            if not allowed:
                break
            m.advance(rng.choice(allowed))
    assert finished > 10


def test_indenter_needs_its_terminals():
    with pytest.raises(GrammarError, match="_NEWLINE"):
        Grammar.from_lark('start: "a" _NL _INDENT "b" _DEDENT\n_NL: /\\n */\n%declare _INDENT _DEDENT',
                          indenter="python")
    with pytest.raises(GrammarError, match=r"_DEDENT, _INDENT are only %declare'd"):
        Grammar.from_lark('start: "a" _NEWLINE _INDENT "b" _DEDENT\n_NEWLINE: /\\n */\n%declare _INDENT _DEDENT')
