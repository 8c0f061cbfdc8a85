"""Structural tags (xgrammar's / vLLM's ``structural_tag`` JSON): accept/reject lists for every
form, agreement with a reference reader (``structural_tag_reference``) on random texts, masks on
the real tokenizer in free text, special tokens as tags, and clear errors."""

from __future__ import annotations

import random

import pytest

from grammars import Grammar, GrammarMatcher, byte_vocabulary, compile_grammar
from grammars.structural_tag import StructuralTagError, structural_tag_literals
try:
    from tests.structural_tag_reference import Reference
except ImportError:  # tests/ on sys.path (pytest's rootdir insertion)
    from structural_tag_reference import Reference

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
           "required": ["city"], "additionalProperties": False}
CLOCK = {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET"]}}, "required": ["zone"],
         "additionalProperties": False}


def tool_tag(name: str, schema: dict) -> dict:
    return {"type": "tag", "begin": f"<function={name}>", "content": {"type": "json_schema", "json_schema": schema},
            "end": "</function>"}


def triggered(**flags) -> dict:
    return {"type": "structural_tag", "format": {
        "type": "triggered_tags", "triggers": ["<function="],
        "tags": [tool_tag("weather", WEATHER), tool_tag("clock", CLOCK)], **flags}}


W = '<function=weather>{"city": "Paris"}</function>'
C = '<function=clock>{"zone": "UTC"}</function>'

CASES = {
    "triggered": (triggered(), [
        "", "Hello.", "a < b and <func or <function but no call", "Sure. " + W, W + C, "x" + W + " then " + C + " done",
        "near <function", "é ü " + W + "\n", '<function=weather>{"city": "Paris", "days": 2}</function>',
    ], [
        "<function=unknown>{}</function>", '<function=weather>{"city": 3}</function>',
        '<function=weather>{"city": "Paris", "days": 0}</function>', '<function=weather>{"town": "Paris"}</function>',
        '<function=weather>{"city": "Paris"}', "see <function=clock>", W + "<function=",
    ]),
    "at_least_one": (triggered(at_least_one=True), [W, W + " done", W + C, C + " and " + W], ["", "text", "hi " + W]),
    "stop_after_first": (triggered(stop_after_first=True), ["", "just text", "ok " + W, W],
                         [W + " more", W + C, "ok " + W + "\n"]),
    "forced_call": (triggered(at_least_one=True, stop_after_first=True), [W, C], ["", "a" + W, W + C, W + " "]),
    "excludes": ({"type": "structural_tag", "format": {**triggered()["format"], "excludes": ["secret"]}},
                 ["fine", "sec ret " + W], ["a secret", W + "secret", "secret" + W]),
    "reasoning": ({"type": "structural_tag", "format": {"type": "sequence", "elements": [
        {"type": "tag", "begin": "<think>", "content": {"type": "any_text"}, "end": "</think>"},
        triggered()["format"]]}},
        ["<think></think>", "<think>hmm <function=x> </thin</think>Answer " + W, "<think>a\nb</think>" + C],
        ["no think", "<think>unclosed", "<think>a</think><function=weather>{}</function>"]),
    "sequence_const": ({"type": "sequence", "elements": [
        {"type": "const_string", "value": "Answer: "}, {"type": "regex", "pattern": "[0-9]+"},
        {"type": "const_string", "value": "."}]}, ["Answer: 42."], ["Answer: .", "Answer: 4a.", "answer: 4."]),
    "any_text_then_const": ({"type": "sequence", "elements": [{"type": "any_text"}, {"type": "const_string",
                                                                                     "value": "END"}]},
                            ["END", "abc END", "E N D END"], ["abc", "ENDx", "abENDcEND"]),
    "any_text_excludes": ({"type": "any_text", "excludes": ["bad", "<|"]}, ["", "good", "b a d", "<"],
                          ["bad", "so bad!", "<|im_end|>"]),
    "tags_with_separator": ({"type": "tags_with_separator", "separator": ",",
                             "tags": [tool_tag("weather", WEATHER), tool_tag("clock", CLOCK)]},
                            ["", W, W + "," + C + "," + W], [",", W + C, W + ", " + C, "x" + W]),
    "tags_with_separator_one": ({"type": "tags_with_separator", "separator": ";", "at_least_one": True,
                                 "stop_after_first": True, "tags": [tool_tag("clock", CLOCK)]},
                                [C], ["", C + ";" + C]),
    "or_and_lark": ({"type": "or", "elements": [{"type": "const_string", "value": "none"}, {
        "type": "tag", "begin": "<expr>", "content": {"type": "grammar", "grammar": 'start: NUM ("+" NUM)*\nNUM: /[0-9]+/'},
        "end": "</expr>"}]}, ["none", "<expr>1+22</expr>"], ["<expr>1+</expr>", "nothing", "<expr></expr>"]),
    "repeat": ({"type": "repeat", "min": 1, "max": 2, "content": tool_tag("clock", CLOCK)}, [C, C + C], ["", C + C + C]),
    "legacy": ({"type": "structural_tag", "triggers": ["<function="], "structures": [
        {"begin": "<function=clock>", "schema": CLOCK, "end": "</function>"}]}, ["hi", "hi " + C], ["hi " + W]),
    "token_begin": ({"type": "triggered_tags", "triggers": ["<jupyter_code>"], "tags": [{
        "type": "tag", "begin": {"type": "token", "token": "<jupyter_code>"}, "content": {"type": "regex", "pattern": "[a-z]+"},
        "end": {"type": "token", "token": "<jupyter_output>"}}]},
        ["text <jupyter_code>abc<jupyter_output> more"], ["<jupyter_code>ABC<jupyter_output>"]),
}


