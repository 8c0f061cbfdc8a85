"""JSON values as the grammars spell them: canonical text, equality and type as JSON Schema sees
them, JSON pointers.

    >>> _spell({"a": 1.0, "b": [0.5]})
    '{"a":1,"b":[0.5]}'
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

from .errors import _Never


def _ptr(path: str, *parts) -> str:
    for p in parts:
        path += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return path


def _canon(x) -> str:
    return json.dumps(x, separators=(",", ":"), ensure_ascii=False)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _lit(value) -> str:
    """Regex for the canonical spelling of a JSON value (:func:`_spell`); raises _Never for a
    non-finite number (no JSON spelling)."""
    if not _finite(value):
        raise _Never()
    return re.escape(_spell(value))


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _type_of(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v == int(v) else "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _json_equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _spell(v, comma: str = ",", colon: str = ":") -> str:
    """JSON (compact by default) with every number in its canonical spelling (integral values as
    integers, others as plain decimals without exponent or trailing zeros)."""
    if isinstance(v, dict):
        return "{" + comma.join(_canon(k) + colon + _spell(x, comma, colon) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + comma.join(_spell(x, comma, colon) for x in v) + "]"
    if isinstance(v, float) and math.isfinite(v):
        d = Decimal(repr(v))
        if d == d.to_integral_value():
            return str(int(d))
        return format(d.normalize(), "f")
    return _canon(v)


def _like(const, v):
    """``v`` with dict keys in the order of the equal constant ``const`` (numbers as the constant)."""
    if isinstance(const, dict):
        return {k: _like(const[k], v[k]) for k in const}
    if isinstance(const, list):
        return [_like(c, x) for c, x in zip(const, v)]
    return v
