"""The structural-tag JSON (xgrammar's / vLLM's ``structural_tag``) read into small format nodes.

Accepted as xgrammar and vLLM write it:

* ``{"type": "structural_tag", "format": FORMAT}`` (the current form), or ``FORMAT`` alone;
* the legacy form ``{"type": "structural_tag", "structures": [{"begin", "schema", "end"}],
  "triggers": [...]}`` (vLLM's ``StructuralTagResponseFormat``), read as ``triggered_tags``;
* a JSON string of either.

``FORMAT`` is one of ``const_string``, ``json_schema`` (style ``json``), ``regex``, ``grammar``
(Lark text), ``any_text`` (``excludes``), ``sequence``, ``or``, ``tag`` (``begin``/``end`` a string,
a list of ends, or ``{"type": "token", "token": "<tool_call>"}``), ``triggered_tags``,
``tags_with_separator``, ``optional``, ``plus``, ``star`` and ``repeat``. Anything else raises
:class:`StructuralTagError` naming the path (``format.tags[1].content``) and the problem.

Example:
    >>> read_structural_tag({"type": "const_string", "value": "hi"})
    Const(value='hi')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Union

from ..errors import GrammarError


class StructuralTagError(GrammarError):
    """A structural tag that cannot be read or compiled; the message names the path in the JSON."""


@dataclass(frozen=True)
class Const:
    value: str


@dataclass(frozen=True)
class JsonSchema:
    schema: Any
    path: str


@dataclass(frozen=True)
class Regex:
    pattern: str
    path: str


@dataclass(frozen=True)
class LarkText:
    text: str
    path: str


@dataclass(frozen=True)
class AnyText:
    excludes: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class Sequence:
    elements: tuple["Format", ...]


@dataclass(frozen=True)
class Or:
    elements: tuple["Format", ...]


@dataclass(frozen=True)
class Repeat:
    content: "Format"
    min: int
    max: int  # -1: unbounded
    path: str


@dataclass(frozen=True)
class Tag:
    begin: str
    content: "Format"
    ends: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class TriggeredTags:
    triggers: tuple[str, ...]
    tags: tuple[Tag, ...]
    at_least_one: bool
    stop_after_first: bool
    excludes: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class TagsWithSeparator:
    tags: tuple[Tag, ...]
    separator: str
    at_least_one: bool
    stop_after_first: bool
    path: str


Format = Union[Const, JsonSchema, Regex, LarkText, AnyText, Sequence, Or, Repeat, Tag, TriggeredTags,
               TagsWithSeparator]

MAX_REPEAT = 1000


def read_structural_tag(obj: Any) -> Format:
    """The format tree of a structural tag (a dict or its JSON text)."""
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as e:
            raise StructuralTagError(f"structural tag: not valid JSON: {e.msg} at line {e.lineno} "
                                     f"column {e.colno}") from None
    if not isinstance(obj, dict):
        raise StructuralTagError(f"structural tag: expected a JSON object, got {type(obj).__name__}")
    if obj.get("type") == "structural_tag":
        if "format" in obj:
            return _format(obj["format"], "format")
        if "structures" in obj:
            return _legacy(obj)
        raise StructuralTagError("structural tag: needs 'format' (or the legacy 'structures' and 'triggers')")
    return _format(obj, "format")


def _legacy(obj: dict) -> TriggeredTags:
    structures = _list(obj, "structures", "")
    tags = []
    for i, s in enumerate(structures):
        path = f"structures[{i}]"
        item = _object(s, path)
        schema = item.get("schema", item.get("parameters"))
        if schema is None:
            raise StructuralTagError(f"{path}: needs 'schema'")
        if isinstance(schema, str):
            schema = json.loads(schema)
        tags.append(Tag(_string(item, "begin", path), JsonSchema(schema, f"{path}.schema"),
                        (_string(item, "end", path),), path))
    triggers = tuple(_strings(_list(obj, "triggers", ""), "triggers"))
    return TriggeredTags(triggers, tuple(tags), False, False, (), "")


def _format(node: Any, path: str) -> Format:
    node = _object(node, path)
    kind = node.get("type")
    reader = _READERS.get(kind)
    if reader is None:
        known = ", ".join(sorted(_READERS))
        raise StructuralTagError(f"{path}: unsupported format type {kind!r} (supported: {known})")
    return reader(node, path)


def _const(node, path):
    return Const(_string(node, "value", path))


def _json_schema(node, path):
    style = node.get("style", "json")
    if style != "json":
        raise StructuralTagError(f"{path}.style: only style 'json' is supported, not {style!r}")
    if "json_schema" not in node:
        raise StructuralTagError(f"{path}: needs 'json_schema'")
    schema = node["json_schema"]
    if isinstance(schema, str):
        schema = json.loads(schema)
    return JsonSchema(schema, f"{path}.json_schema")


def _regex(node, path):
    return Regex(_string(node, "pattern", path), f"{path}.pattern")


def _grammar(node, path):
    return LarkText(_string(node, "grammar", path), f"{path}.grammar")


def _any_text(node, path):
    for key in ("max_tokens", "max_chars"):
        if node.get(key) is not None:
            raise StructuralTagError(f"{path}.{key}: not supported (the length of free text is not bounded here)")
    return AnyText(tuple(_strings(node.get("excludes", []), f"{path}.excludes")), path)


def _sequence(node, path):
    items = _list(node, "elements", path)
    return Sequence(tuple(_format(e, f"{path}.elements[{i}]") for i, e in enumerate(items)))


def _or(node, path):
    items = _list(node, "elements", path)
    if not items:
        raise StructuralTagError(f"{path}.elements: 'or' needs at least one element")
    return Or(tuple(_format(e, f"{path}.elements[{i}]") for i, e in enumerate(items)))


def _repeat_of(lo: int, hi: int):
    def read(node, path):
        return Repeat(_format(node.get("content"), f"{path}.content"), lo, hi, path)
    return read


def _repeat(node, path):
    lo, hi = node.get("min"), node.get("max")
    if not isinstance(lo, int) or not isinstance(hi, int) or lo < 0 or (hi != -1 and hi < lo):
        raise StructuralTagError(f"{path}: 'repeat' needs integers 0 <= min <= max (max -1: unbounded), "
                                 f"got min={lo!r} max={hi!r}")
    if max(lo, hi) > MAX_REPEAT:
        raise StructuralTagError(f"{path}: repeat bounds above {MAX_REPEAT} are not supported")
    return Repeat(_format(node.get("content"), f"{path}.content"), lo, hi, path)


def _token_text(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("type") == "token":
        token = value.get("token")
        if isinstance(token, str) and token:
            return token  # a token named by its text: the same bytes (the processor allows the special token)
        raise StructuralTagError(f"{path}.token: give the token's text (a string); token ids need the "
                                 "tokenizer, which a structural tag is compiled without")
    raise StructuralTagError(f"{path}: expected a string or a token format, got {value!r}")


def _tag(node, path) -> Tag:
    node = _object(node, path)
    if node.get("type", "tag") != "tag":
        raise StructuralTagError(f"{path}: expected a tag (type 'tag'), got type {node.get('type')!r}")
    begin = _token_text(node.get("begin"), f"{path}.begin")
    end = node.get("end")
    ends = tuple(_strings(end, f"{path}.end")) if isinstance(end, list) else (_token_text(end, f"{path}.end"),)
    if not ends:
        raise StructuralTagError(f"{path}.end: needs at least one end string")
    if "content" not in node:
        raise StructuralTagError(f"{path}: needs 'content'")
    return Tag(begin, _format(node["content"], f"{path}.content"), tuple(dict.fromkeys(ends)), path)


def _tags(node, path) -> tuple[Tag, ...]:
    items = _list(node, "tags", path)
    if not items:
        raise StructuralTagError(f"{path}.tags: needs at least one tag")
    return tuple(_tag(t, f"{path}.tags[{i}]") for i, t in enumerate(items))


def _triggered_tags(node, path):
    triggers = tuple(dict.fromkeys(_strings(_list(node, "triggers", path), f"{path}.triggers")))
    if not triggers or not all(triggers):
        raise StructuralTagError(f"{path}.triggers: needs at least one non-empty trigger")
    return TriggeredTags(triggers, _tags(node, path), _flag(node, "at_least_one", path),
                         _flag(node, "stop_after_first", path),
                         tuple(_strings(node.get("excludes", []), f"{path}.excludes")), path)


def _tags_with_separator(node, path):
    return TagsWithSeparator(_tags(node, path), _string(node, "separator", path, empty=True),
                             _flag(node, "at_least_one", path), _flag(node, "stop_after_first", path), path)


_READERS = {
    "const_string": _const,
    "json_schema": _json_schema,
    "regex": _regex,
    "grammar": _grammar,
    "any_text": _any_text,
    "sequence": _sequence,
    "or": _or,
    "tag": _tag,
    "triggered_tags": _triggered_tags,
    "tags_with_separator": _tags_with_separator,
    "optional": _repeat_of(0, 1),
    "plus": _repeat_of(1, -1),
    "star": _repeat_of(0, -1),
    "repeat": _repeat,
}


def _object(node: Any, path: str) -> dict:
    if not isinstance(node, dict):
        raise StructuralTagError(f"{path}: expected a JSON object, got {node!r}")
    return node


def _list(node: dict, key: str, path: str) -> list:
    value = node.get(key)
    if not isinstance(value, list):
        raise StructuralTagError(f"{path + '.' if path else ''}{key}: expected a list, got {value!r}")
    return value


def _string(node: dict, key: str, path: str, *, empty: bool = True) -> str:
    value = node.get(key)
    if not isinstance(value, str) or (not empty and not value):
        raise StructuralTagError(f"{path}.{key}: expected a string, got {value!r}")
    return value


def _strings(values: Any, path: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise StructuralTagError(f"{path}: expected a list of strings, got {values!r}")
    return values


def _flag(node: dict, key: str, path: str) -> bool:
    value = node.get(key, False)
    if not isinstance(value, bool):
        raise StructuralTagError(f"{path}.{key}: expected true or false, got {value!r}")
    return value
