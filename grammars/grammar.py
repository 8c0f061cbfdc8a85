"""`Grammar`: a Lark grammar, checked by lark's own LALR(1) builder, ready to compile.

Lark parses the grammar file and builds the LALR(1) tables; this module only maps lark's errors to
ours (with line, column, rule and terminal) and finds the bundled grammar files by name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import lark
from lark import lexer as lark_lexer
from lark.exceptions import GrammarError as LarkGrammarError
from lark.exceptions import LarkError, UnexpectedInput

from .cache import cache_root
from .errors import (
    GrammarConflictError,
    GrammarError,
    GrammarSyntaxError,
    RegexSyntaxError,
    UndefinedSymbolError,
)

_AT_LINE = re.compile(r"at line (\d+) column (\d+)")
_UNDEFINED = re.compile(r"(?:Rule|Terminal|Using an undefined rule:?|Terminals? used but not defined:?)\W*'?(\w+)'?")


def bundled_grammar_names() -> list[str]:
    """Names of the grammars shipped with the library (``json``, ``sql``, ...)."""
    folder = resources.files("grammars") / "data"
    return sorted(p.name[: -len(".lark")] for p in folder.iterdir() if p.name.endswith(".lark"))


def bundled_grammar_text(name: str) -> str:
    """The Lark text of a bundled grammar; the error lists the known names."""
    path = resources.files("grammars") / "data" / f"{name}.lark"
    if not path.is_file():
        raise GrammarError(
            f"unknown grammar {name!r}; the bundled grammars are: {', '.join(bundled_grammar_names())}"
        )
    return path.read_text(encoding="utf-8")


def bundled_grammar_description(name: str) -> str:
    """The first comment line of a bundled grammar: what it accepts."""
    for line in bundled_grammar_text(name).splitlines():
        if line.startswith("//"):
            return line.lstrip("/ ").strip()
    return ""


@dataclass(frozen=True)
class Grammar:
    """A context-free grammar in Lark syntax, validated as LALR(1).

    Build one with :meth:`from_lark`, :meth:`from_file` or :meth:`bundled`; compile it for a
    vocabulary with :func:`grammars.compile_grammar`.

    Example:
        >>> g = Grammar.from_lark('start: "yes" | "no"')
        >>> g.start, sorted(t.name for t in g.parser.terminals)
        ('start', ['NO', 'YES'])
    """

    text: str
    start: str = "start"
    source: str = "<string>"
    parser: lark.Lark = field(compare=False, repr=False, default=None)  # type: ignore[assignment]

    @classmethod
    def from_lark(cls, text: str, *, start: str = "start", source: str = "<string>") -> "Grammar":
        """Parse Lark grammar ``text``; ``start`` names the start rule."""
        return cls(text=text, start=start, source=source, parser=_build_lark(text, start, source))

    @classmethod
    def from_regex(cls, pattern: str) -> "Grammar":
        """A one-terminal grammar whose language is what ``re.fullmatch(pattern, text)`` accepts.
        :class:`RegexSyntaxError` (with the offset) for a pattern that does not compile or that
        matches the empty string (a Lark terminal cannot).

        Example:
            >>> g = Grammar.from_regex("[0-9]+(px|em)")
            >>> g.parser.parse("42px") is not None
            True
        """
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise RegexSyntaxError(f"not a valid regular expression: {e.msg}", e.pos) from None
        if compiled.fullmatch("") is not None:
            raise RegexSyntaxError(
                f"the pattern {pattern!r} matches the empty string, which a Lark terminal cannot; "
                "make it match at least one character (e.g. a+ rather than a*)")
        return cls.from_lark(f"start: REGEX\nREGEX: {lark_regex_literal(pattern)}\n", source="<regex>")

    @classmethod
    def from_choices(cls, choices: "Sequence[str]") -> "Grammar":
        """A grammar whose language is exactly the given strings.

        Example:
            >>> g = Grammar.from_choices(["yes", "no", "maybe so"])
            >>> g.parser.parse("maybe so") is not None
            True
        """
        options = list(dict.fromkeys(choices))
        if not options or not all(isinstance(c, str) and c for c in options):
            raise GrammarError(f"choices must be non-empty strings (got {list(choices)!r})")
        alternatives = " | ".join(json.dumps(c) for c in options)
        return cls.from_lark(f"start: {alternatives}\n", source="<choices>")

    @classmethod
    def from_json_schema(cls, schema: "dict | bool | str", **options: Any) -> "Grammar":
        """The JSON texts valid under a JSON Schema (draft 2020-12), in one canonical spelling; see
        :mod:`grammars.json_schema` for ``options`` (``strict``, ``lenient``, ``whitespace``) and
        what is supported. An unsupported keyword raises ``UnsupportedSchemaError`` naming it and
        its path.

        Example:
            >>> g = Grammar.from_json_schema({"type": "object", "properties": {"a": {"type": "integer"}},
            ...                               "required": ["a"], "additionalProperties": False})
            >>> g.parser.parse('{"a":42}') is not None
            True
        """
        from .json_schema import grammar_from_json_schema

        return grammar_from_json_schema(schema, **options)

    @classmethod
    def from_pydantic(cls, model: Any, **options: Any) -> "Grammar":
        """The JSON texts of a Pydantic model's instances, through its JSON Schema
        (``model.model_json_schema()``); ``options`` as :meth:`from_json_schema`."""
        schema = getattr(model, "model_json_schema", None)
        if schema is None:
            raise GrammarError(f"{model!r} is not a Pydantic (v2) model class: no model_json_schema()")
        return cls.from_json_schema(schema(), **options)

    @classmethod
    def from_structural_tag(cls, obj: Any) -> "Grammar":
        """Free text with tagged, constrained parts (tool calls, reasoning), from xgrammar's /
        vLLM's ``structural_tag`` JSON (a dict or its text); see :mod:`grammars.structural_tag`.

        Example:
            >>> g = Grammar.from_structural_tag({"type": "structural_tag", "format": {
            ...     "type": "triggered_tags", "triggers": ["<f="], "tags": [{"begin": "<f=now>",
            ...     "content": {"type": "const_string", "value": "()"}, "end": "</f>"}]}})
            >>> from grammars import text_matches
            >>> text_matches(g, "It is <f=now>()</f>.")
            True
        """
        from .structural_tag import grammar_from_structural_tag

        return grammar_from_structural_tag(obj)

    @classmethod
    def from_file(cls, path: str | Path, *, start: str = "start") -> "Grammar":
        """Read a ``.lark`` file."""
        path = Path(path)
        return cls.from_lark(path.read_text(encoding="utf-8"), start=start, source=str(path))

    @classmethod
    def bundled(cls, name: str) -> "Grammar":
        """One of the grammars shipped with the library, by name (see :func:`bundled_grammar_names`)."""
        return cls.from_lark(bundled_grammar_text(name), source=f"<bundled {name}>")

    @classmethod
    def load(cls, spec: str, *, start: str = "start") -> "Grammar":
        """A bundled grammar name, a path to a ``.lark`` file, or Lark text, in that order."""
        if re.fullmatch(r"[A-Za-z0-9_\-]+", spec) and spec in bundled_grammar_names():
            return cls.bundled(spec)
        if "\n" not in spec and (spec.endswith(".lark") or Path(spec).is_file()):
            return cls.from_file(spec, start=start)
        if ":" not in spec:
            raise GrammarError(
                f"{spec!r} is neither a bundled grammar ({', '.join(bundled_grammar_names())}), "
                "a .lark file, nor Lark grammar text"
            )
        return cls.from_lark(spec, start=start)

    @property
    def digest(self) -> str:
        """A hash of the grammar text and start rule (cache key)."""
        return hashlib.sha256(f"{self.start}\x00{self.text}".encode()).hexdigest()[:32]


_ESCAPE_WIDTH = {"x": 2, "u": 4, "U": 8}
_HEX = set("0123456789abcdefABCDEF")


def lark_regex_literal(pattern: str) -> str:
    """``pattern`` as a Lark regexp literal ``/.../`` that matches exactly what ``re`` matches.

    Lark ends the literal at an unescaped ``/`` and turns ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``
    escapes into the raw character before the regex is compiled, so ``\\x2e`` would become the
    wildcard ``.``: such escapes of ASCII punctuation are written as ``\\.``, ``\\/``... instead.

    Example:
        >>> lark_regex_literal(r"a/b\\/c\\x2e")
        '/a\\\\/b\\\\/c\\\\./'
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            width = _ESCAPE_WIDTH.get(nxt)
            digits = pattern[i + 2 : i + 2 + width] if width else ""
            if width and len(digits) == width and set(digits) <= _HEX:
                ch = chr(int(digits, 16))
                if ch.isascii() and ch.isprintable() and not ch.isalnum():
                    out.append("\\" + ch)  # punctuation and space: escaped, never a metacharacter
                else:
                    out.append(pattern[i : i + 2 + width])
                i += 2 + width
                continue
            out.append(c + nxt)
            i += 2
            continue
        out.append({"/": "\\/", "\n": "\\n", "\r": "\\r"}.get(c, c))
        i += 1
    return "/" + "".join(out) + "/"


