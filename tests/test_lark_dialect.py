"""The llguidance / OpenAI Lark dialect: ``{m,n}`` repetition means what it says (checked against
a Python regex of the same repetition), ``%json { schema }`` means the schema's JSON texts (checked
with ``jsonschema``), and the constructs not supported are refused by name."""

from __future__ import annotations

import itertools
import json
import re

import jsonschema
import pytest

from grammars import Grammar, GrammarError, GrammarSyntaxError, text_matches

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
    ('start: %json { "type": "integer", "x-guidance": {"key_separator": ": "} }', "key_separator"),
    ('start: %json [1, 2]', "not a schema"),
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


# llguidance's own example (docs/syntax.md): free text, or a Llama 3.1 style function call
TOOL_SCHEMA = {"type": "object",
               "properties": {"name": {"const": "get_weather"},
                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                             "required": ["city"]}},
               "required": ["name", "parameters"]}
TOOL_GRAMMAR = "start: TEXT | fun_call\nTEXT: /[^{](.|\\n)*/\nfun_call: %json " + json.dumps(TOOL_SCHEMA, indent=2)
INSTANCES = [
    {"name": "get_weather", "parameters": {"city": "Seattle"}},
    {"name": "get_weather", "parameters": {"city": "Paris", "units": "C"}},
    {"parameters": {"city": "Seattle"}, "name": "get_weather"},  # valid, in another key order
    {"name": "get_time", "parameters": {"city": "Seattle"}},
    {"name": "get_weather", "parameters": {"city": 3}},
    {"name": "get_weather"},
    {"name": "get_weather", "parameters": {}},
    {"name": "get_weather", "parameters": {"city": "Oslo"}, "x": [1, 2]},
]  # all objects: a text that starts with "{" is never TEXT


def test_inline_json_means_the_schema():
    grammar = Grammar.from_llguidance(TOOL_GRAMMAR)
    accepted = 0
    for instance in INSTANCES:
        valid = jsonschema.Draft202012Validator(TOOL_SCHEMA).is_valid(instance)
        for text in (json.dumps(instance, separators=(",", ":")), json.dumps(instance, indent=1)):
            if text_matches(grammar, text):  # never a text of an invalid instance
                assert valid, text
                accepted += 1
        # the compact spelling in the schema's property order is always there for a valid instance
        ordered = isinstance(instance, dict) and list(instance) == [k for k in TOOL_SCHEMA["properties"] if k in instance]
        if valid and ordered:
            assert text_matches(grammar, json.dumps(instance, separators=(",", ":"))), instance
            assert text_matches(grammar, json.dumps(instance, indent=1)), instance  # flexible whitespace
    assert accepted >= 4
    assert text_matches(grammar, "There is no function I can call")
    assert not text_matches(grammar, '{"name": "get_weather"} and more')


def test_inline_json_compact_when_x_guidance_says_so():
    schema = {"type": "array", "items": {"type": "integer"}, "maxItems": 2,
              "x-guidance": {"whitespace_flexible": False}}
    grammar = Grammar.from_llguidance('start: "a=" %json ' + json.dumps(schema) + ' ";"')
    assert text_matches(grammar, "a=[1,2];") and text_matches(grammar, "a=[];")
    assert not text_matches(grammar, "a=[1, 2];")
    assert not text_matches(grammar, "a=[1,2,3];") and not text_matches(grammar, 'a=["x"];')


def test_two_inline_schemas_keep_apart():
    grammar = Grammar.from_llguidance('start: %json {"type": "integer"} "," %json {"type": "boolean"}')
    assert text_matches(grammar, "12,true")
    assert not text_matches(grammar, "true,12") and not text_matches(grammar, "12,12")


def test_inline_json_errors_name_the_place():
    with pytest.raises(GrammarSyntaxError, match="%json inside the terminal X") as err:
        Grammar.from_llguidance('start: X\nX: %json { "type": "integer" }')
    assert (err.value.line, err.value.column) == (2, 4)
    with pytest.raises(GrammarSyntaxError, match="not JSON") as err:
        Grammar.from_llguidance('start: "a"\n  | %json {"type": }')
    assert err.value.line == 2
    with pytest.raises(GrammarError, match=r"%json at line 1, column 8: .*unsatisfiable"):
        Grammar.from_llguidance('start: %json {"type": "integer", "minimum": 5, "maximum": 1}')
