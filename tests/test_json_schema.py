"""JSON Schema -> grammar: every supported keyword, valid and invalid instances walked token by token
(SmolLM2 tokenizer) through the matcher; instance validity confirmed with ``jsonschema``."""

from __future__ import annotations

import json
import warnings

import jsonschema
import pytest

from grammars import Grammar
from grammars.json_schema import (
    UnsupportedSchemaError,
    json_schema_to_lark,
)

from schema_walk import check  # tests/ is on sys.path (pytest rootdir insertion)


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


CASES = {
    "boolean-true": (True, [1, "a", {"x": [None]}], []),
    "types": ({"type": ["null", "boolean"]}, [None, True, False], [0, "null"]),
    "integer": ({"type": "integer"}, [0, -7, 12345678901234567890, 2.0], [1.5, "1", "RAW:01", "RAW:-"]),
    "number": ({"type": "number"}, [0, -1.5, 3e-7, 10], ["1", None, "RAW:1.", "RAW:.5"]),
    "int-range": ({"type": "integer", "minimum": -15, "maximum": 230},
                  [-15, -9, 0, 9, 10, 99, 100, 199, 230], [-16, 231, 300, -100, 1000]),
    "int-exclusive": ({"type": "integer", "exclusiveMinimum": 1.5, "exclusiveMaximum": 100},
                      [2, 50, 99], [1, 100, 0]),
    "int-open-range": ({"type": "integer", "minimum": 42}, [42, 99, 100, 123456], [41, 0, -50]),
    "string": ({"type": "string", "minLength": 2, "maxLength": 4}, ["ab", "abcd", "é\"\n"], ["a", "abcde", 3]),
    "pattern": ({"type": "string", "pattern": "^[a-z]+-\\d{2}$"}, ["abc-12"], ["abc-1", "ABC-12", "x-123"]),
    "pattern-unanchored": ({"type": "string", "pattern": "a\"b"}, ["xa\"by", "a\"b"], ["ab", "a b"]),
    "format-date": ({"type": "string", "format": "date"}, ["2024-02-29"], ["RAW:\"2024-13-01\""]),
    "format-uuid": ({"format": "uuid", "type": "string"}, ["123e4567-e89b-12d3-a456-426614174000"], ["RAW:\"123\""]),
    "format-ipv4": ({"type": "string", "format": "ipv4"}, ["192.168.0.1"], ["RAW:\"256.1.1.1\""]),
    "enum": ({"enum": ["red", 1, None, {"a": [1]}]}, ["red", 1, None, {"a": [1]}, 1.0], ["blue", 2, {"a": [2]}]),
    "const": ({"const": "x"}, ["x"], ["y", 1]),
    "enum-small-float": ({"enum": [1e-7, "x"]}, [1e-7, "x"], [1e-6, "RAW:1e-07"]),
    "object": ({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                "required": ["b"]},
               [{"b": "x"}, {"a": 1, "b": "x"}, {"b": "", "c": [True]}],
               [{"a": 1}, {"a": "1", "b": "x"}, {"b": 1}, "RAW:{\"b\":\"x\",\"a\":\"1\"}"]),
    "object-closed": ({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
                      [{}, {"a": 1}], [{"b": 1}, {"a": 1, "x": 2}]),
    "object-addl-schema": ({"type": "object", "additionalProperties": {"type": "integer"}},
                           [{}, {"x": 1, "y": 2}], [{"x": "1"}]),
    "array": ({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
              [[1], [1, 2, 3]], [[], [1, 2, 3, 4], ["a"]]),
    "prefixItems": ({"prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": False},
                    [[], ["a"], ["a", True]], [[1], ["a", True, 3]]),
    "anyOf": ({"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 5}]},
              ["ab", 5, 100], ["abc", 4]),
    "oneOf-disjoint": ({"oneOf": [{"type": "string"}, {"type": "object", "properties": {"k": {"const": 1}},
                                                      "required": ["k"]}]},
                       ["s", {"k": 1}], [1, {"k": 2}]),
    "allOf": ({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                         {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]},
              [{"a": 1, "b": True}], [{"a": 1}, {"b": True}, {"a": 1, "b": 2}]),
    "allOf-additionalProperties": ({"allOf": [{"properties": {"foo": {}}}], "additionalProperties": {"type": "boolean"}},
                                   [{"bar": True}, {"foo": True}], [{"foo": 1, "bar": True}]),
    "ref-defs": ({"$defs": {"pos": {"type": "integer", "minimum": 1}}, "type": "array", "items": {"$ref": "#/$defs/pos"}},
                 [[1, 2]], [[0]]),
    "nullable-idiom": ({"anyOf": [{"type": "string"}, {"type": "null"}]}, ["x", None], [1]),
    "number-bounds": ({"type": "number", "minimum": 0.5, "exclusiveMaximum": 2.25},
                      [0.5, 1, 2.2, 2.2499, 1.75], [0.49, 2.25, 3, -1, "RAW:0.50", "RAW:1.0", "RAW:1e0"]),
    "number-negative-bounds": ({"type": "number", "exclusiveMinimum": -1.5, "maximum": -0.25},
                               [-1.25, -1, -0.25, -0.3], [-1.5, -2, 0, -0.2]),
    "multipleOf-decimal": ({"type": "number", "multipleOf": 0.01}, [1, 0.25, -3.1], [0.001, 1.234]),
    "multipleOf-integer": ({"type": "integer", "multipleOf": 0.5}, [3, -2], [1.5]),
    "not-type": ({"not": {"type": ["string", "null"]}}, [1, 1.5, True, [], {}], ["a", None]),
    "not-enum": ({"type": "string", "not": {"enum": ["a", "b"]}}, ["c", "ab", ""], ["a", "b", 1]),
    "not-integer": ({"type": "number", "not": {"type": "integer"}}, [1.5, -0.25], [1, 0, 2.0]),
    "not-range": ({"type": "integer", "not": {"minimum": 3, "maximum": 5}}, [2, 6, -1], [3, 4, 5]),
    "if-then-else": ({"if": {"properties": {"kind": {"const": "circle"}}, "required": ["kind"]},
                      "then": {"required": ["r"]}, "else": {"required": ["w"]}},
                     [{"kind": "circle", "r": 1}, {"kind": "square", "w": 2}, {"w": 1}, 3],
                     [{"kind": "circle"}, {"kind": "square", "r": 1}, {}]),
    "oneOf-overlapping": ({"oneOf": [{"type": "integer"}, {"minimum": 2}]}, [1, 2.5, -3, "x"], [3, 2, 1.5]),
    "anyOf-overlapping-objects": ({"anyOf": [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
        {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}]},
        [{"a": 1}, {"b": "x"}, {"a": 1, "b": "x"}, {"a": "x", "b": "y"}], [{}, {"a": "x"}, {"b": 1}]),
    "dependentRequired": ({"dependentRequired": {"card": ["billing"]}},
                          [{}, {"billing": 1}, {"card": 1, "billing": 2}, "x"], [{"card": 1}]),
    "dependentSchemas": ({"properties": {"a": {"type": "integer"}}, "dependentSchemas": {"a": {"required": ["b"]}}},
                         [{"b": 1}, {"a": 1, "b": 2}, {}], [{"a": 1}, {"a": "x", "b": 1}]),
    "contains": ({"type": "array", "contains": {"type": "integer", "minimum": 5}, "minContains": 2, "maxContains": 3},
                 [[5, 6], [1, 5, "x", 7, 8]], [[5], [5, 6, 7, 8], [], [1, 2, 3]]),
    "contains-with-items": ({"items": {"type": "integer"}, "contains": {"const": 0}}, [[0], [1, 0, 2]],
                            [[1], [], [0, "a"]]),
    "min-max-properties": ({"type": "object", "minProperties": 1, "maxProperties": 2,
                            "properties": {"a": {"type": "integer"}}},
                           [{"a": 1}, {"x": 1}, {"a": 1, "b": 2}], [{}, {"a": 1, "b": 2, "c": 3}, {"a": "1"}]),
    "propertyNames": ({"type": "object", "propertyNames": {"maxLength": 3}}, [{"abc": 1}, {}], [{"abcd": 1}]),
    "propertyNames-enum": ({"type": "object", "properties": {"a": {}}, "propertyNames": {"enum": ["a", "b"]}},
                           [{"a": 1, "b": 2}, {"b": 1}], [{"c": 1}]),
    "unevaluatedProperties": ({"type": "object", "properties": {"a": {}},
                               "allOf": [{"properties": {"b": {}}}], "unevaluatedProperties": False},
                              [{"a": 1, "b": 2}, {}], [{"c": 1}, {"a": 1, "c": 2}]),
    "unevaluated-if-then-else": ({"type": "object", "properties": {"kind": {"enum": ["a", "b"]}}, "required": ["kind"],
                                  "if": {"properties": {"kind": {"const": "a"}}},
                                  "then": {"properties": {"x": {"type": "integer"}}, "required": ["x"]},
                                  "else": {"properties": {"y": {"type": "string"}}},
                                  "unevaluatedProperties": False},
                                 [{"kind": "a", "x": 1}, {"kind": "b"}, {"kind": "b", "y": "s"}],
                                 [{"kind": "a"}, {"kind": "a", "x": 1, "y": "s"}, {"kind": "b", "x": 1},
                                  {"kind": "a", "x": 1, "z": 0}]),
    "unevaluated-after-not": ({"allOf": [{"not": {"properties": {"a": {"const": 1}}, "required": ["a"]}}],
                               "unevaluatedProperties": False}, [{}], [3, {"a": 2}, {"a": 1}, {"b": 1}]),
    "unevaluatedItems": ({"prefixItems": [{"type": "string"}], "unevaluatedItems": {"type": "integer"}},
                         [["a", 1, 2], []], [["a", "b"], [1]]),
    "ref-anchor-and-id": ({"$id": "https://example.com/root", "type": "array", "items": {"$ref": "#pos"},
                           "$defs": {"pos": {"$anchor": "pos", "type": "integer", "minimum": 1}}},
                          [[1, 2], []], [[0], ["a"]]),
    "ref-relative-id": ({"$id": "https://example.com/schemas/root", "properties": {"n": {"$ref": "num"}},
                         "$defs": {"n": {"$id": "num", "type": "integer"}}}, [{"n": 1}], [{"n": "x"}]),
    "oneOf-patterns": ({"oneOf": [{"type": "string", "pattern": "a"}, {"type": "string", "pattern": "b"}]},
                       ["a", "xb", "aa"], ["ab", "ba", "c", ""]),
    "pattern-and-length": ({"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 3},
                           ["ab", "abc"], ["a", "abcd", "AB", "a1"]),
    "format-and-pattern": ({"type": "string", "format": "date", "pattern": "^2024"},
                           ["2024-01-31"], ["RAW:\"2023-01-31\"", "RAW:\"2024-13-01\""]),
    "not-pattern": ({"type": "string", "not": {"pattern": "^x"}}, ["ax", ""], ["x", "xyz"]),
    "not-enum-and-length": ({"type": "string", "maxLength": 2, "not": {"enum": ["ab"]}}, ["a", "ba", ""],
                            ["ab", "abc"]),
    "patternProperties": ({"type": "object", "properties": {"id": {"type": "integer"}},
                           "patternProperties": {"^x-": {"type": "string"}, "y$": {"type": "boolean"}},
                           "additionalProperties": False},
                          [{"id": 1, "x-a": "s"}, {"ay": True}, {"x-z": "q"}, {}],
                          [{"x-a": 1}, {"b": 1}, {"ay": 1}, {"x-y": "s"}, {"id": "1"}]),
    "propertyNames-beside-properties": ({"type": "object", "properties": {"a": {}, "toolong": {}},
                                         "propertyNames": {"maxLength": 3}}, [{"a": 1, "bcd": 2}, {}],
                                        [{"toolong": 1}, {"abcd": 1}]),
    "format-ipv6": ({"type": "string", "format": "ipv6"}, ["::1", "2001:db8::ff00:42:8329"], ["RAW:\"1:2\""]),
    "format-hostname": ({"type": "string", "format": "hostname"}, ["example.com", "a-b.c"], ["RAW:\"-a.com\""]),
    "format-duration": ({"type": "string", "format": "duration"}, ["P3D", "PT1H30M", "P1W"], ["RAW:\"P\"", "RAW:\"3D\""]),
    "format-json-pointer": ({"type": "string", "format": "json-pointer"}, ["", "/a/~1b"], ["RAW:\"a\"", "RAW:\"/~2\""]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_keyword(tok, name):
    schema, valid, invalid = CASES[name]
    check(tok, schema, valid, invalid)


def test_recursive_tree(tok):
    schema = {
        "$defs": {"node": {"type": "object", "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            "required": ["value"], "additionalProperties": False}},
        "$ref": "#/$defs/node",
    }
    check(tok, schema,
          [{"value": 1}, {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}, {"value": 4}]}],
          [{"value": 1, "children": [{"value": "x"}]}, {"children": []}, {"value": 1, "children": [{}]}])


def test_root_recursion(tok):
    schema = {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$ref": "#"}]}}
    check(tok, schema, [[], [1, [2, [3]], []]], [[1, ["a"]], 1])


def test_strict_closes_objects(tok):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    check(tok, schema, [{"a": 1}], ["RAW:{\"a\":1,\"b\":2}"], strict=True)


def test_flexible_whitespace(tok):
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}}
    check(tok, schema, [{"a": [1, 2]}, {}], ["RAW:{" + " " * 30 + "\"a\":[]}"], whitespace="flexible")


def test_unsupported_keyword_names_keyword_and_path():
    # a unique array where a plain one may stand too: the matcher could not tell which one it reads
    schema = {"type": "object", "properties": {"a": {"anyOf": [
        {"type": "array", "items": {"type": "object"}, "uniqueItems": True}, {"type": "array"}]}}}
    with pytest.raises(UnsupportedSchemaError) as e:
        Grammar.from_json_schema(schema)
    assert e.value.keyword == "uniqueItems"
    assert e.value.path == "#/properties/a/anyOf/0/uniqueItems"
    assert "uniqueItems" in str(e.value) and "#/properties/a" in str(e.value)
    with pytest.raises(UnsupportedSchemaError) as e:  # overlapping branches whose negation is not regular
        json_schema_to_lark({"oneOf": [{"type": "array", "uniqueItems": True}, {"type": "array", "maxItems": 2}]})
    assert e.value.keyword == "oneOf" and "uniqueItems" in str(e.value)
    with pytest.raises(UnsupportedSchemaError) as e:
        json_schema_to_lark({"type": "number", "multipleOf": 1.5})
    assert e.value.keyword == "multipleOf" and "1.5" in str(e.value)
    with pytest.raises(UnsupportedSchemaError) as e:
        json_schema_to_lark({"$ref": "https://example.com/other.json"})
    assert e.value.keyword == "$ref" and "other.json" in str(e.value)
    with pytest.raises(UnsupportedSchemaError) as e:
        json_schema_to_lark({"format": "regex", "type": "string"})
    assert e.value.keyword == "format"
    with pytest.raises(UnsupportedSchemaError) as e:
        json_schema_to_lark({"type": "string", "pattern": "(a)\\1"})
    assert e.value.keyword == "pattern"


def test_annotations_ignored_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        json_schema_to_lark({"title": "t", "description": "d", "examples": [1], "default": 1,
                             "$comment": "c", "deprecated": False, "type": "integer"})


def test_lenient_warns_and_ignores(tok):
    schema = {"type": "string", "format": "regex"}
    with pytest.warns(UserWarning, match="format"):
        Grammar.from_json_schema(schema, lenient=True)


def test_unknown_format_is_an_annotation_with_a_warning(tok):
    with pytest.warns(UserWarning, match="unknown format 'shoe-size'"):
        g = Grammar.from_json_schema({"type": "string", "format": "shoe-size"})
    assert g.parser.parse('"any"') is not None


def test_unsatisfiable_schema_is_refused():
    for schema in (False, {"allOf": [{"type": "string"}, {"type": "integer"}]},
                   {"type": "integer", "minimum": 5, "maximum": 1}, {"not": {}}):
        with pytest.raises(UnsupportedSchemaError, match="unsatisfiable"):
            json_schema_to_lark(schema)


def test_pydantic_model(tok):
    pydantic = pytest.importorskip("pydantic")
    from typing import Literal, Optional

    class Item(pydantic.BaseModel):
        name: str
        qty: int = pydantic.Field(ge=0, le=100)
        tags: list[str] = []

    class Order(pydantic.BaseModel):
        id: int
        kind: Literal["a", "b"]
        items: list[Item]
        note: Optional[str] = None
        parent: Optional["Order"] = None

    schema = Order.model_json_schema()
    ok = Order(id=1, kind="a", items=[Item(name="x", qty=3)], parent=Order(id=2, kind="b", items=[]))
    check(tok, schema, [ok.model_dump(mode="json")],
          [{"id": 1, "kind": "c", "items": []}, {"id": 1, "kind": "a", "items": [{"name": "x", "qty": 101}]}])


def test_compile_bound_gives_a_clear_error_not_a_hang():
    import time

    from grammars.json_schema import SchemaTooComplexError

    # 14 overlapping branches: "exactly one" multiplies 14 negations (far past the bounds)
    branches = [{"type": "object", "properties": {f"k{i}": {"type": "integer", "minimum": i}}, "required": [f"k{i}"]}
                for i in range(14)]
    t0 = time.monotonic()
    with pytest.raises(SchemaTooComplexError, match="too complex") as e:
        json_schema_to_lark({"oneOf": branches})
    assert time.monotonic() - t0 < 60
    assert e.value.path.startswith("#")
    json_schema_to_lark({"type": "integer"})  # the process is still usable


def test_references_into_other_documents_through_resources(tok):
    point = {"$id": "https://example.com/point.json", "type": "object", "required": ["x"],
             "properties": {"x": {"$ref": "#/$defs/coord"}}, "$defs": {"coord": {"type": "integer", "minimum": 0}}}
    schema = {"type": "array", "items": {"$ref": "https://example.com/point.json"}}
    with pytest.raises(UnsupportedSchemaError, match="not fetched"):
        json_schema_to_lark(schema)
    resources = {"https://example.com/point.json": point}
    g = Grammar.from_json_schema(schema, resources=resources)
    assert g.parser.parse('[{"x":3}]') is not None
    with pytest.raises(Exception):
        g.parser.parse('[{"x":-3}]')
