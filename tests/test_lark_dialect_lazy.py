"""The llguidance dialect's lazy rules (``[lazy]``, ``suffix=``), ``%regex`` substrings and
``%llguidance {}``: the same language as llguidance itself, checked byte by byte with llguidance's
matcher on the test model's tokenizer as the oracle."""

from __future__ import annotations

import itertools
import re

import pytest

from grammars import Grammar, GrammarError, GrammarSyntaxError, text_matches


@pytest.fixture(scope="module")
def llguidance_accepts(test_tokenizer):
    """``accepts(grammar_text, s)``: whether llguidance's matcher takes the bytes of ``s`` one byte
    token at a time and then accepts."""
    import llguidance.hf
    from llguidance import LLMatcher

    from decoding.tokenizers import bytes_to_unicode

    tokenizer = llguidance.hf.from_tokenizer(test_tokenizer)
    table = bytes_to_unicode()
    byte_token = [test_tokenizer.convert_tokens_to_ids(table[b]) for b in range(256)]
    compiled: dict[str, LLMatcher] = {}

    def accepts(grammar: str, s: str) -> bool:
        if grammar not in compiled:
            compiled[grammar] = LLMatcher(tokenizer, LLMatcher.grammar_from_lark(grammar), log_level=0)
            assert not compiled[grammar].is_error(), compiled[grammar].get_error()
        matcher = compiled[grammar].deep_copy()
        return all(matcher.consume_token(byte_token[b]) for b in s.encode()) and matcher.is_accepting()

    return accepts


def _strings(alphabet: str, longest: int) -> list[str]:
    return ["".join(p) for n in range(longest + 1) for p in itertools.product(alphabet, repeat=n)]


CASES = [
    # llguidance's docs: a lazy /[0-9]+/ matches one digit, a lazy /.*<end>/ stops at the first <end>
    ('start: foo "!"\nfoo[lazy]: /[0-9]+/', "12!", 4),
    ('start: x\nx[lazy]: /[ab]*c/', "abc", 5),
    ('start: x y\nx[lazy]: /[ab]*b/\ny: "a" | "c"', "abc", 5),
    ('start: x "b"\nx[suffix="c"]: /[abc]*/', "abc", 5),
    ('start: x\nx[capture, suffix=END]: /[ab]*/\nEND: "ba"', "ab", 6),
    ('start: x+\nx[capture="q", lazy]: A "b"\nA: /a*/', "ab", 5),
    ('start: x*\nx[lazy]: "a" | /b+a/', "ab", 5),  # alternatives in a lazy body
    ('start: x\nx[stop_capture="s", suffix=/b+/]: /a*/\n  | "c"', "abc", 5),  # a continued body
    ('start: %regex {"substring_chunks": ["ab", "c", "ab"]}', "abc", 5),
    ('start: "<" %regex {"substring_words": "a b. b"} ">"', "ab. <>", 5),
    ('start: %regex {"substring_chars": "aab"} "c"', "abc", 5),
    ('%llguidance {}\nstart: "a"{1,3}', "a", 4),
]


@pytest.mark.parametrize("text, alphabet, longest", CASES)
def test_the_language_is_llguidances(text, alphabet, longest, llguidance_accepts):
    grammar = Grammar.from_llguidance(text)
    strings = _strings(alphabet, longest)
    ours = [s for s in strings if text_matches(grammar, s)]
    theirs = [s for s in strings if llguidance_accepts(text, s)]
    assert ours == theirs
    assert ours and len(ours) < len(strings)  # the case tells languages apart


