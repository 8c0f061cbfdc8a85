"""Each grammar compiles to exactly the language written, or is refused with an error that names
the cause (issue 18's findings). Accept and reject lists are checked against lark's Earley parser
(``lark.Lark(text)``), a code path the engine does not use."""

from __future__ import annotations

import functools
import itertools
import re
import warnings

import lark
import pytest

from grammars import (
    EmptyLanguageError,
    EmptyMaskError,
    Grammar,
    GrammarError,
    GrammarMatcher,
    Vocabulary,
    VocabularyError,
    compile_grammar,
    text_matches,
)
from grammars.grammar import SpecialTokenTextWarning


@functools.lru_cache(maxsize=None)
def earley(text: str, start: str = "start") -> lark.Lark:
    return lark.Lark(text, start=start)


def earley_accepts(text: str, sentence: str, start: str = "start") -> bool:
    try:
        earley(text, start).parse(sentence)
    except lark.exceptions.LarkError:
        return False
    return True


def assert_language(text: str, accept: list[str], reject: list[str]) -> Grammar:
    """The engine accepts exactly ``accept`` (of accept + reject), and so does lark's Earley."""
    grammar = Grammar.from_lark(text)
    for sentence in accept:
        assert earley_accepts(text, sentence), f"oracle rejects {sentence!r}"
        assert text_matches(grammar, sentence), f"engine rejects {sentence!r}"
    for sentence in reject:
        assert not earley_accepts(text, sentence), f"oracle accepts {sentence!r}"
        assert not text_matches(grammar, sentence), f"engine accepts {sentence!r}"
    return grammar


def all_strings(alphabet: str, max_len: int):
    for n in range(max_len + 1):
        for chars in itertools.product(alphabet, repeat=n):
            yield "".join(chars)


def test_left_recursion_in_the_start_rule():
    assert_language('start: "a" | start "a"', ["a", "aa", "aaaa"], ["", "b", "ab", "aab"])


def test_left_recursion_in_the_start_rule_generates(byte_level_vocab):
    cg = compile_grammar(Grammar.from_lark('start: "a" | start "a"'), byte_level_vocab,
                         use_disk_cache=False)
    m = GrammarMatcher(cg)
    for _ in range(5):
        m.advance(ord("a"))
        assert m.is_accepting()
    assert set(m.allowed_token_ids().tolist()) == {ord("a"), 256}


SHIFT_REDUCE = 'start: r_rule~2..3\nr_rule: "a" | /[bc]/~4 /[bc]/*'


def test_shift_reduce_conflict_keeps_the_language():
    grammar = assert_language(SHIFT_REDUCE, ["bcbcbcbcbc", "aa", "aaa", "bbbbcccc", "abbbb"],
                              ["a", "aaaa", "bcb", "bbbbbbb"])
    assert grammar.conflicts and grammar.conflicts[0].startswith("shift/reduce on ")
    for sentence in all_strings("abc", 7):  # the whole language up to 7 characters
        assert text_matches(grammar, sentence) == earley_accepts(SHIFT_REDUCE, sentence), sentence


def test_reduce_reduce_conflict_keeps_the_language():
    text = 'start: a "x" "p" | b "x" "q"\na: "c"\nb: "c"'
    grammar = assert_language(text, ["cxp", "cxq"], ["cx", "cpq", "c"])
    assert grammar.conflicts == ("reduce/reduce on X",)


def test_conflict_description_is_short_and_fast():
    # many conflicting rules: the description keeps the first few and counts the rest
    rules = "\n".join(f'r{i}: "x" | r{i} "x" "x" | "x" r{i}' for i in range(40))
    text = "start: " + " | ".join(f'"{i}" r{i}' for i in range(40)) + "\n" + rules
    grammar = Grammar.from_lark(text)
    assert 1 < len(grammar.conflicts) <= 4 and grammar.conflicts[-1].startswith("and ")
    assert sum(len(c) for c in grammar.conflicts) < 300


def test_declared_terminal_without_producer_is_refused():
    with pytest.raises(GrammarError, match=r"terminal\(s\) X are only %declare'd"):
        Grammar.from_lark('start: "a" X "b" | "c"\n%declare X')
    with pytest.raises(GrammarError, match="_DEDENT, _INDENT"):
        Grammar.from_lark('start: "a" ":" _INDENT "b" _DEDENT\n%declare _INDENT _DEDENT')


def test_grammar_without_terminals_accepts_only_the_empty_string(byte_level_vocab):
    for text in ["start:", "start: a\na: "]:
        grammar = Grammar.from_lark(text)
        assert earley_accepts(text, "") and not earley_accepts(text, "a")
        assert text_matches(grammar, "") and not text_matches(grammar, "a")
        m = GrammarMatcher(compile_grammar(grammar, byte_level_vocab, use_disk_cache=False))
        assert m.is_accepting() and m.allowed_token_ids().tolist() == [256]


