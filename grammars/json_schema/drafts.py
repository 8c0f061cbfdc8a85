"""JSON Schema drafts: which one a schema is written in (``$schema``), and the schema rewritten
with 2020-12 keywords of the same meaning, every keyword its draft does not know dropped as an
annotation (and listed).

Per draft (``jsonschema``'s validators are the reference): draft-04's ``id`` and boolean
``exclusiveMinimum``/``exclusiveMaximum``; ``dependencies`` (array and schema forms) up to
draft-07; the array form of ``items`` with ``additionalItems`` up to 2019-09; ``$ref`` siblings
ignored up to draft-07; ``$recursiveRef`` to the root in 2019-09; keywords newer than the draft
(``const`` in draft-04, ``if`` before draft-07, ``prefixItems`` before 2020-12...) are annotations.

    >>> schema, ignored = to_2020_12({"$schema": "http://json-schema.org/draft-04/schema#",
    ...     "type": "number", "minimum": 0, "exclusiveMinimum": True, "x-unit": "m"})
    >>> schema, ignored
    ({'type': 'number', 'exclusiveMinimum': 0}, {'x-unit': '#/x-unit'})
"""

from __future__ import annotations

from .errors import UnsupportedSchemaError
from .jsonvalues import _ptr

DEFAULT = "2020-12"
_URIS = {"draft-04": "draft-04", "draft-06": "draft-06", "draft-07": "draft-07", "2019-09": "2019-09",
         "2020-12": "2020-12", "draft-03": "draft-03"}
_ORDER = ["draft-04", "draft-06", "draft-07", "2019-09", "2020-12"]

_V4 = {"$ref", "additionalItems", "additionalProperties", "allOf", "anyOf", "dependencies", "enum", "format",
       "items", "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength", "minProperties",
       "minimum", "multipleOf", "not", "oneOf", "pattern", "patternProperties", "properties", "required", "type",
       "uniqueItems", "exclusiveMinimum", "exclusiveMaximum", "id", "$schema", "definitions", "title",
       "description", "default"}
_V6 = (_V4 - {"id"}) | {"$id", "const", "contains", "propertyNames", "examples"}
_V7 = _V6 | {"if", "then", "else", "$comment", "readOnly", "writeOnly", "contentMediaType", "contentEncoding"}
_V2019 = (_V7 - {"dependencies"}) | {"$defs", "$anchor", "$recursiveRef", "$recursiveAnchor", "$vocabulary",
                                     "dependentRequired", "dependentSchemas", "unevaluatedItems",
                                     "unevaluatedProperties", "minContains", "maxContains", "deprecated",
                                     "contentSchema"}
_V2020 = (_V2019 - {"additionalItems", "$recursiveRef", "$recursiveAnchor"}) | {"prefixItems", "$dynamicRef",
                                                                                  "$dynamicAnchor"}
VOCABULARY = {"draft-04": _V4, "draft-06": _V6, "draft-07": _V7, "2019-09": _V2019, "2020-12": _V2020}
# containers of schemas that every draft's references reach into, whatever the draft calls them
_CONTAINERS = ("definitions", "$defs")
_MAPS = ("properties", "patternProperties", "dependentSchemas") + _CONTAINERS
_ONES = ("additionalProperties", "additionalItems", "contains", "not", "if", "then", "else", "propertyNames",
         "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def detect_draft(schema) -> str:
    """The draft named by the root's ``$schema`` (``draft-04`` ... ``2020-12``); 2020-12 when there
    is none or it names no draft (as ``jsonschema`` does). Draft-03 is refused.

        >>> detect_draft({"$schema": "http://json-schema.org/draft-07/schema#"})
        'draft-07'
    """
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(uri, str):
        return DEFAULT
    for mark, draft in _URIS.items():
        if mark in uri:
            if draft == "draft-03":
                raise UnsupportedSchemaError("draft-03 schemas are not supported (draft-04 and later are)",
                                             "$schema", "#/$schema")
            return draft
    return DEFAULT


def to_2020_12(schema, draft: str | None = None, *, keep_unknown: bool = False) -> tuple[dict | bool, dict[str, str]]:
    """``schema`` (of ``draft``, detected when ``None``) with 2020-12 keywords of the same meaning,
    and ``{ignored keyword: JSON pointer of its first use}`` for the keywords it drops.
    ``keep_unknown`` gives the schema as written instead (only draft-04's ``id`` renamed): the tree
    that JSON pointers in references are resolved in."""
    draft = draft or detect_draft(schema)
    ignored: dict[str, str] = {}
    out = _rewrite(schema, draft, "#", ignored, keep_unknown)
    if isinstance(out, dict):
        out.pop("$schema", None)
    return out, ignored


def _rewrite(schema, draft: str, path: str, ignored: dict, keep: bool = False):
    if not isinstance(schema, dict):
        return schema
    vocabulary = VOCABULARY[draft]
    old = _ORDER.index(draft)
    if "$ref" in schema and old <= _ORDER.index("draft-07") and not keep:  # siblings of $ref are ignored
        for k in schema:
            if k not in ("$ref", *_CONTAINERS):
                ignored.setdefault(k, _ptr(path, k))
        schema = {k: v for k, v in schema.items() if k in ("$ref", *_CONTAINERS)}
    out = {}
    for k, v in schema.items():
        if k not in vocabulary and k not in _CONTAINERS:
            ignored.setdefault(k, _ptr(path, k))
            if keep:
                out[k] = v
            continue
        here = _ptr(path, k)
        if k in _MAPS and isinstance(v, dict):
            out[k] = {name: _rewrite(sub, draft, _ptr(here, name), ignored, keep) for name, sub in v.items()}
        elif k in _ONES:
            out[k] = _rewrite(v, draft, here, ignored, keep)
        elif k in _LISTS and isinstance(v, list):
            out[k] = [_rewrite(sub, draft, _ptr(here, i), ignored, keep) for i, sub in enumerate(v)]
        elif k == "items":
            out[k] = ([_rewrite(sub, draft, _ptr(here, i), ignored, keep) for i, sub in enumerate(v)]
                      if isinstance(v, list) else _rewrite(v, draft, here, ignored, keep))
        elif k == "dependencies" and isinstance(v, dict) and not keep:
            for name, dep in v.items():
                kind = "dependentRequired" if isinstance(dep, list) else "dependentSchemas"
                out.setdefault(kind, {})[name] = dep if isinstance(dep, list) else _rewrite(
                    dep, draft, _ptr(here, name), ignored, keep)
        else:
            out[k] = v
    if "id" in out:  # draft-04's name for $id
        out["$id"] = out.pop("id")
    if keep:
        return out
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(out.get(exclusive), bool):  # draft-04: a flag on minimum/maximum
            if out.pop(exclusive) and bound in out:
                out[exclusive] = out.pop(bound)
    if isinstance(out.get("items"), list):  # the array form, before 2020-12
        out["prefixItems"] = out.pop("items")
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")
    out.pop("additionalItems", None)  # beside a single items schema it has no effect
    if "$recursiveRef" in out:
        ref = out.pop("$recursiveRef")
        if ref != "#":
            raise UnsupportedSchemaError(f"$recursiveRef {ref!r} (only '#' is supported)", "$recursiveRef",
                                         _ptr(path, "$recursiveRef"))
        out["$ref"] = "#"
    out.pop("$recursiveAnchor", None)
    return out
