"""Recursive references under ``not``, overlapping ``oneOf`` and ``allOf``: the negation of a
recursive reference is a reference of its own (``#/$not/...``, defined by negating the target, its
own references negated the same way), and two recursive references in one ``allOf`` are one
reference to their conjunction (``#/$and/n``). Checked against ``jsonschema`` on every small value
of a few shapes, walked token by token through the test model's tokenizer."""

from __future__ import annotations

import itertools
import json

import pytest

from grammars.json_schema import serialize_instance
from schema_walk import accepts, compile_schema, judged_as_jsonschema  # tests/ is on sys.path (pytest rootdir insertion)

LIST = {"type": "array", "items": {"$ref": "#/$defs/list"}}  # arrays of arrays of ...
SCHEMAS = {
    # CKAN's "relationship" (schemastore/CKAN.schema), cut down: items are exactly one of two
    # objects that overlap when both keys are present, and one of them recurs
    "oneOf over a recursive reference": {
        "$defs": {"rel": {"type": "array", "items": {"oneOf": [
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            {"type": "object", "properties": {"any_of": {"$ref": "#/$defs/rel"}}, "required": ["any_of"]}]}}},
        "$ref": "#/$defs/rel"},
    "not a recursive reference": {"$defs": {"list": LIST}, "type": "object",
                                  "properties": {"name": {"not": {"$ref": "#/$defs/list"}}}},
    "not a recursive reference with siblings": {
        "$defs": {"list": LIST}, "type": "object",
        "properties": {"name": {"not": {"$ref": "#/$defs/list", "minItems": 1}}}},
    "not not a recursive reference": {"$defs": {"list": LIST}, "type": "object",
                                      "properties": {"name": {"not": {"not": {"$ref": "#/$defs/list"}}}}},
    "allOf of two recursive references": {
        "$defs": {
            "a": {"type": "object", "properties": {"name": {"$ref": "#/$defs/a"}, "any_of": {"type": "integer"}}},
            "b": {"type": "object", "properties": {"name": {"$ref": "#/$defs/b"}, "any_of": {"minimum": 0}}}},
        "allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/b"}]},
}


def small_values():
    """Scalars, and objects and arrays of them two levels deep (keys ``name`` and ``any_of``)."""
    leaves = [1, -1, "s", None, [], {}]
    level1 = leaves + [[x] for x in (1, "s", [], {})] + [[[], []]] + [
        {"name": "s"}, {"any_of": []}, {"any_of": -1}, {"any_of": 1}, {"name": {"any_of": 0}}, {"name": [], "any_of": 1}]
    out = list(level1)
    for a, b in itertools.product(level1, repeat=2):
        out.append({"name": a, "any_of": b})
    for a in level1:
        out += [[a], {"name": a}, {"any_of": a}]
    objects = [x for x in out if isinstance(x, dict)]
    out += [[x] for x in objects] + [[x, y] for x, y in zip(objects, objects[7::3])]
    return out


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_every_small_value_is_judged_as_jsonschema_does(tok, name):
    seen = judged_as_jsonschema(tok, SCHEMAS[name], small_values())
    assert seen[True] >= 10 and seen[False] >= 10, seen  # the schema tells many of these apart


def test_a_reference_and_its_negation_together_are_unsatisfiable(tok):
    schema = {"$defs": {"list": LIST}, "type": "object",
              "properties": {"name": {"allOf": [{"$ref": "#/$defs/list"}, {"not": {"$ref": "#/$defs/list"}}]}}}
    cg = compile_schema(tok, schema)
    assert accepts(cg, tok[1], json.dumps({"any_of": 1}, separators=(",", ":")))
    for inst in ({"name": []}, {"name": 1}, {"name": [[]]}):
        assert not accepts(cg, tok[1], serialize_instance(schema, inst))
