"""`Grammar`: a Lark grammar, checked by lark's own front end, ready to compile.

lark parses the grammar file and runs its LALR(1) analysis (:mod:`grammars.parsing.lark_build`,
which maps its errors to ours, with line, column, rule and terminal); a grammar that LALR(1)
cannot take is kept as written (its ``parser.parse`` is lark's Earley parser) and compiled
through the general path. This module also finds the bundled grammars by name.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lark.lexer import PatternStr

from .errors import GrammarError, RegexSyntaxError
from .gcpause import paused_gc
from .lark_literals import lark_regex_literal
from .parsing.indentation import Indentation
from .parsing.lark_build import LarkGrammar, build_lark
from .frontends.lookahead import drop_past_token_lookaheads
from .frontends.regex_pattern import greedy_pattern
from .special_tokens import MARK

LEXING_MODES = ("priority", "all")
_SPECIAL_TOKEN_TEXT = re.compile(r"<\|[^|<>\s]+\|>")


class SpecialTokenTextWarning(UserWarning):
    """A grammar literal spells what looks like a special token (``"<|im_end|>"``) as text: a model
    would have to spell it with ordinary tokens, since tokenizer adapters never let a grammar
    produce special tokens."""


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
    parser: LarkGrammar = field(compare=False, repr=False, default=None)  # type: ignore[assignment]
    conflicts: tuple[str, ...] = field(compare=False, default=())
    indenter: Indentation | None = None
    # "priority": where several terminals the parser can take match the same text, the first in
    # lark's priority order is the one read (lark's contextual lexer); "all": each is a reading
    # the parser follows (the general path forks), as lark's Earley parser does. JSON Schema
    # grammars use "all": their terminals carry no priority, and one reading would lose instances.
    lexing: str = "priority"

    @classmethod
    def from_lark(cls, text: str, *, start: str = "start", source: str = "<string>",
                  indenter: "str | Indentation | Any" = None, lexing: str = "priority") -> "Grammar":
        """Parse Lark grammar ``text``; ``start`` names the start rule. A grammar that is not
        LALR(1) is kept as written (``conflicts`` lists the first LALR(1) conflicts, ``parser.parse``
        is lark's Earley parser) and compiled through the general path.

        Example:
            >>> Grammar.from_lark('start: e\\ne: e "+" e | "1"').conflicts
            ('shift/reduce on PLUS (rule e)',)

        ``indenter`` turns on Python-style indentation with lark's ``Indenter`` semantics for the
        grammar's ``%declare``'d indent/dedent terminals: ``"python"`` (lark's ``PythonIndenter``:
        ``_NEWLINE``, ``_INDENT``, ``_DEDENT``, brackets ``LPAR LSQB LBRACE``, tab = 8 columns),
        an :class:`~grammars.parsing.indentation.Indentation`, or a lark ``Indenter``. Such a
        grammar runs on the general path.

        ``lexing`` (``"priority"`` or ``"all"``) says which terminals a text that several of
        them match is read as (see the ``lexing`` field).
        """
        if lexing not in LEXING_MODES:
            raise GrammarError(f"lexing must be one of {', '.join(map(repr, LEXING_MODES))} (got {lexing!r})")
        indentation = Indentation.named(indenter)
        with paused_gc():
            parser, conflicts = build_lark(text, start, source)
            drop_past_token_lookaheads(parser)  # python.lark's STRING and DEC_NUMBER
        _check_declared_terminals(parser, source, indentation)
        _warn_special_token_text(parser, source)
        return cls(text=text, start=start, source=source, parser=parser, conflicts=conflicts,
                   indenter=indentation, lexing=lexing)

    @classmethod
    def from_llguidance(cls, text: str, *, start: str = "start", source: str = "<string>",
                        indenter: "str | Indentation | Any" = None) -> "Grammar":
        """A grammar in the Lark dialect of llguidance / OpenAI custom tools: ``{m,n}`` repetition
        on rules and terminals, inline ``%json { schema }`` and special tokens by name or id
        (``<|im_end|>``, ``<[128010]>``), lazy rules (``[lazy]``, ``[suffix=...]``) and ``%regex``
        substrings besides plain Lark; the dialect's other constructs are refused by name (see
        :mod:`grammars.frontends.llguidance`).
        ``indenter`` as :meth:`from_lark`.

        Example:
            >>> Grammar.from_llguidance('start: "ab"{2,3}').parser.parse("ababab") is not None
            True
        """
        from .frontends.llguidance import lark_from_llguidance

        return cls.from_lark(lark_from_llguidance(text), start=start, source=source, indenter=indenter)

    @property
    def is_lalr(self) -> bool:
        """Whether the grammar is LALR(1) (the fast path); otherwise the general path runs it."""
        return not self.conflicts

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
        # Inside a Lark terminal a lazy repeat stops at its first possible end (as lark lexes);
        # under re.fullmatch it does not, so the pattern is given to the lexer greedy.
        literal = lark_regex_literal(greedy_pattern(pattern))
        return cls.from_lark(f"start: REGEX\nREGEX: {literal}\n", source="<regex>")

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
        from .json_schema import compile_json_schema

        with paused_gc():
            return compile_json_schema(schema, lambda text: cls.from_lark(text, source="<json schema>", lexing="all"),
                                       **options)

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
        from .structural_tag import lark_from_structural_tag

        return cls.from_lark(lark_from_structural_tag(obj, cls), source="<structural tag>")

    @classmethod
    def from_text(cls, text: str, *, dialect: str = "lark", start: str = "start",
                  source: str = "<string>", indenter: Any = None) -> "Grammar":
        """Grammar text of ``dialect`` (one of ``GRAMMAR_DIALECTS``): ``"lark"`` as
        :meth:`from_lark`, ``"llguidance"`` as :meth:`from_llguidance`. Text that begins with
        ``%llguidance {}`` is the llguidance dialect whatever ``dialect`` says (as llguidance
        reads it; plain Lark has no such line), so a server's ``grammar`` field can carry it."""
        _check_dialect(dialect)
        if _LLGUIDANCE_HEADER.match(text):
            dialect = "llguidance"
        read = cls.from_llguidance if dialect == "llguidance" else cls.from_lark
        return read(text, start=start, source=source, indenter=indenter)

    @classmethod
    def from_file(cls, path: str | Path, *, start: str = "start", indenter: Any = None,
                  dialect: str = "lark") -> "Grammar":
        """Read a ``.lark`` file (``indenter`` as :meth:`from_lark`); ``dialect="llguidance"``
        reads it as :meth:`from_llguidance` does."""
        path = Path(path)
        return cls.from_text(path.read_text(encoding="utf-8"), dialect=dialect, start=start,
                             source=str(path), indenter=indenter)

    @classmethod
    def bundled(cls, name: str) -> "Grammar":
        """One of the grammars shipped with the library, by name (see :func:`bundled_grammar_names`)."""
        return cls.from_lark(bundled_grammar_text(name), source=f"<bundled {name}>")

    @classmethod
    def load(cls, spec: str, *, start: str = "start", indenter: Any = None,
             dialect: str = "lark") -> "Grammar":
        """A bundled grammar name, a path to a ``.lark`` file, or Lark text, in that order;
        ``indenter="python"`` for Python-style indentation (see :meth:`from_lark`), e.g.
        ``Grammar.load(path_to_python_lark, start="file_input", indenter="python")``;
        ``dialect="llguidance"`` reads a file or text in the llguidance / OpenAI dialect
        (:meth:`from_llguidance`)."""
        _check_dialect(dialect)  # before a bundled name or a file hides the mistake
        if re.fullmatch(r"[A-Za-z0-9_\-]+", spec) and spec in bundled_grammar_names():
            return cls.bundled(spec)
        if "\n" not in spec and (spec.endswith(".lark") or Path(spec).is_file()):
            return cls.from_file(spec, start=start, indenter=indenter, dialect=dialect)
        if ":" not in spec:
            raise GrammarError(
                f"{spec!r} is neither a bundled grammar ({', '.join(bundled_grammar_names())}), "
                "a .lark file, nor Lark grammar text"
            )
        return cls.from_text(spec, dialect=dialect, start=start, indenter=indenter)

    @property
    def digest(self) -> str:
        """A hash of the grammar text and start rule (cache key)."""
        extra = f"\x00{self.indenter!r}" if self.indenter else ""
        extra += f"\x00lexing={self.lexing}" if self.lexing != "priority" else ""
        return hashlib.sha256(f"{self.start}\x00{self.text}{extra}".encode()).hexdigest()[:32]


