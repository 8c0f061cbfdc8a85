"""What the translator knows about keywords: bounds, annotation and internal keywords, constraint
groups for negation, scoping of ``unevaluated*``, and the schema-level helpers built on them.

    >>> _both(True, {"type": "string"})
    {'type': 'string'}
"""

from __future__ import annotations

import json
import re

from .jsonvalues import _canon
from .patterns import CH

MAX_WS = 20
MAX_REPEAT = 256  # bound on expanded minItems/maxItems/minLength/maxLength
MAX_UNIQUE_WORK = 6000  # moves of a uniqueItems automaton (n values: n moves from each set of up to maxItems)
MAX_KEY_CLASSES = 64  # sets of patternProperties that some key matches together, per object
MAX_WORK = 100_000  # bound on schema merges, rules and branches made while translating one schema
TIMEOUT_S = 10.0  # bound on the translation's wall time

ANNOTATIONS = {
    "title", "description", "examples", "default", "$comment", "$schema", "$id", "deprecated",
    "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$anchor",
    "$vocabulary",
}

# keywords the translator writes itself (negations): the non-integral numbers, strings outside a
# set, strings (not) matching content regexes, objects with at least n additional properties,
# contains counted from item n on, objects with a member whose value fails additionalProperties or
# patternProperties
INTERNAL = {"$nonintegral", "$notIn", "$notMatching", "$matching", "$keysOutside", "$containsFrom", "$negOnly",
            "$alsoPattern", "$someMember"}
# References the translator makes up (to a negated recursive reference, to the conjunction of two);
# each names what it stands for, so nothing beside it keeps that (see not_ref, and_ref)
NOT_REF = "#/$negation"  # + the negated reference without its "#"
AND_REF = "#/$conjunction"  # + the JSON list of the two references
_WS_MARK, _BODY_MARK = "\x01", "\x02"  # in guarded token regexes: where whitespace goes, where the body starts
# formats that JSON Schema 2020-12 defines (FORMATS holds those asserted exactly)
KNOWN_FORMATS = {"date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
                 "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
                 "json-pointer", "relative-json-pointer", "regex"}
TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")

NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
STRING = f'"{CH}*"'


_GROUPS = {
    "string": [("minLength",), ("maxLength",), ("pattern",), ("format",), ("$notIn",), ("$notMatching",),
               ("$matching",), ("$alsoPattern",)],
    "number": [("minimum",), ("maximum",), ("exclusiveMinimum",), ("exclusiveMaximum",), ("multipleOf",),
               ("$nonintegral",)],
    "object": [("required",), ("properties",), ("patternProperties",),
               ("additionalProperties", "properties", "patternProperties"), ("minProperties",), ("maxProperties",),
               ("propertyNames",), ("$keysOutside",), ("$someMember",)],
    "array": [("prefixItems", "items"), ("minItems",), ("maxItems",),
              ("contains", "minContains", "maxContains", "$containsFrom"), ("uniqueItems",)],
}
_GROUPS["integer"] = _GROUPS["number"]
_GROUPS["null"] = _GROUPS["boolean"] = []


def _constraint_groups(ty: str, s: dict) -> list[dict]:
    """The keywords of ``s`` that constrain values of type ``ty``, grouped by what must be negated
    together (the first key of a group is the one negated; the others give its context)."""
    out = []
    for keys in _GROUPS[ty]:
        if keys[0] in s or (keys[0] == "prefixItems" and "items" in s):
            out.append({k: s[k] for k in (("items", "prefixItems") if keys[0] == "prefixItems" else keys) if k in s})
    return out


_UNEVALUATED = {"unevaluatedProperties", "unevaluatedItems"}
_EVALUATING = {"properties", "additionalProperties", "prefixItems", "items", "contains", "patternProperties"}


def _mentions(schema, keys: set) -> bool:
    """True when ``schema`` uses one of ``keys`` anywhere (outside constants)."""
    if isinstance(schema, dict):
        return any(k in keys or (k not in ("enum", "const") and _mentions(v, keys)) for k, v in schema.items())
    if isinstance(schema, list):
        return any(_mentions(v, keys) for v in schema)
    return False


def _scope_unevaluated(schema: dict) -> dict:
    """``unevaluatedProperties``/``unevaluatedItems`` of a schema with no applicator left (all
    merged in): the properties/items it has not evaluated are exactly those that
    ``additionalProperties``/``items`` would see."""
    if "unevaluatedProperties" in schema:
        schema = dict(schema)
        u = schema.pop("unevaluatedProperties")
        if "additionalProperties" not in schema:  # keys matching patternProperties are evaluated too
            schema["additionalProperties"] = u
            if schema.get("$negOnly") and u is not True and u != {}:  # named by a negation only
                props = dict(schema.get("properties", {}))
                for name in schema["$negOnly"]:
                    if name in props:
                        props[name] = _both(props[name], u)
                schema["properties"] = props
    if "unevaluatedItems" in schema:
        schema = dict(schema)
        u = schema.pop("unevaluatedItems")
        if "items" not in schema:
            if "contains" in schema and u is not True and u != {}:
                schema["unevaluatedItems"] = u  # items matched by contains are evaluated: not exact
            else:
                schema["items"] = u
    return schema


