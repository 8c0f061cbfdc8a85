"""The llguidance / OpenAI Lark dialect, read as plain Lark text where the meaning is clear.

Supported:

* ``x{m,n}``, ``x{m}``, ``x{m,}`` and ``x{,n}`` repetition after a rule, a terminal, a string, a
  regex or a parenthesised group (rewritten to lark's ``x~m..n``; ``{m,}`` becomes ``x~m x*``);
* special tokens by name (``<|im_end|>``, the token whose text that is) or by id (``<[128010]>``)
  in a rule's body: the token itself, allowed there and nowhere else; text that spells the same
  characters does not match it (see :mod:`grammars.special_tokens`; the tokenizer adapter,
  ``decoding.hf.compile_for_tokenizer``, finds the token and refuses a name it does not have);
* ``%json { schema }`` in a rule's body: a non-terminal whose language is the schema's JSON texts
  (:mod:`grammars.json_schema`), with whitespace between tokens as llguidance's default (flexible,
  in runs of at most ``MAX_WS``) unless the schema's top-level ``"x-guidance"`` says
  ``"whitespace_flexible": false``; its ``"lenient"`` is honoured too, its other options are refused
  by name. The schema's rules and terminals come in under fresh names (``json1_...``,
  ``JSON1_...``).

* rule attributes ``[lazy]``, ``[suffix=...]`` and ``[capture...]`` (see
  :mod:`grammars.frontends.rule_attributes`);
* ``%regex {"substring_chunks" | "substring_words" | "substring_chars": ...}``: the substrings of
  the text at chunk boundaries (see :mod:`grammars.frontends.substring`);
* ``%llguidance {}`` (it only names the dialect).

Refused by name, with the line, rather than read as something else: ``%lark`` sections, options in
``%llguidance {...}``, other ``%regex`` objects, ``%json`` or a special token inside a terminal,
and the rule attributes ``[stop=...]``, ``[max_tokens=...]``, ``[temperature=...]``. Strings,
regexes and comments are never rewritten.

Example:
    >>> print(lark_from_llguidance('start: "a"{2,3} ("b" | c){1,} d{,2}\\nc: "c"\\nd: "d"'))
    start: "a"~2..3 ("b" | c)~1 ("b" | c)* d~0..2
    c: "c"
    d: "d"
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import GrammarError, GrammarSyntaxError
from ..lark_literals import lark_regex_literal
from ..special_tokens import special_token_literal
from .rule_attributes import rewrite_rule_attributes
from .scanning import literal_end, position, refuse
from .substring import substring_regex

_REPEAT = re.compile(r"\{\s*(\d*)\s*(,?)\s*(\d*)\s*\}")
_SECTIONS = ("%lark",)
_REGEX = re.compile(r"%regex\b\s*")
_OPTIONS = re.compile(r"%llguidance\b\s*")
_JSON = re.compile(r"%json\b\s*")
_DEFINITION = re.compile(r"^[?!]?([A-Za-z_]\w*)(?:\.-?\d+)?\s*:", re.MULTILINE)
_JSON_OPTIONS = {"whitespace_flexible", "lenient"}
_SPECIAL = re.compile(r"<\|[^|<>\s\"]+\|>|<\[\d+\]>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def lark_from_llguidance(text: str) -> str:
    """Lark text with the same language as the llguidance-dialect ``text``, or a
    :class:`GrammarSyntaxError` naming the construct that is not supported."""
    text = rewrite_rule_attributes(text)
    out: list[str] = []
    schemas: list[str] = []  # the %json sub-grammars, already renamed, and special-token terminals
    specials: dict[str, str] = {}  # special token name -> its terminal
    atom_start = -1  # where in ``out``'s joined text the last atom began (-1: no atom)
    groups: list[int] = []
    i, n = 0, len(text)
    written = 0  # characters in out

    def emit(s: str) -> None:
        nonlocal written
        out.append(s)
        written += len(s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            emit(text[i:j])
            i = j
            continue
        if c in "\"'/":  # a string or a regex (a comment was handled above)
            j = literal_end(text, i)
            atom_start = written
            emit(text[i:j])
            i = j
            continue
        m = _JSON.match(text, i)
        if m:
            name, end = _inline_json(text, i, m.end(), len(schemas) + 1, schemas)
            atom_start = written
            emit(name)
            i = end
            continue
        m = _REGEX.match(text, i)
        if m:
            pattern, i = _structured_regex(text, m.end())
            atom_start = written
            emit(pattern)
            continue
        m = _OPTIONS.match(text, i)
        if m:
            i = _grammar_options(text, i, m.end())
            continue
        for section in _SECTIONS:
            if text.startswith(section, i) and not text[i + len(section):i + len(section) + 1].isalnum():
                refuse(text, i, f"the {section} section")
        m = _SPECIAL.match(text, i)
        if m:
            _outside_terminal(text, i, f"the special token {m[0]}")
            if m[0] not in specials:
                specials[m[0]] = f"SPECIAL_TOKEN_{len(specials) + 1}"
                schemas.append(f"{specials[m[0]]}: {special_token_literal(m[0])}\n")
            atom_start = written
            emit(specials[m[0]])
            i = m.end()
            continue
        if text.startswith("<[", i) or text.startswith("<|", i):
            refuse(text, i, "special token syntax other than <|name|> and <[id]>")
        if c == "{":
            m = _REPEAT.match(text, i)
            if not m or atom_start < 0 or (not m[1] and not m[3]):
                refuse(text, i, "a '{' that is not an {m,n} repetition after an item")
            atom = "".join(out)[atom_start:]
            low = int(m[1] or 0)
            if m[2] and not m[3]:
                rewritten = f"~{low} {atom}*" if low else "*"
            else:
                high = int(m[3]) if m[2] else low
                if high < low:
                    refuse(text, i, f"the repetition {m[0]} (maximum below minimum)")
                rewritten = f"~{low}..{high}"
            emit(rewritten)
            atom_start = -1
            i = m.end()
            continue
        if c == "(":
            groups.append(written)
        elif c == ")" and groups:
            emit(c)
            atom_start = groups.pop()
            i += 1
            continue
        m = _NAME.match(text, i) if (c.isalpha() or c == "_") and (i == 0 or not text[i - 1].isalnum()) else None
        if m:
            atom_start = written
            emit(m[0])
            i = m.end()
            continue
        if not c.isspace():
            atom_start = -1
        emit(c)
        i += 1
    return "".join(out) + ("\n" if schemas and not text.endswith("\n") else "") + "".join(schemas)


def _inline_json(text: str, at: int, body: int, k: int, schemas: list[str]) -> tuple[str, int]:
    """The start rule's name of the ``k``-th ``%json {...}`` (at ``at``, its object at ``body``) and
    where the object ends; its grammar, renamed, goes on ``schemas``."""
    from ..json_schema import UnsupportedSchemaError, json_schema_to_lark

    _outside_terminal(text, at, "%json")
    schema, end = _json_object(text, body, "%json schema")
    if not isinstance(schema, (dict, bool)):
        refuse(text, body, "%json with a value that is not a schema (an object or a boolean)")
    options = schema.pop("x-guidance", {}) if isinstance(schema, dict) else {}
    unknown = sorted(set(options) - _JSON_OPTIONS) if isinstance(options, dict) else ["(not an object)"]
    if unknown:
        refuse(text, at, f"%json's x-guidance option {', '.join(unknown)}")
    try:
        sub = json_schema_to_lark(schema, lenient=bool(options.get("lenient", False)),
                                  whitespace="flexible" if options.get("whitespace_flexible", True) else None)
    except UnsupportedSchemaError as e:
        line, column = position(text, at)
        raise GrammarError(f"%json at line {line}, column {column}: {e}") from None
    schemas.append(_renamed(sub, f"json{k}_", f"JSON{k}_"))
    return f"json{k}_start", end


def _json_object(text: str, body: int, what: str) -> tuple[Any, int]:
    """The JSON value at ``body`` (of the construct ``what``) and where it ends."""
    try:
        return json.JSONDecoder().raw_decode(text, body)
    except json.JSONDecodeError as e:
        raise GrammarSyntaxError(f"the {what} is not JSON: {e.msg}", e.lineno, e.colno) from None


def _structured_regex(text: str, body: int) -> tuple[str, int]:
    """Lark text for the ``%regex { ... }`` whose object starts at ``body`` (an optional regex
    literal in parentheses: one atom), and where the object ends."""
    spec, end = _json_object(text, body, "%regex object")
    try:
        pattern = substring_regex(spec)
    except GrammarError as e:
        refuse(text, body, f"%regex {e}")
    if pattern is None:
        refuse(text, body, "%regex substring of no text (it matches only the empty string)")
    return f"(({lark_regex_literal(pattern)})?)", end


def _grammar_options(text: str, at: int, body: int) -> int:
    """Where the ``%llguidance { options }`` at ``at`` ends; only ``{}`` (it just names the
    dialect) is taken, an option is refused by name."""
    options, end = _json_object(text, body, "%llguidance options")
    if not isinstance(options, dict):
        refuse(text, body, "%llguidance with a value that is not an object")
    if options:
        refuse(text, at, f"%llguidance option {', '.join(sorted(options))}")
    return end


def _outside_terminal(text: str, at: int, what: str) -> None:
    heads = [m[1] for m in _DEFINITION.finditer(text, 0, at)]
    if heads and heads[-1].lstrip("_")[:1].isupper():
        refuse(text, at, f"{what} inside the terminal {heads[-1]} (it is a non-terminal: use it in a rule)")


def _renamed(grammar: str, rule_prefix: str, terminal_prefix: str) -> str:
    """Lark text ``grammar`` with every rule and terminal name prefixed (strings, regexes and
    comments untouched)."""
    out: list[str] = []
    i, n = 0, len(grammar)
    while i < n:
        c = grammar[i]
        if c in "\"'/":
            j = literal_end(grammar, i)
        elif (c.isalpha() or c == "_") and (i == 0 or not grammar[i - 1].isalnum()):
            j = _NAME.match(grammar, i).end()
            name = grammar[i:j]
            out.append((terminal_prefix if name.lstrip("_")[:1].isupper() else rule_prefix) + name)
            i = j
            continue
        else:
            j = i + 1
        out.append(grammar[i:j])
        i = j
    return "".join(out)
