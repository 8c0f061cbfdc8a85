"""Exactness of the general path's token masks (grammars that are not LALR(1)) against an
independent Earley recognizer (tests/general_oracle.py): at every prefix of random sentences, and of
random strings that leave the language, the allowed tokens (multi-character ones included, which
cross terminal boundaries and conflicts inside one token) and EOS are exactly the oracle's."""

from __future__ import annotations

import itertools
import random

import pytest

from grammars import Grammar, GrammarMatcher, Vocabulary, compile_grammar

try:
    from tests.general_oracle import CharEarley, random_sentence
except ImportError:  # tests/ itself on sys.path
    from general_oracle import CharEarley, random_sentence

GRAMMARS = {
    "ambiguous_arithmetic": ('start: e\ne: e "+" e | e "*" e | "(" e ")" | "1" | "2"', "12+*()z"),
    "reduce_reduce": ('start: a "x" "p" | b "x" "q" | a "x" "x"\na: "c" | a "c"\nb: "c" | b "c"',
                      "cxpqz"),
    "start_left_recursion": ('start: "a" | start "a" | start "b" start', "abz"),
    "palindromes": ('start: "a" start "a" | "b" start "b" | "a" | "b" |', "abz"),
    "dangling_else": ('start: s\ns: "i" s | "i" s "e" s | "x"', "iexz"),
    "nullable_runs": ('start: a b a\na: "a"*\nb: "b" |', "abz"),
}


def vocabulary(alphabet: str) -> tuple[list[str | None], Vocabulary]:
    texts: list[str | None] = ["".join(p) for n in (1, 2, 3) for p in itertools.product(alphabet, repeat=n)]
    texts.append(None)
    vocab = Vocabulary([t.encode() if t else None for t in texts], eos_token_ids=(len(texts) - 1,))
    return texts, vocab


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_general_path_masks_match_earley(name):
    text, alphabet = GRAMMARS[name]
    grammar = Grammar.from_lark(text)
    assert grammar.conflicts, "this grammar should need the general path"
    oracle = CharEarley(text)
    tokens, vocab = vocabulary(alphabet)
    eos = set(vocab.eos_token_ids)
    compiled = compile_grammar(grammar, vocab, use_disk_cache=False)
    rng = random.Random(name)
    single = {t: i for i, t in enumerate(tokens) if t and len(t) == 1}
    checked = 0
    for round_ in range(12):
        sentence = random_sentence(oracle, rng, depth=4)
        assert oracle.accepts(sentence)
        if round_ % 3 == 2:  # wander off: random characters after a random viable prefix
            sentence = sentence[: rng.randrange(len(sentence) + 1)] + "".join(
                rng.choice(alphabet) for _ in range(4))
        matcher = GrammarMatcher(compiled)
        for cut in range(len(sentence) + 1):
            prefix = sentence[:cut]
            if not oracle.viable(prefix):
                assert not matcher.accepts_token(single[sentence[cut - 1]]) if cut else True
                break
            expected = oracle.allowed(prefix, tokens, eos)
            got = set(matcher.allowed_token_ids().tolist())
            assert got == expected, (prefix, sorted(tokens[i] or "EOS" for i in got ^ expected))
            checked += 1
            if cut < len(sentence):
                if oracle.viable(sentence[: cut + 1]):
                    matcher.advance(single[sentence[cut]])
                else:
                    assert not matcher.accepts_token(single[sentence[cut]])
                    break
    assert checked >= 12


def test_general_path_agrees_with_lalr_path_on_a_lalr_grammar():
    """The same LALR(1) grammar, once with an unreachable conflict (general path), once without."""
    base = 'start: e\ne: e "+" t | t\nt: t "*" f | f\nf: "(" e ")" | "1" | "2"'
    general = Grammar.from_lark(base + '\n| u\nu: v "z" | w "z"\nv: "q"\nw: "q"'.replace("\n|", " |", 1))
    lalr = Grammar.from_lark(base)
    assert general.conflicts and not lalr.conflicts
    tokens, vocab = vocabulary("12+*()")
    cg_general = compile_grammar(general, vocab, use_disk_cache=False)
    cg_lalr = compile_grammar(lalr, vocab, use_disk_cache=False)
    oracle = CharEarley(base)
    rng = random.Random(7)
    ids = {t: i for i, t in enumerate(tokens)}
    for _ in range(10):
        sentence = random_sentence(oracle, rng, depth=5)
        a, b = GrammarMatcher(cg_general), GrammarMatcher(cg_lalr)
        for ch in sentence:
            assert set(a.allowed_token_ids().tolist()) == set(b.allowed_token_ids().tolist())
            a.advance(ids[ch])
            b.advance(ids[ch])
        assert a.is_accepting() and b.is_accepting()
