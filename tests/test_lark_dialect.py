"""The llguidance / OpenAI Lark dialect: ``{m,n}`` repetition means what it says (checked against
a Python regex of the same repetition), and the constructs not supported are refused by name."""

from __future__ import annotations

import itertools
import re

import pytest

from grammars import Grammar, GrammarSyntaxError, text_matches

CASES = [
    ('start: "a"{2,3}', r"a{2,3}"),
    ('start: "ab"{2}', r"(?:ab){2}"),
    ('start: x{1,}\nx: "a" | "b"', r"[ab]{1,}"),
    ('start: ("a" "b"?){0,2} "c"', r"(?:ab?){0,2}c"),
    ('start: "c" A{,2}\nA: /[ab]/', r"c[ab]{0,2}"),
    ('start: T\nT: "a"{1,2} "b"', r"a{1,2}b"),  # on a terminal
    ('start: "x"{0,}', r"x*"),
]


@pytest.mark.parametrize("dialect, regex", CASES)
def test_repetition_means_the_regex_repetition(dialect, regex):
    grammar = Grammar.from_llguidance(dialect)
    pattern = re.compile(regex)
    for n in range(7):
        for chars in itertools.product("abcx", repeat=n):
            s = "".join(chars)
            assert text_matches(grammar, s) == bool(pattern.fullmatch(s)), s


def test_strings_regexes_and_comments_are_not_rewritten():
    grammar = Grammar.from_llguidance('start: "{2}" /b{2}/ // c{3}\n')
    assert text_matches(grammar, "{2}bb") and not text_matches(grammar, "{2}b{2}")


@pytest.mark.parametrize("text, construct", [
    ('start: %json { "type": "integer" }', "%json"),
    ('start: "a" <|tool_call|> "b"', "special token by name"),
    ('start: "a" <[128010]>', "special token by id"),
    ('start[lazy]: "a"*', "[lazy"),
    ('start[stop="x"]: /.*/', "[stop"),
    ('start[max_tokens=5]: /.*/', "[max_tokens"),
    ('start: %regex { "substring_words": "a b" }', "%regex"),
    ('start: "a"{3,1}', "maximum below minimum"),
])
def test_unsupported_constructs_are_refused_by_name(text, construct):
    with pytest.raises(GrammarSyntaxError, match=re.escape(construct)) as err:
        Grammar.from_llguidance(text)
    assert err.value.line == 1 and err.value.column > 1


def test_plain_lark_keeps_its_meaning():
    # an optional rule in brackets is lark's, not a rule attribute
    text = 'start: "a" [lazy] "b"\nlazy: "c"'
    grammar = Grammar.from_llguidance(text)
    assert text == grammar.text
    assert text_matches(grammar, "ab") and text_matches(grammar, "acb")