GRAMMAR_DIALECTS = ("lark", "llguidance")
_LLGUIDANCE_HEADER = re.compile(r"\s*(?://[^\n]*\n\s*)*%llguidance\b")


def _check_dialect(dialect: str) -> None:
    if dialect not in GRAMMAR_DIALECTS:
        raise ValueError(f"unknown grammar dialect {dialect!r}: expected one of {', '.join(GRAMMAR_DIALECTS)}")


def _check_declared_terminals(parser: LarkGrammar, source: str, indentation: Indentation | None) -> None:
    """A terminal that rules use but only ``%declare`` defines would be a dead end unless the
    indenter produces it, so refuse it by name; an indenter needs its newline terminal."""
    defined = {t.name for t in parser.terminals}
    declared = sorted({s.name for r in parser.rules for s in r.expansion if s.is_term} - defined)
    produced = {indentation.indent, indentation.dedent} if indentation else set()
    if indentation and indentation.newline not in defined:
        raise GrammarError(f"{source}: the indenter's newline terminal {indentation.newline} is not "
                           "defined by the grammar")
    missing = [name for name in declared if name not in produced]
    if missing:
        raise GrammarError(
            f"{source}: terminal(s) {', '.join(missing)} are only %declare'd: no pattern and no "
            "post-lexer produces them, so no text could ever contain them. Define them, or for "
            "Python-style _INDENT/_DEDENT load the grammar with an indenter"
        )


def _warn_special_token_text(parser: LarkGrammar, source: str) -> None:
    for t in parser.terminals:
        if (isinstance(t.pattern, PatternStr) and _SPECIAL_TOKEN_TEXT.search(t.pattern.value)
                and not t.pattern.value.startswith(MARK)):  # not a special token's own literal
            warnings.warn(
                f"{source}: terminal {t.name} spells {t.pattern.value!r} as text; a tokenizer's "
                "special token of that name is never produced by a grammar, so the model would "
                "have to spell it with ordinary tokens",
                SpecialTokenTextWarning, stacklevel=3)
