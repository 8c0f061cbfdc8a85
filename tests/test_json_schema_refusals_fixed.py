"""Schemas from the real-schema corpus that used to be refused (issue 16, refusals other than
uniqueItems): overlapping ``oneOf`` branches made disjoint with few negations (branches that are
apart need none; conjuncts a branch already implies are not negated), and ``anyOf`` alternatives
that cannot meet the rest of a merged schema pruned before they multiply. Instances are walked token
by token through the SmolLM2 tokenizer and checked against ``jsonschema``."""

from __future__ import annotations

import pytest

from grammars import Grammar
from grammars.json_schema import UnsupportedSchemaError

from schema_walk import check  # tests/ is on sys.path (pytest rootdir insertion)


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()


def _closed(key: str) -> dict:
    return {"type": "object", "properties": {key: {"type": "string"}, "if": {"type": "string"}},
            "additionalProperties": False}


def test_oneof_of_many_closed_objects_sharing_a_property(tok):
    # buildkite's notify items: 7 closed objects that all take "if" (so {} and {"if": ..} match all 7)
    schema = {"oneOf": [{"type": "string", "enum": ["github_check", "github_commit_status"]}]
              + [_closed(f"k{i}") for i in range(7)]}
    check(tok, schema,
          valid=["github_check", {"k3": "x"}, {"k0": "a", "if": "b"}, {"if": "b", "k6": ""}],
          invalid=[{}, {"if": "x"}, {"k0": "a", "k1": "b"}, "other", {"k0": 1}, {"k0": "a", "z": 1}])


def test_oneof_of_required_names_beside_a_closed_object(tok):
    # prometheus' basic_auth: password and password_file mutually exclusive, one of them present
    schema = {"type": ["object", "null"], "additionalProperties": False, "required": ["username"],
              "properties": {"username": {"type": "string"}, "password": {"type": ["string", "null"]},
                             "password_file": {"type": "string"}},
              "oneOf": [{"required": ["password"]}, {"required": ["password_file"]}]}
    check(tok, schema,
          valid=[{"username": "u", "password": "p"}, {"username": "u", "password_file": "f"},
                 {"username": "u", "password": None}],
          invalid=[None, {"username": "u"}, {"username": "u", "password": "p", "password_file": "f"},
                   {"password": "p"}, {"username": "u", "password_file": 3}])


def test_oneof_of_open_objects_told_apart_by_required_names(tok):
    # tye's services: open objects told apart by the name each requires (an object with both is in two)
    shared = {"name": {"type": "string"}, "replicas": {"type": "integer"},
              "env": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}
    branches = [{"type": "object", "properties": {**shared, key: {"type": "string"}}, "required": ["name", key]}
                for key in ("executable", "image", "dockerFile", "project")]
    branches.append({"properties": {"name": {"type": "string"}, "external": {"const": True}},
                     "additionalProperties": False})
    schema = {"type": "object", "oneOf": branches}
    check(tok, schema,
          valid=[{"name": "a", "executable": "x"}, {"name": "a", "image": "i", "replicas": 2},
                 {"name": "a", "external": True}, {"external": True}, {"name": "a"},
                 {"name": "a", "project": "p", "env": [{}]}],
          invalid=[{"name": "a", "executable": "x", "image": "i"}, {"executable": "x"}, {"image": "i"},
                   {"name": "a", "image": "i", "replicas": "2"}, {"name": "a", "external": False},
                   {"name": "a", "project": "p", "env": [{"name": 1}]}])


@pytest.mark.parametrize("pattern, lo, hi, valid, invalid", [
    # OpenSearchServerless policies, Glue JWT tokens: printable ASCII up to 20480 / 8000 characters
    ("^[\\x20-\\x7E]*$", 0, 20480, ["", "a b~", "x" * 3000], ["é", "a\tb", "x" * 20481]),
    ("^\\S+$", 1, 8000, ["ab", "é" * 1500], ["", "a b", "a\nb", "x" * 8001]),
    ("^[a-z]{2,3000}$", 0, 10000, ["ab", "z" * 2999], ["a", "z" * 3001, "aB"]),
    # CloudFormation ARNs: a fixed head, then a run of one class
    ("^arn:\\S+$", 20, 1600, ["arn:" + "x" * 16, "arn:" + "é" * 1596], ["arn:" + "x" * 15, "arn:" + "x" * 1597,
                                                                       "arn:" + "x" * 15 + " ", "arx:" + "x" * 20]),
    # EMR job arguments, OpenSearch policies: a search for one character of a class, up to 10280 / 20480
    ("\\S", 1, 10280, ["a", " " * 300 + "x", " " * 2000 + "é" + "\t" * 10, "x" * 10280],
     ["", " " * 3000, "\t\n ", "x" * 10281, " " * 10279 + "xx"]),
    pytest.param("[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]+", 1, 20480, ["é", "\u0100" * 600 + "a"],
                 ["", "\u0100" * 700, "\u0100" * 20480 + "a"], marks=pytest.mark.slow),
    pytest.param("^arn:.{16,2044}$", 20, 2048, ["arn:aws:iam::123456789012", "arn:" + "a" * 2044],
                 ["arn:" + "a" * 15, "arn:" + "a" * 2045, "arn:" + "a" * 20 + "\nb", "ARN:" + "a" * 20],
                 marks=pytest.mark.slow),
])
def test_long_string_with_a_pattern_of_one_class(tok, pattern, lo, hi, valid, invalid):
    schema = {"type": "string", "pattern": pattern, "minLength": lo, "maxLength": hi}
    check(tok, schema, valid=valid, invalid=invalid)


