"""A lexeme that several terminals match (issue 16: never a smaller language without an error).

In a JSON Schema union the same text can be two branches' tokens: ``"ab"`` is a string of the
``pattern: "^a"`` branch and of the ``maxLength: 2`` one, ``"x1"`` a key of a pattern property and
a named property. Reading it as one terminal (the first in priority order, as lark's contextual
lexer does) silently rejected valid instances; JSON Schema grammars now read it as each terminal
(``Grammar.lexing == "all"``) and the general path follows every reading. Lark grammars keep
lark's priority unless they ask for ``lexing="all"``, which then accepts what lark's Earley parser
accepts. Instances are checked against ``jsonschema``, masks against the matcher's own token test
on a small vocabulary, texts against lark's Earley parser."""

from __future__ import annotations

import itertools

import jsonschema
import lark
import pytest

from grammars import (Grammar, GrammarError, GrammarMatcher, Vocabulary, compile_grammar,
                      text_matches)
from grammars.json_schema import UnsupportedSchemaError, serialize_instance

UNIONS = {
    "array_items": ({"anyOf": [{"type": "array", "items": {"type": "string", "pattern": "^a"}},
                               {"type": "array", "items": {"type": "string", "maxLength": 2}}]},
                    [["ab", "abc"], ["ab", "b"], ["b", "abc"], ["ab"], ["abc", "b"], []]),
    "object_values": ({"anyOf": [
        {"type": "object", "properties": {"k": {"type": "string", "pattern": "^a"}, "j": {"const": 1}},
         "additionalProperties": False},
        {"type": "object", "properties": {"k": {"type": "string", "maxLength": 2}, "j": {"const": 2}},
         "additionalProperties": False}]},
        [{"k": "ab", "j": 1}, {"k": "ab", "j": 2}, {"k": "abc", "j": 1}, {"k": "abc", "j": 2},
         {"k": "b", "j": 1}, {"k": "b", "j": 2}]),
    "key_pattern_and_name": ({"anyOf": [
        {"type": "object", "patternProperties": {"^x": {"type": "integer"}}, "additionalProperties": False},
        {"type": "object", "properties": {"x1": {"type": "string"}}, "additionalProperties": False}]},
        [{"x1": 1}, {"x1": "s"}, {"x2": 1}, {"x2": "s"}, {"x1": None}, {"x1": 1, "x2": 2}]),
}


def _instances_agree(schema: dict, instances: list) -> None:
    grammar = Grammar.from_json_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for inst in instances:
        text = serialize_instance(schema, inst)
        assert text_matches(grammar, text) == validator.is_valid(inst), (text, validator.is_valid(inst))


@pytest.mark.parametrize("name", sorted(UNIONS))
def test_a_union_whose_branches_share_a_token_keeps_every_valid_instance(name):
    schema, instances = UNIONS[name]
    assert any(jsonschema.Draft202012Validator(schema).is_valid(i) for i in instances)
    _instances_agree(schema, instances)


def _vocabulary(alphabet: str) -> tuple[list[str | None], Vocabulary]:
    texts: list[str | None] = ["".join(p) for n in (1, 2) for p in itertools.product(alphabet, repeat=n)]
    texts.append(None)
    return texts, Vocabulary([t.encode() if t else None for t in texts], eos_token_ids=(len(texts) - 1,))


@pytest.mark.parametrize("name", sorted(UNIONS))
def test_masks_allow_each_reading_of_a_shared_token(name):
    """Along every valid instance's text, the mask is exactly the tokens the matcher can take, and
    each next character of the instance is in it."""
    schema, instances = UNIONS[name]
    tokens, vocab = _vocabulary('{}[]":,abcjksx12')
    compiled = compile_grammar(Grammar.from_json_schema(schema), vocab, use_disk_cache=False)
    assert compiled.tables.shared_lexemes
    single = {t: i for i, t in enumerate(tokens) if t and len(t) == 1}
    validator = jsonschema.Draft202012Validator(schema)
    for inst in filter(validator.is_valid, instances):
        text = serialize_instance(schema, inst)
        matcher = GrammarMatcher(compiled)
        for ch in text + "\0":
            mask = set(matcher.allowed_token_ids().tolist())
            probe = {t for t in range(len(tokens) - 1) if matcher.accepts_token(t)}
            if matcher.is_accepting():
                probe.add(len(tokens) - 1)
            assert mask == probe, (text, matcher.text(), sorted(tokens[t] or "EOS" for t in mask ^ probe))
            if ch == "\0":
                assert matcher.is_accepting(), text
                break
            assert single[ch] in mask, (text, matcher.text(), ch)
            matcher.advance(single[ch])


def test_a_union_without_shared_tokens_stays_on_the_lalr_path():
    schema = {"anyOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
                         "additionalProperties": False},
                        {"type": "array", "items": {"type": "string"}}]}
    _, vocab = _vocabulary('{}[]":,a1')
    compiled = compile_grammar(Grammar.from_json_schema(schema), vocab, use_disk_cache=False)
    assert not compiled.tables.general


LARK_CASES = [
    ('start: A "b" | B "c"\nA: "x"\nB: "x"\n', ["xb", "xc", "xd", "x"]),
    ('start: A "b" | B "c"\nA: /x+/\nB: "xx"\n', ["xxb", "xxc", "xb", "xc", "xxxc"]),
    ('start: "{" (k1 ":" "1" | k2 ":" "s") "}"\nk1: /"x[a-z0-9]*"/\nk2: "\\"x1\\""\n',
     ['{"x1":1}', '{"x1":s}', '{"x2":s}', '{"x2":1}']),
]


@pytest.mark.parametrize("case", range(len(LARK_CASES)))
def test_lexing_all_accepts_what_larks_earley_parser_accepts(case):
    text, samples = LARK_CASES[case]
    earley = lark.Lark(text)
    grammar = Grammar.from_lark(text, lexing="all")
    for sample in samples:
        try:
            earley.parse(sample)
            expected = True
        except lark.exceptions.LarkError:
            expected = False
        assert text_matches(grammar, sample) == expected, sample


def test_lark_grammars_keep_larks_priority_by_default():
    """A keyword and a name that both match "if": lark's LALR parser reads the keyword, and so do
    we unless the grammar asks for every reading."""
    text = 'start: "if" NAME | NAME "=" NAME\nNAME: /[a-z]+/\n%ignore " "\n'
    assert not text_matches(Grammar.from_lark(text), "if = a")
    assert text_matches(Grammar.from_lark(text, lexing="all"), "if = a")
    assert text_matches(Grammar.from_lark(text), "if a")
    with pytest.raises(GrammarError, match="lexing must be one of"):
        Grammar.from_lark(text, lexing="earley")


def test_the_lexing_mode_is_part_of_the_cache_key():
    text = 'start: A "b" | B "c"\nA: "x"\nB: "x"\n'
    assert Grammar.from_lark(text).digest != Grammar.from_lark(text, lexing="all").digest


def test_unique_items_beside_a_shared_token_is_refused_when_the_schema_is_compiled():
    """uniqueItems is tracked beside an LALR(1) parser; a schema whose alternatives share a token
    runs on the general path, so it is refused naming the unique array, not at the first mask."""
    schema = {"type": "object", "properties": {
        "u": {"type": "array", "uniqueItems": True, "items": {"type": "integer"}},
        "v": UNIONS["array_items"][0]}}
    with pytest.raises(UnsupportedSchemaError, match="uniqueItems") as e:
        Grammar.from_json_schema(schema)
    assert e.value.path == "#/properties/u/uniqueItems"