_LARK_OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=False)


def _build_lark(text: str, start: str, source: str) -> lark.Lark:
    """lark's LALR(1) parser for ``text``; lark's own table cache lives in our cache folder, so a
    second process loads the tables in about a millisecond instead of building them.

    lark's terminal-collision warnings are switched off while it builds: our lexer resolves
    overlapping terminals itself, and lark's check (through interegular, when installed) takes
    seconds to minutes on terminals with large Unicode classes (a JSON Schema ``idn-email``)."""
    saved = lark_lexer.has_interegular
    lark_lexer.has_interegular = False
    try:
        return _build_lark_checked(text, start, source)
    finally:
        lark_lexer.has_interegular = saved


def _build_lark_checked(text: str, start: str, source: str) -> lark.Lark:
    key = hashlib.sha256(f"{lark.__version__}\x00{start}\x00{text}".encode()).hexdigest()[:32]
    cache_file = cache_root() / "lark" / f"{key}.lark"
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        return lark.Lark(text, start=start, cache=str(cache_file), **_LARK_OPTIONS)
    except (OSError, EOFError, ValueError, AttributeError):  # unusable cache: build without it
        pass
    except LarkError:
        pass  # reported below, without the cache in the way
    try:
        return lark.Lark(text, start=start, **_LARK_OPTIONS)
    except UnexpectedInput as e:  # the grammar file itself did not parse
        raise GrammarSyntaxError(f"{source}: {_first_line(e)}", e.line, e.column) from None
    except LarkGrammarError as e:
        msg = str(e)
        at = _AT_LINE.search(msg)
        if at:
            raise GrammarSyntaxError(f"{source}: {_first_line(e)}", int(at[1]), int(at[2])) from None
        if "collision" in msg.lower() or "conflict" in msg.lower():
            raise GrammarConflictError(
                f"{source}: the grammar is not LALR(1): {msg.strip()}\n"
                "Make the alternatives distinguishable by their next terminal (merge the rules that "
                "derive the same text, or inline one with `?rule`)."
            ) from None
        if "not defined" in msg or "undefined" in msg.lower():
            m = _UNDEFINED.search(msg)
            raise UndefinedSymbolError(f"{source}: {msg.strip()}", m[1] if m else None) from None
        raise GrammarError(f"{source}: {msg.strip()}") from None
    except LarkError as e:
        raise GrammarError(f"{source}: {e}") from None


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0]
