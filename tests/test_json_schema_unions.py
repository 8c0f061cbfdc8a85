"""Tagged unions and if/then chains as real schemas write them (issue 16, third round): ``oneOf``
branches told apart by a required discriminator (a different ``const``/``enum`` per branch, or a
name one branch requires and the other forbids) are taken as they are, without negating them, so
branches that cannot be negated (``uniqueItems``, ``format``) no longer refuse the schema; chains of
``if``/``then`` on one discriminator (SchemaStore's Minecraft schemas) drop the empty combinations
instead of multiplying them. Instances are walked token by token through the SmolLM2 tokenizer and
checked against ``jsonschema``'s validator for the draft (tests/schema_walk.py)."""

from __future__ import annotations

import pytest

from grammars.json_schema import UnsupportedSchemaError, json_schema_to_lark

from schema_walk import check  # tests/ is on sys.path (pytest rootdir insertion)


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


def _geometry(kind: str, coords: dict) -> dict:
    # GeoJSON's shape: the discriminator is not the first property, and the bbox is shared
    return {"type": "object", "required": ["type", "coordinates"], "properties": {
        "bbox": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        "type": {"type": "string", "enum": [kind]}, "coordinates": coords}}


GEO = {"$schema": "http://json-schema.org/draft-07/schema#", "oneOf": [
    _geometry("Point", {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}),
    _geometry("MultiPoint", {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                          "items": {"type": "number"}}}),
    {"type": "object", "required": ["type", "geometries"], "properties": {
        "type": {"const": "GeometryCollection"},
        "geometries": {"type": "array", "maxItems": 2, "items": {"$ref": "#/oneOf/0"}}}},
]}


def test_tagged_union_one_of_token_by_token(tok):
    check(tok, GEO,
          [{"type": "Point", "coordinates": [1, 2.5]}, {"bbox": [0, 0, 1, 1], "type": "Point", "coordinates": [1, 2, 3]},
           {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}, {"type": "MultiPoint", "coordinates": []},
           {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}]}],
          [{"type": "Point", "coordinates": [[1, 2]]}, {"type": "MultiPoint", "coordinates": [1, 2]},
           {"type": "Line", "coordinates": [1, 2]}, {"coordinates": [1, 2]}, {"type": "Point"},
           {"type": "GeometryCollection", "geometries": [{"type": "MultiPoint", "coordinates": []}]}])


# a branch that cannot be negated (uniqueItems) used to refuse the whole oneOf
UNNEGATABLE = {"oneOf": [
    {"type": "object", "required": ["kind"], "properties": {
        "kind": {"const": "tags"}, "tags": {"type": "array", "items": {"enum": ["x", "y", "z"]}, "uniqueItems": True}}},
    {"type": "object", "required": ["kind", "at"], "properties": {
        "kind": {"enum": ["date", "time"]}, "at": {"type": "string", "format": "date"}}},
    {"type": "object", "required": ["url"], "additionalProperties": False, "properties": {"url": {"type": "string"}}},
]}


def test_discriminated_branches_need_no_negation(tok):
    with pytest.raises(UnsupportedSchemaError, match="uniqueItems"):
        json_schema_to_lark({"not": UNNEGATABLE["oneOf"][0]})  # what the negation route would need
    check(tok, UNNEGATABLE,
          [{"kind": "tags", "tags": ["x", "z"]}, {"kind": "tags"}, {"kind": "date", "at": "2024-02-29"},
           {"kind": "time", "at": "2023-01-01", "tags": [1, 1]}, {"url": "x"},
           {"url": "x", "kind": "date", "at": "2024-01-01"}],
          [{"kind": "tags", "tags": ["x", "x"]}, {"kind": "date", "at": 5}, {"kind": "tags", "at": 5,
           "tags": ["w"]}, {"kind": "date"}, {"url": 5}, {}])


def test_overlapping_branches_still_take_the_negation_route(tok):
    # the discriminator is optional here: {"x": 1, "y": 2} has no "k" and matches both branches
    schema = {"oneOf": [
        {"type": "object", "required": ["x"], "properties": {"k": {"const": "a"}, "x": {"type": "integer"}}},
        {"type": "object", "required": ["y"], "properties": {"k": {"const": "b"}, "y": {"type": "integer"}}}]}
    check(tok, schema,
          [{"k": "a", "x": 1, "y": 2}, {"x": 1}, {"y": 2}, {"k": "b", "x": 1, "y": 2}],
          [{"x": 1, "y": 2}, {"k": "c", "x": 1}, {}])
    # and a shared value of the discriminator overlaps too
    schema = {"oneOf": [
        {"type": "object", "required": ["k"], "properties": {"k": {"enum": ["a", "b"]}, "n": {"type": "integer"}}},
        {"type": "object", "required": ["k"], "properties": {"k": {"enum": ["b", "c"]}, "n": {"type": "string"}}}]}
    check(tok, schema, [{"k": "a", "n": 1}, {"k": "c", "n": "s"}, {"k": "b", "n": 1}, {"k": "b", "n": "s"}],
          [{"k": "b"}, {"k": "a", "n": "s"}, {"k": "d"}])


def test_if_then_chain_on_one_discriminator(tok):
    # minecraft-predicate's shape: one if/then per value of an optional "condition"
    kinds = ["a", "b", "c", "d", "e", "f"]
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"condition": {"enum": kinds}},
              "allOf": [{"if": {"properties": {"condition": {"const": k}}},
                         "then": {"properties": {k: {"type": "integer", "maximum": i}}, "required": [k]}}
                        for i, k in enumerate(kinds)]}
    assert len(json_schema_to_lark(schema)) < 20000
    check(tok, schema,
          [{"condition": "a", "a": 0}, {"condition": "c", "a": "x", "c": 2}, {"condition": "f", "f": 5, "e": "x"},
           {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5}],  # no condition: every if holds
          [{}, {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 6}, {"condition": "a"}, {"condition": "a", "a": 1}, {"condition": "c", "c": 3}, {"condition": "g"},
           {"condition": "b", "b": 0.5}])