def test_oneof_whose_branch_holds_an_overlapping_oneof(tok):
    # testenvironments: a docker branch is "dockerImage or dockerFile, not both" (a oneOf negated)
    docker = {"properties": {"type": {"enum": ["docker"]}},
              "oneOf": [{"required": ["dockerImage"], "properties": {"dockerImage": {"type": "string"}}},
                        {"required": ["dockerFile"], "properties": {"dockerFile": {"type": "string"}}}]}
    ssh = {"required": ["remoteUri"], "properties": {"type": {"enum": ["ssh", "docker"]}, "remoteUri": {"type": "string"}}}
    schema = {"type": "object", "required": ["name", "type"], "properties": {"name": {"type": "string"}},
              "oneOf": [docker, ssh]}
    check(tok, schema,
          valid=[{"name": "n", "type": "docker", "dockerImage": "i"}, {"name": "n", "type": "docker", "dockerFile": "f"},
                 {"name": "n", "type": "ssh", "remoteUri": "u"},
                 {"name": "n", "type": "docker", "dockerImage": "i", "dockerFile": "f", "remoteUri": "u"}],
          invalid=[{"name": "n", "type": "docker", "dockerImage": "i", "remoteUri": "u"},
                   {"name": "n", "type": "docker", "dockerImage": "i", "dockerFile": "f"},
                   {"name": "n", "type": "docker"}, {"name": "n", "type": "ssh"},
                   {"name": "n", "type": "docker", "dockerImage": 1}])


def test_oneof_with_a_branch_of_listed_property_names(tok):
    # swcrc's env targets: a query string, a list of them, or a map from known browser names to versions
    schema = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}},
                        {"type": "object", "propertyNames": {"enum": ["chrome", "ie", "node"]}},
                        {"type": "object", "properties": {"node": {"type": "number"}}, "required": ["node"]}]}
    check(tok, schema,
          valid=["q", ["a"], {"chrome": "1"}, {}, {"node": 1, "x": 2}, {"node": "12", "ie": 11}],
          invalid=[{"node": 1}, {"chrome": "1", "node": 2}, {"node": 2, "chrome": "1"}, {"x": 1}, 3,
                   {"node": "1", "x": 2}])


def test_oneof_that_negates_additional_properties_keeps_some_failing_member(tok):
    # not (every additional value is a string) is "some additional value is not": {"a": 1, "b": "x", "c": 2}
    # is valid (second branch only); an encoding as "every additional value is not a string" would lose it
    schema = {"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                        {"type": "object", "required": ["a"]}]}
    check(tok, schema, valid=[{"a": 1, "b": "x", "c": 2}, {"a": 1}, {"b": "x"}, {}],
          invalid=[{"a": "x"}, {"a": "x", "b": "y"}, {"b": 1}, 3])
    check(tok, {"oneOf": [{"type": "object", "additionalProperties": False}, {"type": "object", "required": ["a"]}]},
          valid=[{"a": 1}, {"a": 1, "b": "x", "c": 2}, {}], invalid=[3, {"b": 1}])


# word boundaries (ECMA: between [A-Za-z0-9_] and anything else or an end); ASCII instances, where
# Python's re (jsonschema's oracle) reads \b as ECMA does
BOUNDARY_PATTERNS = {
    "\\b(?:high|medium|low|HIGH|MEDIUM|LOW)\\b": (["high", "it is LOW.", "(medium)", "low high"],
                                               ["higher", "xlow", "Low", "", "_high"]),
    # as-code's URL pattern, with {1,16} for {1,256} (that one's search automaton is past the work bound)
    "https?:\\/\\/(www\\.)?[-a-zA-Z0-9@:%._\\+~#=]{1,16}\\.[a-zA-Z0-9()]{1,6}\\b([-a-zA-Z0-9()@:%_\\+.~#?&//=]*)":
        (["https://x.io", "see http://www.a.b/c?d=1", "http://a.b(x"], ["http://a.b_", "https://.io", "http:/a.b", "http://a.(("]),
    "^(a|-)\\b(-|b)$": (["a-", "-b"], ["ab", "--", "a"]),
}


@pytest.mark.parametrize("pattern", list(BOUNDARY_PATTERNS))
def test_pattern_with_word_boundaries(tok, pattern):
    valid, invalid = BOUNDARY_PATTERNS[pattern]
    check(tok, {"type": "string", "pattern": pattern}, valid=valid, invalid=invalid + [1])


def test_pattern_whose_lookahead_leads_one_of_several_alternatives(tok):
    # AWS::ServiceDiscovery::Service Name: the length lookahead of the first alternative holds for the
    # second ("."), so it holds for the whole pattern
    label = "([a-zA-Z0-9_][a-zA-Z0-9-_]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9])"
    pattern = f"^((?=^.{{1,127}}$)^{label}(\\.{label})*$)|(^\\.$)$"
    ok = "a" * 63 + "." + "b" * 63
    check(tok, {"type": "string", "pattern": pattern}, valid=[".", "a", "my-service.local", ok],
          invalid=["", "..", "-a", ok + "c", "a" * 64, "a..b"])


def test_negated_negation_of_a_pattern(tok):
    # geojson's crs: a not over an anyOf whose branch negates a pattern (its negation matches it again)
    schema = {"type": "string", "not": {"anyOf": [{"pattern": "^[0-9.]+$", "not": {"pattern": "^1"}}, {"const": "x"}]}}
    check(tok, schema, valid=["10.0.0.1", "a", "1", ""], invalid=["8.8.8.8", "x", "2", 1])
    check(tok, {"not": {"not": {"type": "string", "pattern": "^a"}}}, valid=["ab", "a"], invalid=["b", "", 1, None])
