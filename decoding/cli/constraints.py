"""Loading the constraint of a command (``--grammar``, ``--regex``, ``--json-schema``,
``--structural-tag``) and reporting grammar errors like a compiler (``FILE:LINE:COLUMN: error:``)."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PROG, CliError, caret_lines, os_message

if TYPE_CHECKING:
    from grammars import Grammar


@dataclass
class Constraint:
    """A loaded grammar and how to name it in messages."""

    grammar: Grammar
    label: str  # "json", "path/to/my.lark", "--regex"
    structural_tag: Any = None  # the structural-tag JSON the grammar was built from, if any
    special_texts: frozenset[str] = field(default_factory=frozenset)  # texts special tokens may spell

    @property
    def for_tokenizer(self) -> Any:
        """What :func:`decoding.hf.compile_for_tokenizer` takes for this constraint: the
        structural tag (so that its special tokens count) or the grammar."""
        return self.structural_tag if self.structural_tag is not None else self.grammar


def load_constraint(args: argparse.Namespace) -> Constraint | None:
    """The grammar of ``--grammar``, ``--regex``, ``--json-schema`` or ``--structural-tag`` (None
    if none); errors become CliError."""
    if getattr(args, "regex", None) is not None:
        return Constraint(regex_grammar(args.regex), "--regex")
    if getattr(args, "json_schema", None) is not None:
        return Constraint(json_schema_grammar(args.json_schema), args.json_schema)
    if getattr(args, "structural_tag", None) is not None:
        return structural_tag_constraint(args.structural_tag)
    if getattr(args, "grammar", None) is not None:
        return Constraint(load_grammar(args.grammar, start=getattr(args, "start", "start"),
                                       indenter=getattr(args, "indenter", None),
                                       dialect=getattr(args, "dialect", "lark")), args.grammar)
    return None


def json_schema_grammar(path: str) -> Grammar:
    """The grammar of a JSON Schema file; a file that is not JSON is reported with its line and
    column, an unsupported keyword with its path in the schema."""
    from grammars import Grammar, GrammarError, UnsupportedSchemaError

    schema = read_json(path, Path(path), "the schema")
    try:
        return Grammar.from_json_schema(schema)
    except UnsupportedSchemaError as e:
        raise CliError(f"{path}: error: {e}") from e
    except GrammarError as e:
        raise grammar_error(e, path, None) from e


def read_json(label: str, source: str | Path, what: str):
    """The JSON of ``source`` (a file, or the JSON text itself); an unreadable file or text that
    is not JSON becomes a CliError naming ``label`` (with the line and column)."""
    if isinstance(source, Path):
        try:
            source = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"{label}: error: cannot read {what}: {os_message(e)}") from e
    try:
        return json.loads(source)
    except json.JSONDecodeError as e:
        raise CliError(f"{label}:{e.lineno}:{e.colno}: error: not JSON: {e.msg}") from e


def structural_tag_constraint(spec: str) -> Constraint:
    """A structural tag given as JSON text (it starts with ``{``) or as a file holding it; JSON
    errors name the line and column, structural-tag errors the path in the JSON."""
    from grammars import Grammar
    from grammars.structural_tag import StructuralTagError, structural_tag_literals

    inline = spec.lstrip().startswith("{")
    label = "--structural-tag" if inline else spec
    obj = read_json(label, spec if inline else Path(spec), "the structural tag")
    try:
        grammar = Grammar.from_structural_tag(obj)
        literals = frozenset(structural_tag_literals(obj))
    except StructuralTagError as e:
        raise CliError(f"{label}: error: {e}") from e
    return Constraint(grammar, label, obj, literals)


def load_grammar(spec: str, *, start: str = "start", indenter: str | None = None,
                 dialect: str = "lark") -> Grammar:
    """A bundled grammar by name, else a ``.lark`` file (``start`` rule, ``indenter`` and
    ``dialect`` as :meth:`grammars.Grammar.from_file`); errors are reported like a compiler's."""
    from grammars import Grammar, GrammarError, bundled_grammar_names

    names = bundled_grammar_names()
    if spec in names:
        return Grammar.bundled(spec)
    path = Path(spec)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"{spec}: error: cannot read the grammar: {os_message(e)}") from e
        try:
            return Grammar.from_text(text, dialect=dialect, source=spec, start=start, indenter=indenter)
        except GrammarError as e:
            raise grammar_error(e, spec, text) from e
    if path.exists():
        raise CliError(f"{spec}: error: not a file (give a .lark file or a bundled grammar name)")
    if spec.endswith(".lark") or "/" in spec or os.sep in spec or "." in spec:
        raise CliError(f"{spec}: error: no such file")
    raise unknown_grammar(spec, names, "no bundled grammar and no file of that name",
                           "(or give the path of a .lark file)")


