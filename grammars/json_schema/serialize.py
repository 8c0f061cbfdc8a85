"""Instances written as the grammar for a schema expects them (keys in ``properties`` order...).
"""

from __future__ import annotations

import json
import re

from .errors import UnsupportedSchemaError, _Never
from .jsonvalues import _json_equal, _like, _spell
from .keywords import _public, _scope_unevaluated
from .translate import _Translator


def serialize_instance(schema: dict | bool | str, instance, *, whitespace: str | None = None,
                       resources: dict | None = None) -> str:
    """``instance`` written as the grammar for ``schema`` expects it: compact separators, object keys
    in the schema's ``properties`` order (then the other keys in the instance's order), constants
    in the order their schema lists them.

    Example:
        >>> s = {"properties": {"b": {}, "a": {}}}
        >>> serialize_instance(s, {"a": 1, "c": [1, {"z": None}], "b": "x"})
        '{"b":"x","a":1,"c":[1,{"z":null}]}'
    """
    if isinstance(schema, str):
        schema = json.loads(schema)
    tr = _Translator(schema, False, True, None, resources=resources, warn_ignored=False)
    root = schema = tr.root
    try:
        import jsonschema
        root_validator = jsonschema.Draft202012Validator(root)
        valid = lambda s, v: root_validator.evolve(schema=s).is_valid(v)  # noqa: E731
    except ImportError:  # pragma: no cover
        valid = lambda s, v: True  # noqa: E731

    def order(s, v, depth=0):
        """The instance with dicts re-ordered as the grammar writes them (a JSON-ready structure)."""
        if depth > 100 or not isinstance(s, (dict, bool)):
            return v
        try:
            s = tr.flatten(s, "#")
        except (_Never, UnsupportedSchemaError):
            return v
        if "$ref" in s:  # a recursive reference
            try:
                target = tr.resolve_ref(s["$ref"], "#")
            except UnsupportedSchemaError:
                return v
            rest = {k: x for k, x in s.items() if k != "$ref"}
            return order({"allOf": [target, rest]} if rest else target, v, depth + 1)
        for const in ([s["const"]] if "const" in s else []) + list(s.get("enum", [])):
            if _json_equal(const, v):
                return _like(const, v)
        for comb in ("anyOf", "oneOf"):
            if comb in s:
                rest = {k: x for k, x in s.items() if k != comb}
                for sub in s[comb]:
                    try:
                        merged = tr.merge(rest, tr.flatten(sub, "#"), "#") if rest else sub
                    except (_Never, UnsupportedSchemaError):
                        continue
                    if valid(_public(merged), v):
                        return order(merged, v, depth + 1)
                return v
        s = _scope_unevaluated(s)
        if isinstance(v, dict):
            props = s.get("properties", {})
            names = list(props) + [r for r in s.get("required", []) if r not in props]
            out = {k: order(_member_schema(s, k), v[k], depth + 1) for k in names if k in v}
            for k in v:
                if k not in out:
                    out[k] = order(_member_schema(s, k), v[k], depth + 1)
            return out
        if isinstance(v, list):
            prefix = s.get("prefixItems", [])
            items = s.get("items", True)
            return [order(prefix[i] if i < len(prefix) else items, x, depth + 1) for i, x in enumerate(v)]
        return v

    return _spell(order(schema, instance), ", " if whitespace == "flexible" else ",",
                  ": " if whitespace == "flexible" else ":")


def _member_schema(schema: dict, key: str):
    """The schema the value of ``key`` meets in an object of ``schema``: its ``properties`` entry
    and the ``patternProperties`` it matches, or ``additionalProperties`` when neither."""
    parts = [schema["properties"][key]] if key in schema.get("properties", {}) else []
    for pattern, sub in schema.get("patternProperties", {}).items():
        try:
            if re.search(pattern, key):
                parts.append(sub)
        except re.error:
            continue
    if not parts:
        return schema.get("additionalProperties", True)
    return parts[0] if len(parts) == 1 else {"allOf": parts}
