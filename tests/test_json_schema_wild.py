"""Schemas as written in the wild (issue 16, second round): anchors at the ends of groups and
alternatives, leading lookaheads (in patternProperties too), two patterns in one allOf, long strings,
large maxItems, tagged-union oneOf, a recursive $ref beside other keywords, uniqueItems over listed
values or where vacuous, integer multipleOf between bounds, and refusals that name the schema path. Instances are walked token by token
through the SmolLM2 tokenizer and checked against ``jsonschema``'s validator for the draft."""

from __future__ import annotations

import json
import random
import re

import jsonschema
import pytest

from grammars import Grammar
from grammars.json_schema import UnsupportedSchemaError, json_schema_to_lark
from grammars.json_schema.patterns import pattern_parts

from schema_walk import check  # tests/ is on sys.path (pytest rootdir insertion)


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


# patterns from the corpus (CloudFormation, SchemaStore) and small variants: alphabet, a match
PATTERNS = {
    "^d-[0-9a-f]{3}$|^[0-9a-f]{2}-[0-9a-f]{2}$": ("d-0af", "d-0a1"),  # ^ factored out of the branch
    "^env-([0-9A-Za-z]{3}$)": ("env-aZ9", "env-a9Z"),  # $ inside a group
    "^$|^(Mon|Tue):([01]\\d|2[0-3])$": ("MonTue:0123", "Mon:23"),
    "(^(([a-z]|[a-z][a-z\\-]*[a-z])\\.)*([a-z]|[a-z][a-z\\-]*[a-z])$)": ("ab-.", "a-b.ab"),
    "^(?=^[a-z-]+$).{3,5}$": ("ab-Z", "ab-a"),
    "^(?!\\s*$).+$": (" \tab", " a"),
    "^(?!org\\.b)([a-z]+\\.)*[a-z]+$": ("orgb.x", "org.a"),
    "^(?![i|I][o|O])": ("iIoO|x", "xo"),
    "^(?!.*(ab|ba)).*$": ("abc", "aca"),
    "^(?!-)[-a-z]{0,3}[a-z]$": ("-ab", "a-b"),
    "(?=^a)": ("ab", "ab"),
    "(a|-)\\b(-|b)": ("ab- ", "a-"),  # word boundaries (ASCII: Python reads \\b as ECMA does)
    "\\b(?:ab|b)\\b": ("ab -", "x ab"),
}


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_pattern_parts_agree_with_search_on_random_strings(pattern):
    checks, body = pattern_parts(pattern)
    alphabet, match = PATTERNS[pattern]
    rng = random.Random(pattern)
    seen = {True: 0, False: 0}
    for i in range(400):
        if i % 2:  # a match with a few random edits
            s = list(match)
            for _ in range(rng.randint(0, 2)):
                j = rng.randint(0, len(s))
                s[j:j + rng.randint(0, 1)] = rng.choice(alphabet) if rng.random() < 0.7 else ""
            s = "".join(s)
        else:
            s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        spelled = json.dumps(s, ensure_ascii=False)[1:-1]
        ours = bool(re.fullmatch(body, spelled)) and all(
            bool(re.fullmatch(r, spelled)) != neg for neg, r in checks)
        want = re.search(pattern, s) is not None
        assert ours == want, (pattern, s)
        seen[want] += 1
    assert seen[True] and seen[False], seen


@pytest.mark.parametrize("pattern,why", [
    ("a(?=b)", "lookaround inside"), ("(?!x)a", "unanchored"), ("a$b", "anchor in the middle"),
    ("^(?:^^a)+$", "anchor in the middle"), ("^(?=a)x|^b", "several alternatives"), ("\\b\\bx", "another boundary"),
])
def test_untranslatable_patterns_name_the_feature(pattern, why):
    with pytest.raises(UnsupportedSchemaError, match=why) as e:
        json_schema_to_lark({"type": "object", "properties": {"p": {"type": "string", "pattern": pattern}}})
    assert e.value.path == "#/properties/p/pattern"


def test_leading_lookahead_and_anchored_alternatives_token_by_token(tok):
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {
        "name": {"type": "string", "pattern": "^(?!-)[-a-z0-9]{0,5}[a-z0-9]$"},
        "id": {"type": "string", "pattern": "^d-[0-9a-f]{4}$|^[0-9a-f]{2}-[0-9a-f]{2}$"},
        "policy": {"type": "string", "pattern": "^(?!\\s*$).+$", "maxLength": 20}}}
    check(tok, schema,
          [{"name": "ab-c"}, {"name": "a"}, {"id": "d-00af"}, {"id": "0a-ff"}, {"policy": " x "}],
          [{"name": "-ab"}, {"name": "ab-"}, {"id": "d-00a"}, {"id": "x0a-ff"}, {"policy": "   "}, {"policy": ""}])


