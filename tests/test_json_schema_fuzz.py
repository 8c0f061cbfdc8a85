"""Soundness of the JSON Schema translation without a model: random walks through the matcher
(a random allowed token at each step, stopping at random where the text is complete) under schemas
that use every translated keyword; every finished text must be JSON that validates with
``jsonschema``, and pass the byte-level check. Catches a grammar that accepts what the schema
rejects (a false positive)."""

from __future__ import annotations

import decimal
import json
import random
import zlib
from decimal import Decimal

import jsonschema
import numpy as np
import pytest

from grammars import Grammar, GrammarMatcher, text_matches

WALKS = 60
SCHEMAS = {
    "if-then-else": {"type": "object", "required": ["kind"], "additionalProperties": False,
                     "properties": {"kind": {"enum": ["a", "b"]}, "x": {"type": "integer"}, "y": {"type": "boolean"}},
                     "if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["x"]},
                     "else": {"required": ["y"]}},
    "oneOf-overlap": {"oneOf": [{"type": "integer", "maximum": 50}, {"type": "number", "minimum": 10, "maximum": 99}]},
    "not": {"type": "array", "maxItems": 3, "items": {"not": {"type": ["string", "object", "array"]}}},
    "not-enum": {"type": "string", "maxLength": 3, "not": {"enum": ["a", "ab", ""]}},
    "not-pattern": {"type": "string", "maxLength": 4, "pattern": "^[a-c]*$", "not": {"pattern": "b"}},
    "contains": {"type": "array", "maxItems": 5, "items": {"type": "integer", "minimum": 0, "maximum": 9},
                 "contains": {"minimum": 7}, "minContains": 2, "maxContains": 3},
    "dependent": {"type": "object", "maxProperties": 3, "dependentRequired": {"a": ["b"]},
                  "dependentSchemas": {"c": {"properties": {"a": {"type": "string"}}}},
                  "additionalProperties": {"type": "integer"}},
    "patternProperties": {"type": "object", "maxProperties": 3, "patternProperties": {"^x": {"type": "integer"},
                                                                                      "y$": {"type": "boolean"}},
                          "additionalProperties": {"type": "null"}},
    "propertyNames": {"type": "object", "maxProperties": 3, "properties": {"ab": {"const": 1}},
                      "propertyNames": {"pattern": "^[a-d]+$", "maxLength": 2}},
    "unevaluated": {"type": "object", "maxProperties": 3, "properties": {"a": {"type": "integer"}},
                    "allOf": [{"properties": {"b": {"type": "boolean"}}}], "unevaluatedProperties": False},
    "number-bounds": {"type": "array", "maxItems": 3,
                      "items": {"type": "number", "exclusiveMinimum": -1.5, "maximum": 2.25}},
    "multipleOf": {"type": "array", "maxItems": 3, "items": {"type": "number", "multipleOf": 0.01}},
    "formats": {"type": "array", "maxItems": 2, "items": {"anyOf": [{"type": "string", "format": "date"},
                                                                  {"type": "string", "format": "ipv4"}]}},
}


def walk(compiled, rng: random.Random, max_tokens: int = 48) -> str | None:
    """A random path through the matcher; None when it does not finish within ``max_tokens``."""
    m = GrammarMatcher(compiled)
    for _ in range(max_tokens):
        if m.is_accepting() and rng.random() < 0.35:
            return m.text()
        allowed = np.setdiff1d(m.allowed_token_ids(), compiled.eos_token_ids)
        if len(allowed) == 0:
            assert m.is_accepting(), f"dead end after {m.text()!r}"
            return m.text()
        # prefer short tokens: the walk then explores structure instead of long strings
        short = [int(t) for t in allowed[: 4096] if len(compiled.token_bytes(int(t)) or b"") <= 3]
        m.advance(rng.choice(short) if short and rng.random() < 0.8 else int(rng.choice(list(allowed))))
    return m.text() if m.is_accepting() else None


def _without_multiple_of(schema):
    if isinstance(schema, dict):
        return {k: _without_multiple_of(v) for k, v in schema.items() if k != "multipleOf"}
    return [_without_multiple_of(v) for v in schema] if isinstance(schema, list) else schema


def _is_multiple(x: Decimal, m: Decimal) -> bool:
    """x = c*10**e a multiple of m = cm*10**em, exactly, without expanding huge exponents."""
    _, xd, e = x.as_tuple()
    _, md, em = m.as_tuple()
    c, cm = int("".join(map(str, xd))), int("".join(map(str, md)))
    if c == 0:
        return True
    if e >= em:
        return c * pow(10, e - em, cm) % cm == 0
    return em - e <= len(str(c)) and c % (cm * 10 ** (em - e)) == 0


def _multiples_ok(value, schema) -> bool:
    """Every number under an array/number schema with ``multipleOf`` (the fuzz schemas' shape)."""
    if isinstance(value, list):
        return all(_multiples_ok(v, schema.get("items", {})) for v in value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and "multipleOf" in schema:
        return _is_multiple(Decimal(value), Decimal(schema["multipleOf"]))
    return True


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_random_walks_validate(test_tokenizer, test_model, name):
    from decoding.hf import compile_for_tokenizer

    schema = SCHEMAS[name]
    grammar = Grammar.from_json_schema(schema)
    compiled = compile_for_tokenizer(grammar, test_tokenizer, model=test_model)
    rng = random.Random(zlib.crc32(name.encode()))  # the same walks in every process
    finished = 0
    # multipleOf in exact decimals (jsonschema's float division calls 4.1 no multiple of 0.01)
    decimals = "multipleOf" in json.dumps(schema)
    exact = json.loads(json.dumps(schema), parse_float=Decimal) if decimals else schema
    for _ in range(WALKS):
        text = walk(compiled, rng)
        if text is None:
            continue
        finished += 1
        value = json.loads(text, parse_float=Decimal) if decimals else json.loads(text)
        try:
            jsonschema.validate(value, exact)  # raises on a false positive
        except decimal.InvalidOperation:  # jsonschema's Decimal division fails on huge quotients
            jsonschema.validate(value, _without_multiple_of(exact))
            assert _multiples_ok(value, exact), text
        assert text_matches(grammar, text)  # the byte-level check (the CLI's) reads it the same way
    assert finished >= WALKS // 5, f"only {finished} of {WALKS} walks finished"