@pytest.mark.parametrize("text", ['start: "a"?', 'start: "a"*', 'start: ("a" | "b")*  "c"?',
                                  'start: x\nx: "a" x |'])
def test_empty_string_matches_when_the_grammar_accepts_it(text):
    assert earley_accepts(text, "")
    assert text_matches(Grammar.from_lark(text), "")
    assert not text_matches(Grammar.from_lark('start: "a"+'), "")


@pytest.mark.parametrize("pattern", ["a+?", "a*?b", "(ab)+?c??", "x{2,4}?y", "[a?]+?"])
def test_from_regex_has_fullmatch_semantics(pattern):
    grammar = Grammar.from_regex(pattern)
    compiled = re.compile(pattern)
    for sentence in all_strings("abcxy?", 4):
        if sentence:
            assert text_matches(grammar, sentence) == bool(compiled.fullmatch(sentence)), sentence


def test_terminal_that_matches_nothing_is_named():
    with pytest.raises(EmptyLanguageError, match=r"__ANON_0 /\[\^\\s\\S\]/ match no text"):
        text_matches(Grammar.from_lark(r"start: /[^\s\S]/"), "a")
    with pytest.raises(EmptyLanguageError, match="NOTHING"):
        text_matches(Grammar.from_lark('start: "a" x\nx: NOTHING\nNOTHING: /[^\\s\\S]/'), "a")


def test_vocabulary_that_spells_nothing_is_refused_at_compile_time():
    vocab = Vocabulary([b"x", b"y", None], eos_token_ids=(2,))
    with pytest.raises(VocabularyError, match="none of the vocabulary's 3 tokens"):
        compile_grammar(Grammar.from_lark('start: "a" "b"'), vocab, use_disk_cache=False)
    general = Grammar.from_lark('start: e\ne: e "+" e | "1"')
    with pytest.raises(VocabularyError):
        compile_grammar(general, vocab, use_disk_cache=False)


def test_vocabulary_that_can_start_compiles_and_never_dead_ends():
    vocab = Vocabulary([b"a", b"x", None], eos_token_ids=(2,))
    m = GrammarMatcher(compile_grammar(Grammar.from_lark('start: "a"+'), vocab,
                                       use_disk_cache=False))
    m.advance(0)
    assert m.allowed_token_ids().tolist() == [0, 2]
    m.advance(2)
    assert m.is_finished()


def test_special_token_spelled_as_text_warns():
    with pytest.warns(SpecialTokenTextWarning, match="<|im_end|>"):
        Grammar.from_lark('start: "hi" "<|im_end|>"')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Grammar.from_lark('start: "a<b|c>d" | "x"')  # not a special-token shape


def test_empty_mask_cannot_happen_on_the_general_path(byte_level_vocab):
    cg = compile_grammar(Grammar.from_lark(SHIFT_REDUCE), byte_level_vocab, use_disk_cache=False)
    m = GrammarMatcher(cg)
    for ch in "bcbcbcbcbc":
        assert ord(ch) in m.allowed_token_ids().tolist()
        m.advance(ord(ch))
    assert m.is_accepting()
    try:
        m.allowed_token_ids()
    except EmptyMaskError:  # pragma: no cover - the failure this test exists to catch
        pytest.fail("empty mask on the general path")


@pytest.fixture(scope="module")
def byte_level_vocab() -> Vocabulary:
    return Vocabulary([bytes([b]) for b in range(256)] + [None], eos_token_ids=(256,))


def test_hidden_left_recursion_is_refused_at_compile_time():
    text = 'start: x start "a" | "b"\nx: "c"?'
    assert earley_accepts(text, "baa")  # lark's Earley takes it; the general path cannot
    with pytest.raises(GrammarError, match="rule 'start' is left-recursive behind 'x'"):
        text_matches(Grammar.from_lark(text), "b")


@pytest.mark.parametrize("terminal, inside, outside", [
    ("/a*b/", ["b", "bab", "aab"], ["a", "ba", "baa", "aba"]),
    ("/ *x/", ["x", "  x", "x x"], [" ", "x ", "x  "]),
    ("/[0-9]*[.][0-9]+/", [".5", "1.5", ".5.5"], ["1", ".5.", "1.", ".5 "]),
])
def test_a_lexeme_that_returns_to_the_start_state_is_still_pending(terminal, inside, outside):
    # /a*b/ reads "a" without leaving its start state: the engine must not take the "a" of "ba"
    # for "no lexeme begun" and accept the text, nor allow the end there
    grammar = Grammar.from_lark(f"start: X+\nX: {terminal}\n")
    assert all(text_matches(grammar, s) for s in inside)
    assert not any(text_matches(grammar, s) for s in outside)