def test_two_patterns_in_one_allof_both_hold(tok):
    # schemastore/bundleconfig: outputFileName must end in .js and match another pattern
    schema = {"type": "string", "allOf": [{"pattern": "\\.js$"}, {"pattern": "^out/"}]}
    check(tok, schema, ["out/a.js", "out/.js"], ["out/a.css", "in/a.js", ""])
    # and negated: exactly one of the two patterns
    schema = {"type": "string", "not": {"allOf": [{"pattern": "\\.js$"}, {"pattern": "^out/"}]}}
    check(tok, schema, ["out/a.css", "in/a.js", ""], ["out/a.js"])


def test_a_token_too_large_is_refused_naming_the_schema_path():
    # the issue: an UnsupportedRegexError naming an internal terminal (T6) instead of the path
    schema = {"type": "object", "properties": {"note": {"type": "string", "pattern": "^(a|b)*a(a|b){15}$"}}}
    with pytest.raises(UnsupportedSchemaError) as e:
        Grammar.from_json_schema(schema)
    assert e.value.path == "#/properties/note", str(e.value)
    assert "#/properties/note" in str(e.value) and not re.search(r"\bT\d+\b", str(e.value))


def test_long_plain_strings_count_chunks_instead_of_unrolling(tok):
    # CloudFormation: maxLength 10000..1000000 on descriptions and policy bodies (was refused above 4096)
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {
        "Body": {"type": "string", "minLength": 300, "maxLength": 10000},
        "Note": {"anyOf": [{"type": "string", "maxLength": 32767}, {"type": "integer"}]}}}
    lark = json_schema_to_lark(schema)
    assert len(lark) < 20000  # rules per 256-character chunk, not states per character
    check(tok, schema,
          [{"Body": "x" * 300}, {"Body": "ab" * 2500}, {"Body": "é\"\n" * 3333 + "z"}, {"Note": 7},
           {"Note": "y" * 32767}, {"Note": ""}],
          [{"Body": "x" * 299}, {"Body": "x" * 10001}, {"Body": "\"" * 10001}, {"Note": "y" * 32768}, {"Note": 1.5}])
    # CloudFormation Arn/BucketName: maxLength a multiple of the chunk (the last rule was left
    # undefined), with a format this draft does not know (an annotation: the chunks still apply)
    arn = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "string", "minLength": 20,
           "maxLength": 2048, "format": "AWS::S3::Bucket.Name"}
    check(tok, arn, ["x" * 20, "x" * 256, "y" * 1792 + "z" * 256], ["x" * 19, "x" * 2049, 5])
    huge = {"type": "string", "maxLength": 1000000}
    assert json_schema_to_lark(huge).count("\n") < 1100
    with pytest.raises(UnsupportedSchemaError, match="maxLength") as e:
        json_schema_to_lark({"type": "object", "properties": {"s": {"type": "string", "maxLength": 2 ** 21}}})
    assert e.value.path == "#/properties/s/maxLength"


def test_a_pattern_every_string_meets_has_no_effect(tok):
    # CloudFormation AWS::Logs::Transformer: an unanchored "[\\w#+=/:,.@-]*" (a match, empty, in
    # every string) beside maxLength 2048 was refused as a token too large to build
    schema = {"type": "string", "minLength": 1, "maxLength": 2048, "pattern": "[\\w#+=/:,.@-]*"}
    assert json_schema_to_lark(schema) == json_schema_to_lark({"type": "string", "minLength": 1, "maxLength": 2048})
    check(tok, schema, ["a", " !?", "é" * 2048, "x" * 1500 + "\n"], ["", "y" * 2049, 3])
    # anchored, or ECMA's "." (no line terminators): not every string, so the pattern stays
    for pattern, fails in [("^[a-z]*$", "A"), ("^.*$", "a\nb"), ("a|^$", "b")]:
        check(tok, {"type": "string", "pattern": pattern}, [""], [fails])
    check(tok, {"type": "string", "allOf": [{"pattern": "q?"}, {"pattern": "^a"}]}, ["a", "ab"], ["b", ""])