def _matcher(obj) -> GrammarMatcher:
    return GrammarMatcher(compile_grammar(Grammar.from_structural_tag(obj), byte_vocabulary()))


def _accepts(matcher: GrammarMatcher, text: str) -> bool:
    m = matcher.fork()
    data = text.encode()
    return (not data or m.advance_bytes(data)) and m.is_accepting()


@pytest.mark.parametrize("name", sorted(CASES))
def test_accept_and_reject_lists(name):
    obj, accepted, rejected = CASES[name]
    matcher, reference = _matcher(obj), Reference(obj)
    for text in accepted:
        assert reference.accepts(text), f"reference rejects {text!r}"
        assert _accepts(matcher, text), f"{name}: rejects {text!r}"
    for text in rejected:
        assert not reference.accepts(text), f"reference accepts {text!r}"
        assert not _accepts(matcher, text), f"{name}: accepts {text!r}"


PIECES = ["hi ", "<", "<f", "<function", "<function=", "<function=weather>", "<function=clock>", "</function>",
          '{"city": "Rome"}', '{"zone": "CET"}', '{"zone": 1}', "</", "secret", "<think>", "</think>", "END", ",",
          ";", "\n", "é", " ", "x"]


@pytest.mark.parametrize("name", sorted(set(CASES) - {"or_and_lark", "token_begin", "sequence_const"}))
def test_agrees_with_the_reference_on_random_texts(name):
    """The compiled grammar accepts a text iff the reference does, also on texts glued from
    near-triggers, triggers, tag bodies and ends (valid and not)."""
    obj, accepted, _ = CASES[name]
    matcher, reference = _matcher(obj), Reference(obj)
    rng = random.Random(name)
    agreed = 0
    for _ in range(300):
        text = "".join(rng.choice(PIECES + accepted) for _ in range(rng.randint(0, 4)))
        expected = reference.accepts(text)
        assert _accepts(matcher, text) == expected, f"{name}: {text!r} should be {'accepted' if expected else 'rejected'}"
        # every prefix of an accepted text is a live prefix (the mask never dead-ends)
        if expected:
            agreed += 1
            m = matcher.fork()
            assert not text or m.advance_bytes(text.encode())
    assert agreed > 0


def test_semantics_match_xgrammar_on_the_shared_forms():
    """Where both define the language the same way, xgrammar's own matcher agrees (its any_text
    also allows the end string inside; ours ends at the first one, like the output parsers)."""
    xgr = pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string
    import json

    for name in ("triggered", "at_least_one", "stop_after_first", "forced_call", "excludes", "reasoning"):
        obj, accepted, rejected = CASES[name]
        theirs = xgr.Grammar.from_structural_tag(json.dumps(obj))
        matcher = _matcher(obj)
        for text in accepted + rejected:
            assert _accepts(matcher, text) == _is_grammar_accept_string(theirs, text), (name, text)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from decoding.models import test_model_path

    return AutoTokenizer.from_pretrained(test_model_path())


def _valid_utf8_prefix(data: bytes) -> bool:
    for cut in range(4):
        try:
            (data[: len(data) - cut] if cut else data).decode("utf-8")
        except UnicodeDecodeError:
            continue
        tail = data[len(data) - cut:] if cut else b""
        return not tail or (tail[0] >= 0xC2 and all(0x80 <= b <= 0xBF for b in tail[1:]))
    return False


def test_free_text_mask_allows_every_token_that_does_not_complete_a_trigger(tokenizer):
    """In free text every token is allowed unless its bytes are not UTF-8 or it completes a
    trigger with a continuation no tag allows; a token holding free text and the trigger's start
    is allowed too."""
    from decoding.hf import compile_for_tokenizer

    from decoding.hf import vocabulary_for

    compiled = compile_for_tokenizer(triggered(), tokenizer)
    vocab = vocabulary_for(tokenizer)
    for prefix in (b"", b"Sure, ", b"a <func"):
        m = GrammarMatcher(compiled)
        assert not prefix or m.advance_bytes(prefix)
        allowed = set(m.allowed_token_ids().tolist())
        for i, b in enumerate(vocab.token_bytes):
            if b is None:
                assert i not in allowed or i in vocab.eos_token_ids
                continue
            text = prefix + b
            expected = _valid_utf8_prefix(b) and (b"<function=" not in text or _tag_prefix_ok(text))
            assert (i in allowed) == expected, (prefix, b)