def unknown_grammar(spec: str, names: list[str], why: str, tail: str = "") -> CliError:
    close = difflib.get_close_matches(spec, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return CliError(f"{PROG}: error: unknown grammar {spec!r}: {why}; "
                    f"{hint}the bundled grammars are: {', '.join(names)} {tail}".rstrip())


def regex_grammar(pattern: str) -> Grammar:
    """``start: /PATTERN/``: a one-terminal Lark grammar whose language is the regex's."""
    from grammars import Grammar, GrammarError, RegexSyntaxError

    try:
        return Grammar.from_regex(pattern)
    except RegexSyntaxError as e:
        if e.position is None:
            raise CliError(f"--regex: error: {e}") from e
        raise CliError(f"--regex:1:{e.position + 1}: error: {e}"
                       f"{caret_lines(pattern, e.position + 1)}") from e
    except GrammarError as e:
        raise grammar_error(e, "--regex", None) from e




_LOCATION_SUFFIX = re.compile(r",?\s*at line \d+,? column \d+\.?(?:\s*in <string>:?)?\s*$")
_TOKEN_REPR = re.compile(r"Token\('\w+', ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\)")


def grammar_error(error: Exception, source: str, text: str | None) -> CliError:
    """A grammar error as ``SOURCE:LINE:COLUMN: error: message`` (plus the line and a caret)."""
    message = str(error)
    line = getattr(error, "line", None)
    column = getattr(error, "column", None)
    message = re.sub(r"^line \d+, column \d+: ", "", message)
    for prefix in (f"{source}: ", f"<bundled {source}>: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    message = _TOKEN_REPR.sub(lambda m: m[1], message)
    first, _, rest = message.partition("\n")
    first = _LOCATION_SUFFIX.sub("", first.strip()) or type(error).__name__
    first = re.sub(r"^Unexpected (token|input)", r"unexpected \1", first).replace(
        "unexpected token ", "unexpected ")
    symbol = getattr(error, "symbol", None)
    if line is None and symbol and text is not None:
        line, column = _first_use(text, symbol)
    where = source
    caret = ""
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
            if text is not None:
                lines = text.splitlines()
                if 1 <= line <= len(lines):
                    caret = caret_lines(lines[line - 1], column)
    out = f"{where}: error: {first}{caret}"
    if rest.strip():
        out += "\n" + rest.rstrip()
    return CliError(out)


_LARK_LITERAL_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/(?:[^/\\\n]|\\.)+/')


def _first_use(text: str, symbol: str) -> tuple[int | None, int | None]:
    """Line and column of the first use of ``symbol`` in Lark ``text`` (not in literals or
    comments), for errors that name a symbol but not where it is."""
    blank = _LARK_LITERAL_OR_COMMENT.sub(lambda m: " " * len(m[0]), text)
    for number, line in enumerate(blank.splitlines(), 1):
        m = re.search(rf"(?<![\w.]){re.escape(symbol)}(?!\w)", line)
        if m:
            return number, m.start() + 1
    return None, None


def grammar_text(constraint: Constraint) -> str | None:
    return constraint.grammar.text if constraint.label != "--regex" and constraint.structural_tag is None else None


def text_parses(grammar: Grammar, text: str) -> bool:
    from grammars import text_matches

    return text_matches(grammar, text)