def test_the_documented_examples(llguidance_accepts):
    lazy = Grammar.from_llguidance('start: x\nx[lazy]: /.*<end>/')
    assert text_matches(lazy, "foo<end>") and not text_matches(lazy, "foo<end>bar<end>")
    suffix = Grammar.from_llguidance('start: x "bar"\nx[suffix="<end>"]: /.*/')
    assert text_matches(suffix, "foo<end>bar") and not text_matches(suffix, "foo<end>x<end>bar")
    # two lazy rules of one pattern share one terminal; the parser tells them apart by what follows
    calls = ('start: (f_foo | f_bar)+\n'
             'f_foo_hd[lazy]: /[a-z ]*/ "<function"\nf_foo: f_foo_hd "=foo>" /[0-9]+/ "</function>"\n'
             'f_bar_hd[lazy]: /[a-z ]*/ "<function"\nf_bar: f_bar_hd "=bar>" /[a-z]+/ "</function>"\n')
    grammar = Grammar.from_llguidance(calls)
    for text in ("hi <function=foo>12</function>", "a <function=bar>x</function> b<function=foo>1</function>",
                 "hi <function=baz>12</function>", "hi <function=foo>x</function>", "hi"):
        assert text_matches(grammar, text) == llguidance_accepts(calls, text), text


def test_a_lazy_match_that_another_terminal_goes_on_from_is_refused():
    # llguidance's tool-calling example: free TEXT competes with the lazy header at every place,
    # and llguidance ends the lexeme at "<function"; this lexer would go on (a larger language)
    tools = ('start: f_foo* f_end\nf_end: TEXT?\nTEXT: /(.|\\n)+/\n'
             'f_foo_hd[lazy]: TEXT? "<function"\n'
             'f_foo: f_foo_hd "=foo>" %json { "type": "object" } "</function>"\n')
    with pytest.raises(GrammarError, match="lazy rule's terminal LAZY1__F_FOO_HD ends where the terminal TEXT"):
        text_matches(Grammar.from_llguidance(tools), "hi")  # at compile time, where the lexer is built


def test_the_rule_keeps_its_line_for_later_errors():
    text = 'start: x\nx[lazy]: "a"\n    | "b"\ny: "c" %regex {"substring_chunks": 3}'
    with pytest.raises(GrammarSyntaxError, match="substring_chunks that is not a list") as err:
        Grammar.from_llguidance(text)
    assert err.value.line == 4


@pytest.mark.parametrize("text, construct", [
    ('start: x\nx[stop="x"]: /.*/', "[stop] (stop= hides generated text"),
    ('start: x\nx[max_tokens=5]: /.*/', "[max_tokens]"),
    ('start: x\nx[temperature=0.7]: /a+/', "[temperature]"),
    ('start: x\nx[greedy]: /a+/', "rule attribute [greedy]"),
    ('start: x\nx[lazy=1]: /a+/', "lazy takes no value"),
    ('start: x\nx[lazy]: "a" y\ny: "b"', "names the rule y"),
    ('start: x\nx[lazy]: "a" <|im_end|>', "not made of terminals"),
    ('start: x\nx[lazy: /a/', "a rule attribute list without ',' or ']'"),
    ('%llguidance {"no_forcing": true}\nstart: "a"', "%llguidance option no_forcing"),
    ('start: %regex {"type": "substring"}', "key 'type'"),
    ('start: %regex {"substring_chars": "' + "a" * 401 + '"}', "401 chunks"),
])
def test_unsupported_attributes_are_refused_by_name(text, construct):
    with pytest.raises(GrammarSyntaxError, match=re.escape(construct)) as err:
        Grammar.from_llguidance(text)
    assert err.value.line in (1, 2)


def test_brackets_that_are_not_attributes_keep_lark_meaning():
    text = 'start: "a" [lazy] "b"\nlazy: "c"\nx: "[lazy]: y"'
    grammar = Grammar.from_llguidance(text)
    assert text_matches(grammar, "ab") and text_matches(grammar, "acb")


def test_a_header_names_the_dialect_where_plain_lark_is_expected():
    # vLLM's `grammar` field and the CLI's --grammar take text through Grammar.load
    grammar = Grammar.load('// tools\n%llguidance {}\nstart: "ab"{2} x\nx[lazy]: /[0-9]+/')
    assert text_matches(grammar, "abab1") and not text_matches(grammar, "abab12")
    with pytest.raises(GrammarError):
        Grammar.load('start: "ab"{2}')  # without the header, plain lark