def _tag_prefix_ok(text: bytes) -> bool:
    rest = text[text.index(b"<function=") + len(b"<function="):]
    return any(b.startswith(rest) or rest.startswith(b) for b in (b"weather>", b"clock>")) and all(
        not rest.startswith(b) or len(rest) == len(b) or rest[len(b):len(b) + 1] in (b"{", b" ", b"\n", b"\t", b"\r")
        for b in (b"weather>", b"clock>"))


def test_a_token_spanning_free_text_and_the_trigger(tokenizer):
    """The real tokenizer's tokens for a free answer with two calls walk through the matcher,
    and the end is allowed only after them."""
    from decoding.hf import compile_for_tokenizer

    compiled = compile_for_tokenizer(triggered(), tokenizer)
    text = "Let me check.<function=weather>" + '{"city": "Paris", "days": 3}</function> and' + C
    ids = tokenizer.encode(text)
    pieces = [tokenizer.decode([i]) for i in ids]
    assert any("<" in p and p.strip() != "<" for p in pieces[:6]), pieces  # a token mixes text and '<'
    m = GrammarMatcher(compiled)
    for i in ids:
        m.advance(i)
    assert m.is_accepting()
    cut = GrammarMatcher(compiled)
    for i in tokenizer.encode(text[: text.index("</function>")]):
        cut.advance(i)
    assert not cut.is_accepting()


def test_special_tokens_as_tags(tokenizer):
    """A special token named in a tag (``<jupyter_code>``, id 13 in SmolLM2) is allowed as one
    token where its text may come: it starts the tag from free text, the end token closes it;
    other special tokens stay masked."""
    from decoding.hf import compile_for_tokenizer

    obj = CASES["token_begin"][0]
    assert structural_tag_literals(obj) == {"<jupyter_code>", "<jupyter_output>"}
    begin, end = tokenizer.convert_tokens_to_ids(["<jupyter_code>", "<jupyter_output>"])
    compiled = compile_for_tokenizer(obj, tokenizer)
    m = GrammarMatcher(compiled)
    m.advance_bytes(b"Code: ")
    def allowed(matcher):
        return set(matcher.allowed_token_ids().tolist())

    assert begin in allowed(m) and end in allowed(m)  # the end's text is plain free text here
    assert tokenizer.convert_tokens_to_ids("<file_sep>") not in allowed(m)
    m.advance(begin)
    assert begin not in allowed(m) and end not in allowed(m)
    for i in tokenizer.encode("abc"):
        m.advance(i)
    assert end in allowed(m)
    m.advance(end)
    assert m.is_accepting()


@pytest.mark.parametrize("obj, where", [
    ({"type": "structural_tag", "format": {"type": "nope"}}, "format: unsupported format type 'nope'"),
    ({"type": "structural_tag", "format": {"type": "triggered_tags", "triggers": ["<a>"], "tags": [
        {"begin": "<b>", "content": {"type": "any_text"}, "end": "</b>"}]}}, "format.tags[0].begin"),
    ({"type": "structural_tag", "format": {"type": "tag", "begin": "<a>", "end": "</a>",
                                           "content": {"type": "json_schema", "json_schema": {"type": "object",
                                                                                              "uniqueItems": True,
                                                                                              "type": "array"}}}},
     "format.content.json_schema"),
    ({"type": "structural_tag", "format": {"type": "sequence", "elements": [
        {"type": "any_text"}, {"type": "regex", "pattern": "[0-9]+"}]}}, "format.elements[0]: free text"),
    ({"type": "structural_tag", "format": {"type": "triggered_tags", "triggers": ["<a", "a<"], "tags": [
        {"begin": "<a>", "content": {"type": "const_string", "value": "x"}, "end": "</a>"},
        {"begin": "a<>", "content": {"type": "const_string", "value": "x"}, "end": "</a>"}]}}, "can complete inside"),
    ({"type": "structural_tag", "format": {"type": "tag", "begin": "<a>", "end": "</a>",
                                           "content": {"type": "grammar", "grammar": "root ::= \"x\""}}}, "EBNF"),
    ({"type": "structural_tag", "format": {"type": "repeat", "min": 3, "max": 1,
                                           "content": {"type": "const_string", "value": "x"}}}, "min <= max"),
    ('{"type": "structural_tag", "format": ', "not valid JSON"),
])
def test_errors_name_the_problem_and_where(obj, where):
    with pytest.raises(StructuralTagError) as e:
        Grammar.from_structural_tag(obj)
    assert where in str(e.value)