def _quote_safe(regex: str) -> str:
    """Lark reads ``\\"`` in a regex literal as ``"``, eating a backslash: spell such quotes ``["]``."""
    out, i, in_class = [], 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            pair = regex[i:i + 2]
            out.append('["]' if pair == '\\"' and not in_class else pair)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            if regex[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            if regex[i + 1:i + 2] == "]":
                out.append("]")
                i += 1
        elif c == "]" and in_class:
            in_class = False
            out.append(c)
        elif c == '"' and not in_class and out and out[-1].endswith("\\"):
            out.append('["]')
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _both(x, y):
    """The schema for ``x`` and ``y`` (allOf), without the wrapper when one is trivial."""
    if x is True or x == {}:
        return y
    if y is True or y == {}:
        return x
    return {"allOf": [x, y]}


def _types(x) -> set | None:
    """The JSON types a schema's top level (and its allOf) allows; None when not stated."""
    if x is False:
        return set()
    if not isinstance(x, dict):
        return None
    out = None
    if "type" in x:
        t = {x["type"]} if isinstance(x["type"], str) else set(x["type"])
        out = t | ({"integer"} if "number" in t else set())
    for sub in x.get("allOf", []):
        st = _types(sub)
        if st is not None:
            out = st if out is None else out & st  # both hold integer wherever they hold number
    return out


def _may_overlap(x, y) -> bool:
    """False when the two schemas provably share no value (their stated types differ)."""
    a, b = _types(x), _types(y)
    return a is None or b is None or bool(a & b)


def _alts(s):
    return s["anyOf"] if set(s) == {"anyOf"} else [s]


def _internal_ok(schema: dict, v, validator) -> bool:
    """Whether ``v`` meets the translator's own keywords at the top of ``schema`` that
    :func:`_public` cannot write in JSON Schema (patterns over JSON spellings, counted contains)."""
    if isinstance(v, str) and (any(re.fullmatch(r, _canon(v)[1:-1]) for r in schema.get("$notMatching", []))
                               or not all(re.fullmatch(r, _canon(v)[1:-1]) for r in schema.get("$matching", []))):
        return False
    if isinstance(v, list) and "$containsFrom" in schema and "contains" in schema:
        sub = validator.evolve(schema=_public(schema["contains"]))
        n = sum(1 for x in v[schema["$containsFrom"]:] if sub.is_valid(x))
        hi = schema.get("maxContains")
        return n >= schema.get("minContains", 1) and (hi is None or n <= hi)
    return True


def not_ref(ref: str) -> str:
    """The reference to the negation of the recursive reference ``ref`` (``not not R`` is ``R``)."""
    return "#" + ref[len(NOT_REF):] if is_made_up(ref, NOT_REF) else NOT_REF + ref[1:]


def and_ref(a: str, b: str) -> str:
    """The reference to ``allOf [a, b]`` of two recursive references (the same for ``b, a``)."""
    return AND_REF + json.dumps(sorted((a, b)))


def is_made_up(ref: str, kind: str | None = None) -> bool:
    """Whether ``ref`` is a reference the translator made up (of ``kind``, NOT_REF or AND_REF)."""
    return any(ref.startswith(k) and ref[len(k):len(k) + 1] in ("", "/", "[")
               for k in ((kind,) if kind else (NOT_REF, AND_REF)))


def _public_ref(ref: str) -> dict:
    """A ``$ref`` as JSON Schema can validate it: made-up references as ``not``/``allOf``."""
    if is_made_up(ref, NOT_REF):
        return {"not": _public_ref(not_ref(ref))}
    if is_made_up(ref, AND_REF):
        return {"allOf": [_public_ref(r) for r in json.loads(ref[len(AND_REF):])]}
    return {"$ref": ref}


def _public(schema):
    """``schema`` with the translator's own keywords written in JSON Schema (for validation)."""
    if isinstance(schema, list):
        return [_public(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: (v if k in ("enum", "const") else _public(v)) for k, v in schema.items() if k not in INTERNAL}
    extra = []
    if isinstance(out.get("$ref"), str) and is_made_up(out["$ref"]):
        extra.append(_public_ref(out.pop("$ref")))
    if schema.get("$nonintegral"):
        extra.append({"not": {"type": "integer"}})
    extra += [{"pattern": p} for p in schema.get("$alsoPattern", [])]
    if "$notIn" in schema:
        extra.append({"not": {"enum": list(schema["$notIn"])}})
    for names in schema.get("$keysOutside", []):
        extra.append({"not": {"propertyNames": {"enum": list(names)}}} if names else {"minProperties": 1})
    extra += [{"not": _public(some["not"])} for some in schema.get("$someMember", [])]
    if "$containsFrom" in schema:  # not expressible: validate without the contains count
        for k in ("contains", "minContains", "maxContains"):
            out.pop(k, None)
    if extra:
        out["allOf"] = list(out.get("allOf", [])) + extra
    return out