def test_large_max_items_counted_by_blocks(tok):
    # CloudFormation/SchemaStore: maxItems 500..10000 (was refused above 256)
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "integer"}, "maxItems": 1000},
        "b": {"type": "array", "items": [{"const": "x"}], "additionalItems": {"type": "boolean"},
              "minItems": 2, "maxItems": 300}}}
    lark = json_schema_to_lark(schema)
    assert lark.count("\n") < 200  # O(sqrt(maxItems)) rules, not one per item
    # a: 1 item, then 999 = 32 blocks of 31 and 7 more; lengths around the block ends
    check(tok, schema,
          [{"a": []}, {"a": [7]}, {"a": [1] * 32}, {"a": [1] * 993}, {"a": [1] * 994}, {"a": list(range(1000))},
           {"b": ["x", True]}, {"b": ["x"] + [False] * 299}],
          [{"a": [1] * 1001}, {"a": [1] * 999 + [1.5]}, {"b": ["x"]}, {"b": ["x"] + [True] * 300},
           {"b": ["y", True]}, {"b": ["x", True, 1]}])
    with pytest.raises(UnsupportedSchemaError, match="above the bound") as e:
        json_schema_to_lark({"type": "object", "properties": {"a": {"type": "array", "maxItems": 10 ** 6}}})
    assert e.value.path == "#/properties/a/maxItems"


def test_key_and_string_classes_that_match_nothing_are_dropped(tok):
    # schemastore/schema-pro: patternProperties ".*" leaves no key to additionalProperties; the
    # empty key class made the compile fail ("T109 would swallow ...", an internal terminal)
    schema = {"type": "object", "properties": {"headers": {"type": "object", "patternProperties": {".*": {"type": "string"}}}}}
    check(tok, schema, [{"headers": {}}, {"headers": {"a": "x", "": "y"}}], [{"headers": {"a": 1}}, {"headers": []}])
    # schemastore/bundleconfig: anyOf branches merged into two patterns no string meets (.js and .css)
    schema = {"type": "object", "properties": {"out": {"type": "string", "pattern": "\\.js$"}},
              "anyOf": [{"properties": {"out": {"pattern": "\\.css$"}}, "required": ["minify"]},
                        {"properties": {"out": {"pattern": "^out/"}}}]}
    check(tok, schema, [{"out": "out/a.js"}, {"minify": 1}, {}, {"out": "out/.js", "minify": True}],
          [{"out": "a.js"}, {"out": "out/a.css"}, {"out": "a.css", "minify": 1}, {"out": 5}])


def test_recursive_ref_beside_other_keywords_is_unfolded(tok):
    # schemastore/resjson (draft-04): anyOf [string, $ref resource] beside minProperties, where
    # resource's values are that same schema: the merged $ref is its target merged with the rest
    resjson = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
               "additionalProperties": {"minProperties": 1, "anyOf": [{"type": "string"}, {"$ref": "#/definitions/r"}]},
               "definitions": {"r": {"type": "object", "additionalProperties": {
                   "minProperties": 1, "anyOf": [{"type": "string"}, {"$ref": "#/definitions/r"}]}}}}
    check(tok, resjson, [{}, {"a": "x"}, {"a": {"b": "y"}}, {"a": {"b": {"c": "z", "d": "w"}}}],
          [{"a": {}}, {"a": {"b": {}}}, {"a": 1}, {"a": {"b": {"c": {}}}}])
    # 2020-12: the root a $ref to a tree node, with required beside it (the children need not)
    tree = {"$defs": {"n": {"type": "object", "properties": {
        "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/n"}}}}},
        "$ref": "#/$defs/n", "required": ["v"]}
    check(tok, tree, [{"v": 1}, {"v": 1, "kids": [{}, {"kids": [{"v": 2}]}]}],
          [{}, {"kids": []}, {"v": 1, "kids": [{"v": "x"}]}, {"v": 1.5}])
    # siblings inside the recursion (the same merged schema comes back: one rule, named early)
    nested = {"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n", "maxProperties": 1}}}},
              "allOf": [{"$ref": "#/$defs/n"}], "minProperties": 1}
    check(tok, nested, [{"c": {}}, {"c": {"c": {"c": {}}}}, {"c": {}, "x": 1}],
          [{}, {"c": {"c": {}, "x": 1}}, {"c": {"c": {"c": 1}}}])


