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
    ('start: "a" <|tool call|>', "special token syntax other than"),
    ('start[stop="x"]: /.*/', "[stop"),
    ('start[max_tokens=5]: /.*/', "[max_tokens"),
    ('start: %regex { "substring_words": "a b", "x": 1 }', "%regex object other than"),
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


def test_load_reads_the_dialect_from_text_and_files(tmp_path):
    text = 'start: "ab"{2} %json {"enum": [1, 22]}'
    path = tmp_path / "g.lark"
    path.write_text(text)
    for grammar in (Grammar.load(text, dialect="llguidance"), Grammar.load(str(path), dialect="llguidance")):
        assert [text_matches(grammar, t) for t in ("abab22", "abab1", "ab22", "abab2")] == [True, True, False, False]
    with pytest.raises(GrammarError):
        Grammar.load(text)  # plain lark has no x{m,n}
    with pytest.raises(ValueError, match="unknown grammar dialect 'gbnf'"):
        Grammar.load(text, dialect="gbnf")


def test_inline_json_errors_name_the_place():
    with pytest.raises(GrammarSyntaxError, match="%json inside the terminal X") as err:
        Grammar.from_llguidance('start: X\nX: %json { "type": "integer" }')
    assert (err.value.line, err.value.column) == (2, 4)
    with pytest.raises(GrammarSyntaxError, match="not JSON") as err:
        Grammar.from_llguidance('start: "a"\n  | %json {"type": }')
    assert err.value.line == 2
    with pytest.raises(GrammarError, match=r"%json at line 1, column 8: .*unsatisfiable"):
        Grammar.from_llguidance('start: %json {"type": "integer", "minimum": 5, "maximum": 1}')


SPECIAL = 'start: "Answer: " ("yes" | "no") {token} "!"'


def _special_id(tokenizer, content):
    return next(i for i, t in tokenizer.added_tokens_decoder.items() if str(t.content) == content)


def test_a_named_special_token_is_allowed_where_named_and_only_there(test_model, test_tokenizer):
    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from grammars import GrammarMatcher

    token = _special_id(test_tokenizer, "<|im_start|>")
    compiled = compile_for_tokenizer(Grammar.from_llguidance(SPECIAL.format(token="<|im_start|>")), test_tokenizer,
                                     model=test_model)
    matcher = GrammarMatcher(compiled)
    assert token not in matcher.allowed_token_ids()
    for t in test_tokenizer.encode("Answer: yes", add_special_tokens=False):
        matcher.advance(t)
    assert matcher.allowed_token_ids().tolist() == [token]  # not '<' nor '<|': text does not spell it
    matcher.advance(token)
    allowed = matcher.allowed_token_ids()
    assert token not in allowed and test_tokenizer.convert_tokens_to_ids("!") in allowed

    prompt = test_tokenizer("Answer: yes or no?", return_tensors="pt")["input_ids"]
    out = test_model.generate(prompt, max_new_tokens=8, do_sample=False,
                              logits_processor=[GrammarLogitsProcessor(compiled)])
    new = out[0, prompt.shape[1]:].tolist()
    assert token in new and test_tokenizer.decode(new[:new.index(token)]) in ("Answer: yes", "Answer: no")


def test_a_special_token_by_id_is_that_token(test_model, test_tokenizer):
    from decoding.hf import vocabulary_for
    from decoding.tokenizers import vocabulary_for_grammar

    base = vocabulary_for(test_tokenizer, test_model)
    vocab = vocabulary_for_grammar(base, test_tokenizer, Grammar.from_llguidance(SPECIAL.format(token="<[1]>")))
    assert base.token_bytes[1] is None and vocab.token_bytes[1] == b"\xff<[1]>\xff"
    ordinary_ff = [i for i, b in enumerate(base.token_bytes) if b is not None and 0xFF in b]
    assert all(vocab.token_bytes[i] is None for i in ordinary_ff)  # they cannot spell it (SmolLM2 has none)
    assert sum(b is not None for b in vocab.token_bytes) == sum(b is not None for b in base.token_bytes) + 1 - len(ordinary_ff)
    # a second request naming the same token gets the same vocabulary (and so the same token trie)
    again = vocabulary_for_grammar(base, test_tokenizer, Grammar.from_llguidance(SPECIAL.format(token="<[1]>") + " "))
    assert again is vocab
    other = vocabulary_for_grammar(base, test_tokenizer, Grammar.from_llguidance(SPECIAL.format(token="<[3]>")))
    assert other is not vocab and other.token_bytes[3] == b"\xff<[3]>\xff" and other.token_bytes[1] is None


def test_special_tokens_the_tokenizer_lacks_or_that_end_the_sequence_are_named(test_model, test_tokenizer):
    from decoding.hf import compile_for_tokenizer
    from grammars import VocabularyError

    with pytest.raises(VocabularyError, match=re.escape("<|tool_call|>")):
        compile_for_tokenizer(Grammar.from_llguidance(SPECIAL.format(token="<|tool_call|>")), test_tokenizer)
    with pytest.raises(VocabularyError, match="end-of-sequence"):
        compile_for_tokenizer(Grammar.from_llguidance(SPECIAL.format(token="<|im_end|>")), test_tokenizer,
                              model=test_model)
    with pytest.raises(GrammarSyntaxError, match="special token <|im_end|> inside the terminal T"):
        Grammar.from_llguidance('start: T\nT: "a" <|im_end|>')
