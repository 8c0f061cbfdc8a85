"""JSON Schema drafts (``$schema``), unknown keywords as annotations, and the findings on real
schemas: instances walked token by token through the SmolLM2 tokenizer, each checked against
``jsonschema``'s validator for the schema's own draft."""

from __future__ import annotations

import json
import warnings

import jsonschema
import pytest

from grammars import Grammar
from grammars.json_schema import (
    IgnoredKeywordsWarning,
    UnsupportedSchemaError,
    json_schema_to_lark,
    serialize_instance,
)

from schema_walk import check  # tests/ is on sys.path (pytest rootdir insertion)

D4 = "http://json-schema.org/draft-04/schema#"
D6 = "http://json-schema.org/draft-06/schema#"
D7 = "http://json-schema.org/draft-07/schema#"
D2019 = "https://json-schema.org/draft/2019-09/schema"


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


DRAFT_CASES = {
    "d4-boolean-exclusive": ({"$schema": D4, "type": "integer", "minimum": 1, "exclusiveMinimum": True,
                              "maximum": 5, "exclusiveMaximum": False}, [2, 5], [1, 6, 0]),
    "d4-id-and-definitions": ({"$schema": D4, "id": "http://example.com/s.json", "type": "object",
                               "properties": {"n": {"$ref": "#/definitions/pos"}},
                               "definitions": {"pos": {"type": "integer", "minimum": 0}}},
                              [{"n": 3}, {}], [{"n": -1}, {"n": "3"}]),
    "d4-const-is-an-annotation": ({"$schema": D4, "type": "string", "const": "x"}, ["x", "y"], [1]),
    "d4-dependencies-array": ({"$schema": D4, "type": "object", "properties": {"a": {}, "b": {}},
                               "dependencies": {"a": ["b"]}}, [{"a": 1, "b": 2}, {"b": 1}, {}], [{"a": 1}]),
    "d7-dependencies-schema": ({"$schema": D7, "type": "object", "properties": {"a": {}, "b": {}},
                                "dependencies": {"a": {"required": ["b"], "properties": {"b": {"type": "string"}}}}},
                               [{"a": 1, "b": "x"}, {"b": 2}], [{"a": 1}, {"a": 1, "b": 2}]),
    "d7-items-array-additionalItems": ({"$schema": D7, "type": "array",
                                        "items": [{"type": "integer"}, {"type": "string"}],
                                        "additionalItems": False},
                                       [[1, "a"], [1], []], [[1, "a", 2], ["a"]]),
    "d7-items-array-open": ({"$schema": D7, "type": "array", "items": [{"type": "integer"}],
                             "additionalItems": {"type": "boolean"}}, [[1, True, False]], [[1, 2]]),
    "d7-ref-siblings-ignored": ({"$schema": D7, "definitions": {"s": {"type": "string"}},
                                 "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 1}}},
                                [{"a": "long text"}], [{"a": 1}]),
    "d6-if-is-an-annotation": ({"$schema": D6, "type": "integer", "if": {"minimum": 5}, "then": {"maximum": 6}},
                               [7, 100], ["x"]),
    "d6-contains-propertyNames": ({"$schema": D6, "type": "object", "propertyNames": {"maxLength": 2},
                                   "additionalProperties": {"type": "array", "contains": {"const": 1}}},
                                  [{"ab": [0, 1]}], [{"abc": [1]}, {"a": [0]}]),
    "d7-if-then-else": ({"$schema": D7, "type": "integer", "if": {"minimum": 5}, "then": {"maximum": 6},
                         "else": {"maximum": 1}}, [5, 6, 1, -3], [7, 2]),
    "2019-items-array": ({"$schema": D2019, "type": "array", "items": [{"const": "a"}],
                          "additionalItems": {"type": "integer"}, "maxItems": 3}, [["a", 1, 2]], [["a", "b"], [1]]),
    "2019-recursive-ref": ({"$schema": D2019, "$recursiveAnchor": True, "type": ["object", "integer"],
                            "additionalProperties": {"$recursiveRef": "#"}},
                           [{"a": {"b": 1}}, 3], [{"a": {"b": "x"}}]),
    "multipleOf-16": ({"type": "integer", "multipleOf": 16}, [0, 16, -32, 1600, 123456], [8, 17, -4, 1.5]),
    "d7-number-multipleOf-2": ({"$schema": D7, "type": "number", "multipleOf": 2}, [4, -10, 0], [3, 2.5, "2"]),
    "uniqueItems-enum": ({"type": "array", "items": {"enum": ["a", "b", 1, 1.0]}, "uniqueItems": True, "minItems": 1},
                         [["a"], ["b", "a", 1]], [[], ["a", "a"], [1, 1.0], ["c"]]),
    "d4-uniqueItems-boolean": ({"$schema": D4, "type": "array", "items": {"type": "boolean"}, "uniqueItems": True},
                               [[], [True, False]], [[True, True], [False, True, False]]),
    "2020-unknown-keywords": ({"type": "object", "x-kubernetes-group-version-kind": [{"kind": "Pod"}],
                               "properties": {"a": {"type": "integer", "readonly": True, "example": 1,
                                                    "_uniqueItems": True, "min": 3, "$default": 0}},
                               "_comment": "c", "configFile": {"$ref": "nowhere.json"}},
                              [{"a": 1}, {}], [{"a": "1"}]),
}


@pytest.mark.parametrize("name", list(DRAFT_CASES))
def test_each_draft_with_its_own_meaning(tok, name):
    schema, valid, invalid = DRAFT_CASES[name]
    check(tok, schema, valid, invalid)


def test_draft_03_is_refused_naming_schema():
    with pytest.raises(UnsupportedSchemaError) as e:
        json_schema_to_lark({"$schema": "http://json-schema.org/draft-03/schema#", "type": "string"})
    assert e.value.keyword == "$schema" and e.value.path == "#/$schema"


ANNOTATED = {"type": "object", "title": "t", "x-vendor": {"a": 1}, "id": "legacy", "name": "n",
             "properties": {"a": {"type": "array", "items": {"type": "string", "maxLength": 3, "self": {},
                                                             "x-kubernetes-patch-merge-key": "k"},
                                  "_format": "date"},
                            "b": {"enum": [1, 2], "readonly": True, "example": 2}},
             "required": ["b"]}
PLAIN = {"type": "object",
         "properties": {"a": {"type": "array", "items": {"type": "string", "maxLength": 3}}, "b": {"enum": [1, 2]}},
         "required": ["b"]}


def test_annotation_keywords_give_the_same_language_and_one_warning(tok):
    with pytest.warns(IgnoredKeywordsWarning) as record:
        annotated = json_schema_to_lark(ANNOTATED)
    assert len(record) == 1
    message = str(record[0].message)
    for keyword in ("x-vendor", "name", "self", "x-kubernetes-patch-merge-key", "_format", "readonly", "example"):
        assert keyword in message
    assert "#/properties/a/items/self" in message
    assert annotated == json_schema_to_lark(PLAIN)
    check(tok, ANNOTATED, [{"b": 1}, {"a": ["abc"], "b": 2}], [{"b": 3}, {"a": ["abcd"], "b": 1}, {}])


def test_known_annotations_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        json_schema_to_lark({"$schema": D7, "title": "t", "description": "d", "default": 1, "examples": [1],
                             "$comment": "c", "readOnly": True, "type": "integer"})


def test_nested_pattern_property_oneofs_do_not_recurse_forever(tok):
    # found on a real schema: merge -> union -> _canon recursed without end
    schema = {"patternProperties": {"^a$": {"oneOf": [{}, {"type": "null"}]}, "^b$": {"oneOf": [{}, {}]}}}
    check(tok, schema, [{"a": 1}, {"c": None}, {}], [{"a": None}, {"b": 1}])


CLOSED_ONE_OF = {"oneOf": [{"additionalProperties": False, "properties": {"a": {}}},
                           {"additionalProperties": False, "properties": {"b": {}}}]}


def test_oneof_of_closed_objects_is_not_unsatisfiable(tok):
    check(tok, CLOSED_ONE_OF, [{"a": "x"}, {"b": 1}], [{}, {"a": 1, "b": 2}, {"a": 1, "c": 1}, 1])


def test_oneof_of_closed_objects_nested_keeps_every_property(tok):
    schema = {"type": "object", "properties": {"x": CLOSED_ONE_OF, "y": {"type": "integer"}}}
    check(tok, schema, [{"x": {"a": "x"}, "y": 1}, {"x": {"b": None}}], [{"x": {}}, {"x": {"a": 1, "b": 1}}])


def test_serialize_orders_keys_inside_pattern_property_values():
    schema = {"patternProperties": {"^p": {"type": "object", "properties": {"b": {}, "a": {}}}}}
    assert serialize_instance(schema, {"p": {"a": 1, "b": 2}}) == '{"p":{"b":2,"a":1}}'
    g = Grammar.from_json_schema(schema)
    assert g.parser.parse(serialize_instance(schema, {"p": {"a": 1, "b": 2}})) is not None


def test_refusal_names_the_subschema_path():
    with pytest.raises(UnsupportedSchemaError) as e:
        Grammar.from_json_schema({"$schema": D7, "definitions": {"t": {"anyOf": [
            {"type": "array", "items": {"type": "object"}, "uniqueItems": True}, {"type": "array"}]}},
            "properties": {"tags": {"$ref": "#/definitions/t"}}})
    assert e.value.keyword == "uniqueItems" and e.value.path.startswith("#/properties/tags")
    assert json.loads(json.dumps(e.value.path)) == e.value.path