def test_unique_items_over_listed_values_and_where_vacuous(tok):
    # schemastore/proxies: 9 HTTP methods (was refused past 8 values); 1 == 1.0 and true != 1 as
    # jsonschema compares them
    methods = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "uniqueItems": True,
               "minItems": 1, "items": {"enum": ["GET", "POST", "HEAD", "OPTIONS", "PUT", "TRACE", "DELETE", "PATCH", 1]}}
    check(tok, methods, [["GET"], ["PUT", "GET", 1], ["TRACE", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD", "POST", "GET", 1]],
          [[], ["GET", "GET"], ["GET", "POST", "GET"], ["get"], [1, 1.0], [True], ["RAW:[1,1]"]])
    mixed = {"type": "array", "uniqueItems": True, "items": {"enum": [1, True, False, None, 0, "a", 2, 3, 4]}}
    check(tok, mixed, [[1, True], [0, False, None], [True, False, 1, 0]], [[1, 1.0], [0, 0], [True, True]])
    # vacuous: at most one item, or prefixItems of different types and no more items (draft-07 form too)
    one = {"type": "array", "uniqueItems": True, "maxItems": 1, "items": {"type": "string"}}
    check(tok, one, [[], ["a"]], [["a", "b"], ["a", "a"], [1]])
    tuple_ = {"type": "array", "uniqueItems": True, "prefixItems": [{"type": "string"}, {"type": "integer"},
                                                                    {"type": "null"}], "items": False}
    check(tok, tuple_, [["a"], ["a", 1, None]], [["a", 1, None, 2], [1], ["a", "b"]])
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "uniqueItems": True,
              "items": [{"const": "x"}, {"const": "y"}], "additionalItems": False}
    check(tok, draft7, [["x", "y"], ["x"]], [["x", "x"], ["y", "x"], ["x", "y", "z"]])
    # free strings, overlapping prefixItems, too many values for the automaton: checked beside the
    # grammar (tests/test_json_schema_unique_items.py)
    check(tok, {"type": "object", "properties": {"t": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}}},
          [{"t": ["a", "b"]}], [{"t": ["a", "a"]}])
    check(tok, {"type": "object", "properties": {"t": {"uniqueItems": True, "prefixItems": [{"type": "string"}, {}],
                                                       "items": False}}}, [{"t": ["a", 1]}], [{"t": ["a", "a"]}])
    check(tok, {"type": "object", "properties": {"t": {"uniqueItems": True, "items": {"enum": list(range(20))}}}},
          [{"t": [19, 1, 0]}], [{"t": [19, 1, 19]}])


def test_integer_multiple_of_between_bounds_is_listed(tok):
    # schemastore/minecraft-dimension-type: min_y a multiple of 16 in [-2032, 2031] (was refused)
    schema = {"type": "object", "properties": {
        "min_y": {"type": "integer", "minimum": -2032, "maximum": 2031, "multipleOf": 16},
        "n": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 21, "multipleOf": 7}}}
    check(tok, schema, [{"min_y": -2032}, {"min_y": 0}, {"min_y": 2016}, {"n": 7}, {"n": 14}],
          [{"min_y": 2032}, {"min_y": -2048}, {"min_y": 8}, {"min_y": 1.5}, {"n": 0}, {"n": 21}, {"n": 3}])
    with pytest.raises(UnsupportedSchemaError, match="multipleOf") as e:  # too many to list
        json_schema_to_lark({"type": "object", "properties": {"k": {"type": "integer", "minimum": 0,
                                                                     "maximum": 10 ** 6, "multipleOf": 3}}})
    assert e.value.path == "#/properties/k/multipleOf"


def test_pattern_properties_with_leading_lookaheads(tok):
    # CloudFormation Tags `^(?!aws:).+$`, schemastore/pipelines `^(?!-)[-a-z0-9]{0,49}[a-z0-9]$`: a key
    # misses such a pattern when it misses the body, or meets the body and fails the lookahead
    schema = {"type": "object", "properties": {"aws:z": {"type": "integer"}},  # meets ^a only
              "patternProperties": {"^(?!aws:).+$": {"type": "string"}, "^a": {"maxLength": 2},
                                    "^(?!-)[-a-z]{0,3}[a-z]$": {"minLength": 1}},
              "additionalProperties": {"type": "integer"}}
    check(tok, schema,
          [{"x": "s"}, {"aws:x": "s"}, {"": 3}, {"ab": "xy"}, {"aws:": 5}, {"aws:z": 3}, {"a-b": "s"}, {"\n": 1}],
          [{"x": 1}, {"aws:x": "long"}, {"": "s"}, {"ab": "xyz"}, {"aws:z": "s"}, {"a-b": ""}, {"\n": "s"},
           {"-ab": "s", "b": 1}])


