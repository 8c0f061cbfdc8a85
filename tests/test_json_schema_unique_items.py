"""``uniqueItems`` over values a grammar cannot keep apart (free strings, numbers, objects, nested
arrays, unions): the grammar is the plain array language and the matcher's tracker
(:mod:`grammars.unique_items`) refuses an item equal to an earlier one, in ``advance`` and in the
masks. Instances are walked token by token with the test model's tokenizer and checked against
``jsonschema``."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from grammars import GrammarMatcher, TokenRejectedError
from grammars.bitmask import allocate_token_bitmask, bitmask_to_token_ids
from grammars.json_schema import UnsupportedSchemaError, json_schema_to_lark

from schema_walk import check, compile_schema  # tests/ is on sys.path (pytest rootdir insertion)


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


def masked_walk(cg, tokenizer, text: str) -> bool:
    """Walk ``text`` token by token; each token must be in the mask exactly when ``advance`` takes
    it. Whether the whole text is accepted."""
    m = GrammarMatcher(cg)
    for t in tokenizer.encode(text, add_special_tokens=False):
        allowed = set(m.allowed_token_ids().tolist())
        try:
            m.advance(t)
        except TokenRejectedError:
            assert t not in allowed, f"token {t} in the mask but refused after {m.text()!r}"
            return False
        assert t in allowed, f"token {t} taken but not in the mask after {m.text()!r}"
    return m.is_accepting()


def test_free_strings(tok):
    schema = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    check(tok, schema, [[], ["a"], ["a", "b"], ["ab", "abc", "a"], ["x\"y", "x\\y", "é", "e"]],
          [["a", "a"], ["ab", "c", "ab"], ["é", "é"], ["x\"y", "x\"y"]])
    cg = compile_schema(tok, schema)
    # "a" and "\u0061" are one value: the grammar spells strings one way, and the tracker decodes
    assert not masked_walk(cg, tok[1], '["a","\\u0061"]')
    assert masked_walk(cg, tok[1], '["abc","ab","abcd"]')


def test_strings_with_pattern_format_and_length(tok):
    schema = {"type": "array", "uniqueItems": True, "minItems": 1,
              "items": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5}}
    check(tok, schema, [["a"], ["abc", "ab"]], [[], ["abc", "abc"], ["A"]])
    dates = {"type": "array", "uniqueItems": True, "items": {"type": "string", "format": "date"}}
    check(tok, dates, [["2024-01-01", "2024-01-02"]], [["2024-01-01", "2024-01-01"]])


def test_numbers_compare_as_numbers(tok):
    schema = {"type": "array", "items": {"type": "number"}, "uniqueItems": True}
    check(tok, schema, [[1, 2], [1, 10, 0.5, -1], [1, 12]], [[1, 1], [0.5, 0.5], [1, 2, 1]])
    cg = compile_schema(tok, schema, whitespace="flexible")
    assert not masked_walk(cg, tok[1], "[1, 1 ]")
    assert masked_walk(cg, tok[1], "[1 , 12 ]")
    ints = {"type": "array", "items": {"type": "integer", "maximum": 9}, "uniqueItems": True}
    check(tok, ints, [[1, 2, 3], [0]], [[3, 3]])
    # a one-digit number that is a duplicate cannot go on: its digit is masked (no dead end)
    cg = compile_schema(tok, ints)
    m = GrammarMatcher(cg)
    for t in tok[1].encode("[1,", add_special_tokens=False):
        m.advance(t)
    one = tok[1].encode("1", add_special_tokens=False)[0]
    assert one not in m.allowed_token_ids().tolist()


def test_booleans_null_and_mixed_untyped_items(tok):
    schema = {"type": "array", "uniqueItems": True}
    check(tok, schema, [[1, True, "1", None, [1], {"a": 1}], [0, False], [[1, 2], [2, 1]]],
          [[1, 1.0], [True, True], [None, None], [[1], [1]], [{"a": 1}, {"a": 1}], ["x", 1, "x"]])


def test_objects_whatever_the_key_order(tok):
    schema = {"type": "array", "uniqueItems": True,
              "items": {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": True}}
    check(tok, schema, [[{"a": 1}, {"a": 2}], [{"a": 1, "b": 2}, {"a": 1, "c": 2}], [{}, {"a": 1}]],
          [[{"a": 1}, {"a": 1}], [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}], [{}, {}]])
    cg = compile_schema(tok, schema)
    assert not masked_walk(cg, tok[1], '[{"a":1,"b":2,"c":3},{"a":1,"c":3,"b":2}]')
    assert masked_walk(cg, tok[1], '[{"a":1,"b":2,"c":3},{"a":1,"c":3,"b":4}]')


def test_nested_unique_arrays(tok):
    inner = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    schema = {"type": "array", "items": inner, "uniqueItems": True}
    check(tok, schema, [[[1, 2], [2, 1]], [[], [1]], [[1], [1, 2]]],
          [[[1, 2], [1, 2]], [[1, 1]], [[], []], [[3], [1, 1]]])


def test_items_with_any_of_and_in_an_object(tok):
    schema = {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True, "items": {
        "anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"},
                  {"type": "object", "properties": {"k": {"enum": ["x", "y"]}}, "required": ["k"]}]}}}}
    check(tok, schema, [{"tags": ["a", 1, {"k": "x"}, {"k": "y"}, "1"]}, {"tags": []}, {}],
          [{"tags": ["a", "a"]}, {"tags": [1, 1]}, {"tags": [{"k": "x"}, {"k": "x"}]}])


def test_duplicate_closing_token_is_masked_and_others_are_not(tok):
    cg = compile_schema(tok, {"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    tokenizer = tok[1]
    m = GrammarMatcher(cg)
    m.advance_bytes(b'["abc","a')
    allowed = set(m.allowed_token_ids().tolist())
    close, more = tokenizer.convert_tokens_to_ids('"'), tokenizer.convert_tokens_to_ids("b")
    assert close in allowed and more in allowed  # "a" is new
    m.advance(more)
    allowed = set(m.allowed_token_ids().tolist())
    assert close in allowed  # "ab" is new too
    m.advance(tokenizer.convert_tokens_to_ids("c"))
    allowed = set(m.allowed_token_ids().tolist())
    assert close not in allowed and more in allowed  # "abc" again: only its closing quote is masked
    closers = [t for t in range(cg.vocab_size) if (cg.token_bytes(t) or b"").startswith(b'"')]
    assert closers and not allowed & set(closers)
    with pytest.raises(TokenRejectedError):
        m.fork().advance(close)
    assert not m.accepts_token(close)


def test_rollback_fork_and_reset(tok):
    cg = compile_schema(tok, {"type": "array", "items": {"type": "integer"}, "uniqueItems": True})
    tokenizer = tok[1]
    m = GrammarMatcher(cg)
    ids = tokenizer.encode("[1,2,", add_special_tokens=False)
    for t in ids:
        m.advance(t)
    one, two, end = (tokenizer.convert_tokens_to_ids(c) for c in ("1", "2", "]"))
    m.advance(one)
    assert not m.accepts_token(end)  # [1,2,1]
    m.rollback(1)
    assert m.accepts_token(tokenizer.convert_tokens_to_ids("3"))
    m.rollback(len(ids) - 2)  # back to "[1"
    assert m.text() == "[1"
    m.advance(tokenizer.convert_tokens_to_ids(","))
    m.advance(two)
    m.advance(end)
    assert m.is_accepting()
    fork = m.fork()
    m.reset()
    m.advance(tokenizer.convert_tokens_to_ids("["))
    m.advance(two)
    assert fork.text() == "[1,2]" and fork.is_accepting() and m.text() == "[2"


def test_random_walks_validate(tok):
    schema = {"type": "array", "uniqueItems": True, "minItems": 3, "maxItems": 6,
              "items": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 3}, {"enum": ["a", "b"]},
                                  {"type": "array", "items": {"type": "boolean"}, "maxItems": 1}]}}
    cg = compile_schema(tok, schema)
    validator = jsonschema.Draft202012Validator(schema)
    rng = random.Random(0)
    eos = set(cg.eos_token_ids.tolist())
    for _ in range(12):
        m = GrammarMatcher(cg)
        while not m.is_finished():
            allowed = m.allowed_token_ids().tolist()
            short = [t for t in allowed if t in eos or len(cg.token_bytes(t) or b"") == 1]
            m.advance(rng.choice(short or allowed))
        assert validator.is_valid(json.loads(m.text())), m.text()


def test_still_refused_where_not_exact():
    with pytest.raises(UnsupportedSchemaError, match="uniqueItems"):  # its negation: arrays with a repeat
        json_schema_to_lark({"not": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}})
    with pytest.raises(UnsupportedSchemaError) as e:
        json_schema_to_lark({"oneOf": [{"type": "array", "uniqueItems": True}, {"type": "array", "maxItems": 2}]})
    assert "uniqueItems" in str(e.value)


def test_refused_where_the_bracket_is_ambiguous(tok):
    # a unique array and a plain one where the same `[` may start either: the tracker could not
    # tell which array the text is
    schema = {"anyOf": [{"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                        {"type": "array", "items": {"type": "integer"}}]}
    with pytest.raises(UnsupportedSchemaError, match="uniqueItems"):
        GrammarMatcher(compile_schema(tok, schema))


def test_forced_bytes_stop_before_a_duplicate(tok):
    cg = compile_schema(tok, {"type": "array", "uniqueItems": True, "items": {"type": "string", "pattern": "^abc$"}})
    m = GrammarMatcher(cg)
    assert m.advance_bytes(b'["abc",')  # (the mask had no comma here: only a duplicate could follow)
    assert m.forced_bytes() == b'"abc'
    assert m.forced_tokens() == []  # the masks allow none of them: "abc" again is all that could follow
    ok = GrammarMatcher(compile_schema(tok, {"type": "array", "uniqueItems": True, "minItems": 1,
                                             "items": {"type": "string", "pattern": "^abc$"}}))
    ok.advance_bytes(b"[")
    assert ok.forced_tokens() and ok.forced_bytes() == b'"abc"'
