"""Negated ``additionalProperties`` and ``patternProperties`` (through ``not``, ``if`` and
overlapping ``oneOf``): an object with some member whose value fails the schema, checked against
``jsonschema`` on every object over a few keys and values, in the grammar's key order."""

from __future__ import annotations

import itertools

import pytest

from grammars.json_schema import UnsupportedSchemaError, json_schema_to_lark
from schema_walk import judged_as_jsonschema  # tests/ is on sys.path (pytest rootdir insertion)

KEYS = ("a", "x1", "y")  # a declared name, a key matching "^x" and "1$", an additional key
VALUES = (1, "s", None)
# each as written in the corpus (schemastore/template, plagiarize-me, OpenAPI 3.x) or a variant
SCHEMAS = {
    "not additional": {"type": "object", "not": {"additionalProperties": {"type": "integer"}}},
    "not additional beside properties": {
        "type": "object", "properties": {"a": {}},
        "not": {"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}},
    "not additional beside patterns": {
        "type": "object", "not": {"patternProperties": {"^x": {}}, "additionalProperties": {"type": "integer"}}},
    "not pattern": {"type": "object", "not": {"patternProperties": {"^x": {"type": "integer"}}}},
    "not two patterns": {"type": "object", "not": {"patternProperties": {
        "^x": {"type": "integer"}, "1$": {"type": ["string", "null"]}}}},
    "oneOf additional": {"type": "object", "properties": {"a": {"type": "integer"}}, "oneOf": [
        {"additionalProperties": {"type": "integer"}}, {"additionalProperties": {"type": ["string", "integer"]}}]},
    "if pattern false": {"type": "object", "if": {"patternProperties": {"^x": False}},
                         "then": {"minProperties": 2}, "else": {"required": ["a"]}},
    "not not additional": {"type": "object", "not": {"not": {"additionalProperties": {"type": "integer"}}}},
    "oneOf over a negated pattern": {"type": "object", "oneOf": [
        {"not": {"patternProperties": {"^x": {"type": "integer"}}}}, {"required": ["a"]}]},
    "pattern beside its negation": {"type": "object", "patternProperties": {"^x": {"type": ["string", "integer"]}},
                                    "not": {"patternProperties": {"^x": {"type": "integer"}}}},
}


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_every_small_object_is_judged_as_jsonschema_does(tok, name):
    objects = ({k: v for k, v, m in zip(KEYS, chosen, marks) if m}
               for chosen in itertools.product((None,) + VALUES, repeat=len(KEYS))  # None: key absent
               for marks in itertools.product((False, True), repeat=len(KEYS)))
    seen = judged_as_jsonschema(tok, SCHEMAS[name], objects)
    assert seen[True] and seen[False], seen  # the schema tells some of these objects apart


def test_two_negated_members_in_one_object_are_refused_with_the_path():
    schema = {"type": "object", "properties": {"o": {
        "not": {"additionalProperties": {"type": "integer"}},
        "allOf": [{"not": {"patternProperties": {"^x": {"type": "integer"}}}}]}}}
    with pytest.raises(UnsupportedSchemaError, match="more than once") as e:
        json_schema_to_lark(schema)
    assert e.value.path.startswith("#/properties/o"), e.value.path