def test_many_pattern_properties_count_only_the_key_classes_that_exist(tok):
    # schemastore/appsettings: 8 patternProperties, pairwise disjoint, were refused as "more than 6"
    # (2**8 key classes); only 9 classes have keys, and one more where two patterns overlap
    pp = {"^WebOptimizer$": {"type": "object"}, "^webOptimizer$": {"type": "object"},
          "^(cdn|Cdn)$": {"type": "string"}, "^(pwa|PWA|Pwa)$": {"type": "boolean"},
          "^(nlog|Nlog|NLog)$": {"type": "array"}, "^(Umbraco|umbraco)$": {"type": "null"},
          "^e": {"type": "integer"}, "o$": {"maximum": 3}, "^eo$|^Pwa$": {"minimum": 1}}
    schema = {"type": "object", "patternProperties": pp, "additionalProperties": {"type": "string"}}
    check(tok, schema,
          [{"WebOptimizer": {}, "cdn": "x", "Pwa": True, "NLog": [], "umbraco": None}, {"e": 4}, {"eo": 2},
           {"bo": 3, "bx": "s", "Cdn": "y"}, {"webOptimizer": {"a": 1}, "o": "s"}],
          [{"WebOptimizer": 1}, {"cdn": 2}, {"pwa": 1}, {"e": "s"}, {"eo": 4}, {"eo": 0}, {"bo": 4},
           {"bx": 1}, {"umbraco": 0}])
    # n unanchored patterns that keys can match in every combination: refused with the path
    many = {"type": "object", "properties": {"o": {"type": "object", "patternProperties":
            {f"k{i}": {"type": "integer"} for i in range(7)}}}}
    with pytest.raises(UnsupportedSchemaError, match="more than 64 sets") as e:
        json_schema_to_lark(many)
    assert e.value.path == "#/properties/o/patternProperties"


def test_property_names_through_not_keep_the_string_branch(tok):
    # schemastore/lintstagedrc: propertyNames {"not": {"enum": [...]}} became anyOf branches per
    # JSON type and was refused ("anyOf in propertyNames"); keys meet only the string branch
    schema = {"type": "object", "propertyNames": {"not": {"enum": ["ignore", "relative"]}},
              "additionalProperties": {"type": "string"}}
    check(tok, schema, [{}, {"src/*.js": "eslint"}, {"ignores": "x", "": "y"}],
          [{"ignore": "x"}, {"a": "x", "relative": "y"}, {"a": 1}])
    check(tok, {"type": "object", "propertyNames": {"anyOf": [{"type": "null"}, {"maxLength": 2}]}},
          [{"ab": 1}, {}], [{"abc": 1}])
    check(tok, {"type": "object", "propertyNames": {"anyOf": [{"type": "integer"}]}}, [{}], [{"a": 1}])
    with pytest.raises(UnsupportedSchemaError, match="several branches") as e:
        json_schema_to_lark({"type": "object", "propertyNames": {"anyOf": [{"pattern": "^a"}, {"maxLength": 2}]}})
    assert e.value.path == "#/propertyNames"


def test_a_dynamic_anchor_defined_once_is_a_plain_anchor(tok):
    # OpenAPI 3.1's schema: {"$dynamicRef": "#meta"} to the one {"$dynamicAnchor": "meta"}; the
    # reference became a $ref, and the anchor left behind was refused as an unsupported keyword
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://x.test/oas",
              "type": "object", "properties": {"schema": {"$dynamicRef": "#meta"}, "n": {"type": "integer"}},
              "$defs": {"schema": {"$dynamicAnchor": "meta", "type": ["object", "boolean"]}}}
    check(tok, schema, [{"schema": {"a": 1}}, {"schema": True, "n": 2}, {}], [{"schema": 1}, {"schema": "s"}])
    # two resources define the anchor: which one a $dynamicRef reaches depends on the dynamic scope
    two = {"$id": "https://x.test/root", "$dynamicAnchor": "meta", "type": "object",
           "properties": {"a": {"$dynamicRef": "#meta"}},
           "$defs": {"inner": {"$id": "inner", "$dynamicAnchor": "meta", "type": "integer"}}}
    with pytest.raises(UnsupportedSchemaError, match="dynamic"):
        json_schema_to_lark(two)
