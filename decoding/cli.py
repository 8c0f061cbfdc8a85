"""The command line: ``guided-decoding`` (also ``python -m decoding``).

Subcommands:

* ``generate``: generate text with a Hugging Face model (default: the bundled test model), under a
  grammar (``--grammar``), a regular expression (``--regex``) or unconstrained;
* ``check``: say whether a text belongs to a grammar's language, and where it goes wrong (no model);
* ``grammars``: list the bundled grammars (or print one).

Exit status: 0 on success, 1 on a failed constraint or a failed run (a grammar error, a text the
grammar rejects, an output cut before it was complete), 2 on bad usage.

Example:
    $ guided-decoding generate --grammar json --chat --prompt "A cat as JSON."
    $ guided-decoding check --grammar json '{"name": "Tom", "age": 3}'
    $ guided-decoding grammars

Heavy imports (torch, transformers, the grammar engine) happen inside the subcommands, so ``--help``
and bad usage answer at once.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decoding import version

if TYPE_CHECKING:
    from grammars import Grammar

PROG = "guided-decoding"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ALIGNED_SAMPLERS = ("asap", "exact")  # grammar-aligned sampling (samplers.aligned), over a learnt trie


class CliError(Exception):
    """A failure reported as a message (no traceback unless --debug); ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code


# --------------------------------------------------------------------------------------------------
# the parser

_MAIN_EPILOG = f"""\
examples:
  {PROG} generate --grammar json --chat --prompt "Describe a cat as JSON."
  {PROG} generate --regex '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' --chat --prompt "When did Apollo 11 land?"
  {PROG} check --grammar json '{{"name": "Tom", "age": 3}}'
  {PROG} grammars

exit status: 0 success, 1 failed constraint or failed run, 2 bad usage.
"""

_GENERATE_EPILOG = f"""\
examples:
  {PROG} generate --grammar json --chat --prompt "Describe a cat as JSON with a name and an age."
  {PROG} generate --grammar my.lark --prompts questions.txt --jsonl > answers.jsonl
  echo "Is 'I love it' positive?" | {PROG} generate --grammar choices --chat
  {PROG} generate --grammar choices --chat --sampler constrained -n 5 --seed 0 --prompt "..."
  {PROG} generate --grammar choices --chat --sampler asap -n 100 --trie run.trie.npz --prompt "..."
  {PROG} generate --grammar json --chat --drafter aded --trigram-table t.npz --prompts q.txt
  {PROG} generate --json-schema person.schema.json --chat --prompt "Invent a person."

prompts: --prompt (repeatable), --prompts FILE (one per line; JSON lines with a "prompt" field
when the name ends with .jsonl; - is stdin), or stdin (one per line) when neither is given.

output: plain text (one sample after the other, separated by a blank line; streamed as it is
generated for a single prompt and sample), or with --jsonl one JSON object per sample:
  prompt     the prompt
  text       the generated text (special tokens left out)
  tokens     the number of generated tokens (the end-of-sequence token included)
  logprob    the sum of the log-probabilities of the generated tokens (end-of-sequence included)
             under the model's own, unconstrained distribution: log-softmax of the raw logits
             from generate(output_logits=True), before the grammar mask and the temperature
  seconds    time spent in generate for this sample
  finished   whether the text ended with an end-of-sequence token
  valid      constrained runs: whether lark parses the text with the grammar; else null
  weight     --sampler asap only: the importance weight P(y)/q(y); self-normalised averages
             over samples estimate expectations under the model conditioned on the grammar
             (exact samples need none: 1.0)
  attempts   --sampler asap/exact: tries spent on this sample (rejections included)

With --sampler asap or exact, --max-new-tokens is part of the constraint (every output finishes),
logprob is under the distribution being aligned (--temperature applied), and seconds is the
average per sample. A summary (theta(root), forward passes) goes to stderr.

A constrained output cut by --max-new-tokens before it is complete is a failed constraint: a
warning on stderr, and exit status 1 once all samples are written.
"""

_CHECK_EPILOG = f"""\
examples:
  {PROG} check --grammar json '{{"name": "Tom", "age": 3}}'
  {PROG} check --grammar sql - < query.sql
  printf '1969-07-20' | {PROG} check --regex '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'

The text is taken as it is, as UTF-8 (a trailing newline from `echo` is part of it: use printf).
On failure it names the line and column of the first character the grammar rejects (or says
that the text ends too early) and what the grammar expects there. Needs no model.
"""

_GRAMMARS_EPILOG = f"""\
examples:
  {PROG} grammars            # one line per bundled grammar
  {PROG} grammars json       # the Lark text of one of them
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a positive number, got {text} (for argmax decoding use --sampler greedy)")
    return value


def _add_constraint(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--grammar", metavar="FILE|NAME",
                       help="a .lark file, or the name of a bundled grammar (see `grammars`)")
    group.add_argument("--regex", metavar="PATTERN",
                       help="a Python regular expression the whole text must match")
    group.add_argument("--json-schema", metavar="FILE",
                       help="a JSON Schema file (draft 2020-12); the text is compact JSON, object "
                            "keys in the schema's order")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the command line (``main`` runs it)."""
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show Python tracebacks of errors")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Grammar-constrained decoding for Hugging Face models, from the command line.",
        epilog=_MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show Python tracebacks of errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gen = sub.add_parser(
        "generate", parents=[debug], formatter_class=_Formatter, epilog=_GENERATE_EPILOG,
        help="generate text, under a grammar or a regex, or unconstrained",
        description="Generate text with a Hugging Face model, under a grammar or a regular\n"
                    "expression (at most one of them; neither means unconstrained).",
    )
    gen.add_argument("--model", default="test", metavar="PATH",
                     help="a Hugging Face model folder, or `test` for the bundled test model "
                          "SmolLM2-135M-Instruct (default: test)")
    _add_constraint(gen, required=False)
    gen.add_argument("--prompt", action="append", metavar="TEXT",
                     help="a prompt (repeatable)")
    gen.add_argument("--prompts", metavar="FILE",
                     help="prompts, one per line (JSON lines with a \"prompt\" field if FILE ends "
                          "with .jsonl; - reads stdin)")
    gen.add_argument("--chat", action="store_true",
                     help="wrap each prompt as a user message in the tokenizer's chat template")
    gen.add_argument("--sampler", default="greedy",
                     choices=("greedy", "constrained", "asap", "exact"),
                     help="greedy: argmax (under the grammar if any); constrained: sampling at "
                          "--temperature under the grammar; asap: grammar-aligned sampling "
                          "(approaches the model conditioned on the grammar as samples "
                          "accumulate); exact: exact samples of that conditioned distribution "
                          "(adaptive rejection) (default: greedy)")
    gen.add_argument("-n", "--num-samples", type=_positive_int, default=1, metavar="N",
                     help="samples per prompt (default: 1)")
    gen.add_argument("--max-new-tokens", type=_positive_int, default=128, metavar="N",
                     help="at most this many generated tokens per sample (default: 128)")
    gen.add_argument("--temperature", type=_positive_float, default=1.0, metavar="T",
                     help="sampling temperature of --sampler constrained, asap, exact "
                          "(default: 1.0)")
    gen.add_argument("--drafter", choices=("aded",),
                     help="aded: draft-and-verify decoding (same output, fewer forward passes) "
                          "with --sampler greedy or constrained")
    gen.add_argument("--trigram-table", metavar="FILE",
                     help="with --drafter aded: the tri-gram table to draft from (created if "
                          "missing; what it learns is saved back)")
    gen.add_argument("--trie", metavar="FILE",
                     help="with --sampler asap/exact and one prompt: continue the sample trie "
                          "saved in FILE (created if missing) and save it back")
    gen.add_argument("--seed", type=int, metavar="N",
                     help="seed of the random generators (reproducible sampling)")
    gen.add_argument("--jsonl", action="store_true",
                     help="one JSON object per sample (fields below) instead of plain text")
    gen.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                     help="weights' dtype (default: float32)")
    gen.add_argument("--device", default="cpu",
                     help="torch device, e.g. cpu or cuda (default: cpu)")
    gen.set_defaults(func=cmd_generate)

    check = sub.add_parser(
        "check", parents=[debug], formatter_class=_Formatter, epilog=_CHECK_EPILOG,
        help="check that a text belongs to a grammar's language",
        description="Check that a text belongs to the language of a grammar (or a regex);\n"
                    "exit status 0 if it does, 1 if not.",
    )
    _add_constraint(check, required=True)
    check.add_argument("text", nargs="?", default="-", metavar="TEXT|-",
                       help="the text; - or nothing reads it from stdin")
    check.add_argument("-q", "--quiet", action="store_true",
                       help="print nothing; only the exit status tells")
    check.set_defaults(func=cmd_check)

    gram = sub.add_parser(
        "grammars", parents=[debug], formatter_class=_Formatter, epilog=_GRAMMARS_EPILOG,
        help="list the bundled grammars",
        description="List the bundled grammars (name and what they accept), or print one.",
    )
    gram.add_argument("name", nargs="?", metavar="NAME", help="print this grammar's Lark text")
    gram.set_defaults(func=cmd_grammars)
    return parser




def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        return args.func(args)
    except CliError as e:
        if debug:
            traceback.print_exc()
        _flush_stdout()
        print(e.message, file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        _flush_stdout()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `| head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as e:  # noqa: BLE001 - a failed run: one line, or the traceback with --debug
        if debug:
            traceback.print_exc()
        else:
            _flush_stdout()
            print(f"{PROG}: error: {type(e).__name__}: {e}\n(run with --debug for the traceback)",
                  file=sys.stderr)
        return EXIT_FAILED


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


# --------------------------------------------------------------------------------------------------
# grammars: loading and error reports


@dataclass
class Constraint:
    """A loaded grammar and how to name it in messages."""

    grammar: Grammar
    label: str  # "json", "path/to/my.lark", "--regex"


def load_constraint(args: argparse.Namespace) -> Constraint | None:
    """The grammar of ``--grammar``, ``--regex`` or ``--json-schema`` (None if none); errors become
    CliError."""
    if getattr(args, "regex", None) is not None:
        return Constraint(regex_grammar(args.regex), "--regex")
    if getattr(args, "json_schema", None) is not None:
        return Constraint(json_schema_grammar(args.json_schema), args.json_schema)
    if getattr(args, "grammar", None) is not None:
        return Constraint(load_grammar(args.grammar), args.grammar)
    return None


def json_schema_grammar(path: str) -> Grammar:
    """The grammar of a JSON Schema file; a file that is not JSON is reported with its line and
    column, an unsupported keyword with its path in the schema."""
    from grammars import Grammar, GrammarError, UnsupportedSchemaError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise CliError(f"{path}: error: cannot read the schema: {e.strerror}") from e
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(f"{path}:{e.lineno}:{e.colno}: error: not JSON: {e.msg}") from e
    try:
        return Grammar.from_json_schema(schema)
    except UnsupportedSchemaError as e:
        raise CliError(f"{path}: error: {e}") from e
    except GrammarError as e:
        raise grammar_error(e, path, None) from e


def load_grammar(spec: str) -> Grammar:
    """A bundled grammar by name, else a ``.lark`` file; errors are reported like a compiler's."""
    from grammars import Grammar, GrammarError, bundled_grammar_names

    names = bundled_grammar_names()
    if spec in names:
        return Grammar.bundled(spec)
    path = Path(spec)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"{spec}: error: cannot read the grammar: {_os_message(e)}") from e
        try:
            return Grammar.from_lark(text, source=spec)
        except GrammarError as e:
            raise grammar_error(e, spec, text) from e
    if path.exists():
        raise CliError(f"{spec}: error: not a file (give a .lark file or a bundled grammar name)")
    if spec.endswith(".lark") or "/" in spec or os.sep in spec or "." in spec:
        raise CliError(f"{spec}: error: no such file")
    raise _unknown_grammar(spec, names, "no bundled grammar and no file of that name",
                           "(or give the path of a .lark file)")


def _unknown_grammar(spec: str, names: list[str], why: str, tail: str = "") -> CliError:
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
                       f"{_caret_lines(pattern, e.position + 1)}") from e
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
                    caret = _caret_lines(lines[line - 1], column)
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


def _caret_lines(line: str, column: int, width: int = 100) -> str:
    """The source line and a caret under (1-based) ``column``, indented like a compiler's; a long
    line is cut to ``width`` characters around the column."""
    start = max(column - 1, 0)
    if len(line) > width:
        first = max(0, min(start - width * 3 // 4, len(line) - width))
        shown = line[first : first + width]
        prefix = "..." if first > 0 else ""
        suffix = "..." if first + width < len(line) else ""
        line, start = prefix + shown + suffix, start - first + len(prefix)
    line = "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in line)
    pad = "".join("\t" if ch == "\t" else " " for ch in line[:start])
    return f"\n    {line}\n    {pad}^"


def _os_message(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


# --------------------------------------------------------------------------------------------------
# grammars


def cmd_grammars(args: argparse.Namespace) -> int:
    from grammars import bundled_grammar_description, bundled_grammar_names
    from grammars.grammar import bundled_grammar_text

    names = bundled_grammar_names()
    if args.name is not None:
        if args.name not in names:
            raise _unknown_grammar(args.name, names, "not a bundled grammar")
        sys.stdout.write(bundled_grammar_text(args.name))
        return EXIT_OK
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {bundled_grammar_description(name)}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------------
# check


def cmd_check(args: argparse.Namespace) -> int:
    from grammars import GrammarError, GrammarMatcher, byte_vocabulary, compile_grammar

    constraint = load_constraint(args)
    assert constraint is not None  # argparse requires one
    if args.text == "-":
        name = "<stdin>"
        if sys.stdin.isatty() and not args.quiet:
            print("reading the text from stdin (end with Ctrl-D)", file=sys.stderr)
        data = sys.stdin.buffer.read()
    else:
        name = "<text>"
        data = os.fsencode(args.text) if os.name != "nt" else args.text.encode("utf-8")
    try:
        compiled = compile_grammar(constraint.grammar, byte_vocabulary())
    except GrammarError as e:
        raise grammar_error(e, constraint.label, _grammar_text(constraint)) from e

    matcher = GrammarMatcher(compiled)
    bad = _first_rejected_byte(matcher, data)
    if bad is None and matcher.is_accepting():
        if not args.quiet:
            print(f"ok: the text belongs to the language of {constraint.label}")
        return EXIT_OK
    if not args.quiet:
        pos = len(data) if bad is None else bad
        line, column, line_text = _line_column(data, pos)
        if bad is None:
            what = "ends too early: the text is incomplete"
        else:
            what = f"{_describe_char(data, bad)} is not allowed here"
        report = f"{name}:{line}:{column}: error: {what}" + _caret_lines(line_text, column)
        expected = _describe_bytes(matcher.allowed_bytes(), matcher.is_accepting())
        report += f"\nexpected: {expected}"
        trailing_newline = bad is not None and bad == len(data) - 1 and data.endswith(b"\n")
        if trailing_newline and matcher.is_accepting():
            report += "\nnote: the text ends with a newline (from echo?); printf leaves it out"
        print(report, file=sys.stderr)
    return EXIT_FAILED


def _grammar_text(constraint: Constraint) -> str | None:
    return constraint.grammar.text if constraint.label not in ("--regex",) else None


def _first_rejected_byte(matcher, data: bytes, chunk: int = 4096) -> int | None:
    """Advance ``matcher`` over ``data``; the offset of the first byte it rejects (None if none).

    Goes a chunk at a time, and byte by byte inside a chunk that fails, so the matcher ends just
    before the rejected byte."""
    pos = 0
    while pos < len(data):
        piece = data[pos : pos + chunk]
        probe = matcher.fork()
        if probe.advance_bytes(piece):
            matcher.advance_bytes(piece)
            pos += len(piece)
            continue
        for i in range(len(piece)):
            if not matcher.advance_bytes(piece[i : i + 1]):
                return pos + i
        pos += len(piece)  # the chunk failed as a whole but every byte passed: keep going
    return None


def _line_column(data: bytes, pos: int) -> tuple[int, int, str]:
    """1-based line and column (in characters) of byte ``pos``, and that line's text."""
    line_start = data.rfind(b"\n", 0, pos) + 1
    line_end = data.find(b"\n", pos)
    if line_end < 0:
        line_end = len(data)
    line = data.count(b"\n", 0, pos) + 1
    column = len(data[line_start:pos].decode("utf-8", errors="ignore")) + 1
    text = data[line_start:line_end].decode("utf-8", errors="replace").rstrip("\r")
    return line, column, text


def _describe_char(data: bytes, pos: int) -> str:
    """The character that contains byte ``pos``, for messages."""
    start = pos
    while start > 0 and pos - start < 3 and 0x80 <= data[start] <= 0xBF:
        start -= 1
    for end in range(pos + 1, min(start + 4, len(data)) + 1):
        try:
            ch = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(ch) == 1:
            return _char_repr(ch)
    return f"byte 0x{data[pos]:02x}"


def _char_repr(ch: str) -> str:
    return repr(ch)


def _byte_class(b: int) -> str:
    c = chr(b)
    if b < 0x20 or b == 0x7F:
        return "control"
    return "digit" if c.isdigit() else "upper" if c.isupper() else "lower" if c.islower() else c


def _byte_runs(values: list[int]) -> list[str]:
    """Bytes as a list of quoted characters, with runs of control characters, digits or letters
    written as ranges (``'0'..'9'``)."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1 and _byte_class(v) == _byte_class(runs[-1][0]):
            runs[-1][1] = v
        else:
            runs.append([v, v])
    out = []
    for lo, hi in runs:
        if hi - lo >= 2:
            out.append(f"{_char_repr(chr(lo))}..{_char_repr(chr(hi))}")
        else:
            out.extend(_char_repr(chr(v)) for v in range(lo, hi + 1))
    return out


def _describe_bytes(allowed: list[int], accepting: bool, limit: int = 16) -> str:
    """The bytes that may come next, as a short readable list."""
    ascii_ok = [b for b in allowed if b < 0x80]
    leads = {b for b in allowed if 0xC2 <= b <= 0xF4}
    continuation = {b for b in allowed if 0x80 <= b <= 0xBF}
    parts: list[str] = []
    items = _byte_runs(ascii_ok)
    missing = _byte_runs(sorted(set(range(0x80)) - set(ascii_ok)))
    if len(ascii_ok) > 64 and len(missing) <= 3:
        text = "any character"
        if missing:
            text += " except " + ", ".join(missing)
        if not leads:
            text += " (ASCII only)"
        parts.append(text)
    else:
        if len(items) > limit:
            items = items[:limit] + ["..."]
        parts.extend(items)
        if leads:
            parts.append("any non-ASCII character" if len(leads) >= 0xF4 - 0xC2 + 1
                         else "some non-ASCII characters")
    if continuation and not ascii_ok and not leads:
        parts.append("the rest of a UTF-8 character")
    if accepting:
        parts.append("the end of the text")
    return ", ".join(parts) if parts else "nothing (no continuation is possible)"


# --------------------------------------------------------------------------------------------------
# generate


@dataclass
class Sample:
    prompt: str
    text: str
    tokens: int
    logprob: float
    seconds: float
    finished: bool
    valid: bool | None

    def record(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "text": self.text,
            "tokens": self.tokens,
            "logprob": self.logprob,
            "seconds": self.seconds,
            "finished": self.finished,
            "valid": self.valid,
        }


def read_prompts(args: argparse.Namespace) -> list[str]:
    """Prompts from --prompt, --prompts FILE, or stdin (one per line)."""
    prompts = list(args.prompt or [])
    if args.prompts is not None:
        prompts += _read_prompt_file(args.prompts)
    elif not prompts:
        if sys.stdin.isatty():
            print("reading prompts from stdin, one per line (end with Ctrl-D)", file=sys.stderr)
        prompts = _prompt_lines(sys.stdin.read())
    if not prompts:
        raise CliError(f"{PROG} generate: error: no prompt: give --prompt TEXT, --prompts FILE, "
                       "or prompts on stdin (one per line)", code=EXIT_USAGE)
    return prompts


def _prompt_lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _read_prompt_file(name: str) -> list[str]:
    if name == "-":
        return _prompt_lines(sys.stdin.read())
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"{name}: error: cannot read the prompts: {_os_message(e)}") from e
    if not name.endswith(".jsonl"):
        return _prompt_lines(text)
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise CliError(f"{name}:{number}:{e.colno}: error: not JSON: {e.msg}") from e
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
            raise CliError(f"{name}:{number}: error: expected a JSON object with a string field "
                           "\"prompt\"")
        prompts.append(obj["prompt"])
    return prompts


def load_model(spec: str, dtype_name: str, device: str):
    """``(model, tokenizer)``: the bundled test model, or a Hugging Face folder."""
    import torch

    dtype = getattr(torch, dtype_name)
    if spec == "test":
        from decoding.models import load_test_model

        model, tokenizer = load_test_model(dtype)
    else:
        path = Path(spec)
        if not path.is_dir():
            raise CliError(f"{spec}: error: not a model folder (give a Hugging Face model folder, "
                           "or `test` for the bundled test model)")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model.eval()
    if device != "cpu":
        model.to(device)
    return model, tokenizer


def _eos_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value is not None:
            ids.update(int(v) for v in value)
    return ids


def _encode(tokenizer, prompt: str, chat: bool, device: str) -> dict:
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise CliError(f"{PROG}: error: the tokenizer has no chat template; leave out --chat")
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                               add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)
    else:
        inputs = tokenizer(prompt, return_tensors="pt")
    if inputs["input_ids"].shape[1] == 0:
        raise CliError(f"{PROG}: error: the prompt {prompt!r} has no tokens (an empty prompt "
                       "needs --chat)")
    return {k: v.to(device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}


def cmd_generate(args: argparse.Namespace) -> int:
    aligned = args.sampler in ALIGNED_SAMPLERS
    if aligned and args.grammar is None and args.regex is None and args.json_schema is None:
        raise CliError(f"{PROG}: error: --sampler {args.sampler} samples under a constraint: "
                       "give --grammar, --regex or --json-schema")
    if args.trie is not None and not aligned:
        raise CliError(f"{PROG}: error: --trie goes with --sampler asap or exact")
    if args.drafter is not None and aligned:
        raise CliError(f"{PROG}: error: --drafter goes with --sampler greedy or constrained")
    if args.trigram_table is not None and args.drafter is None:
        raise CliError(f"{PROG}: error: --trigram-table goes with --drafter aded")
    if args.model != "test" and not Path(args.model).is_dir():
        raise CliError(f"{args.model}: error: not a model folder (give a Hugging Face model "
                       "folder, or `test` for the bundled test model)")
    constraint = load_constraint(args)  # grammar errors before the model loads
    prompts = read_prompts(args)
    if args.trie is not None and len(prompts) != 1:
        raise CliError(f"{PROG}: error: --trie holds what was learnt for one prompt; "
                       f"got {len(prompts)} prompts")
    if args.num_samples > 1 and args.sampler == "greedy":
        print(f"note: -n {args.num_samples} with --sampler greedy gives the same text every time",
              file=sys.stderr)

    import torch
    import transformers
    from tqdm import tqdm

    from decoding.hf import GrammarLogitsProcessor, vocabulary_for
    from grammars import GrammarError, compile_grammar

    if not args.debug:
        transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    model, tokenizer = load_model(args.model, args.dtype, args.device)
    processor = None
    if constraint is not None:
        try:
            compiled = compile_grammar(constraint.grammar, vocabulary_for(tokenizer, model))
        except GrammarError as e:
            raise grammar_error(e, constraint.label, _grammar_text(constraint)) from e
        processor = GrammarLogitsProcessor(compiled)
    if aligned:
        return _generate_aligned(args, model, tokenizer, constraint, prompts)
    drafting = _drafting_kwargs(args, tokenizer)
    eos = _eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos, default=0)
    sampling = args.sampler == "constrained"
    config = transformers.GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        do_sample=sampling,
        temperature=args.temperature if sampling else None,
        top_k=0 if sampling else None,
        top_p=1.0 if sampling else None,
        eos_token_id=sorted(eos) or None,
        pad_token_id=pad,
        bos_token_id=getattr(model.generation_config, "bos_token_id", None),
        output_logits=True,
        return_dict_in_generate=True,
    )
    if args.seed is not None:
        transformers.set_seed(args.seed)

    total = len(prompts) * args.num_samples
    stream = total == 1 and not args.jsonl
    failures = 0
    written = 0
    bar = tqdm(total=total, unit="sample", desc="generating", file=sys.stderr, disable=total <= 1,
               dynamic_ncols=True)

    def emit(line: str) -> None:
        if bar.disable:
            print(line, flush=True)
        else:
            bar.write(line, file=sys.stdout)
            sys.stdout.flush()

    def warn(message: str) -> None:
        if bar.disable:
            print(message, file=sys.stderr, flush=True)
        else:
            bar.write(message, file=sys.stderr)

    with bar:
        for p, prompt in enumerate(prompts):
            inputs = _encode(tokenizer, prompt, args.chat, args.device)
            prompt_len = inputs["input_ids"].shape[1]
            for s in range(args.num_samples):
                if processor is not None:
                    processor.reset()  # one row per call: nothing to keep from the last one
                streamer = (transformers.TextStreamer(tokenizer, skip_prompt=True,
                                                      skip_special_tokens=True) if stream else None)
                start = time.perf_counter()
                with torch.inference_mode():
                    out = model.generate(**inputs, generation_config=config,
                                         logits_processor=[processor] if processor else None,
                                         streamer=streamer, **drafting)
                seconds = time.perf_counter() - start
                sample = _sample(prompt, out, prompt_len, tokenizer, eos, seconds, constraint)
                where = f"prompt {p + 1}, sample {s + 1}: " if total > 1 else ""
                if constraint is not None and not sample.valid:
                    failures += 1
                    if not sample.finished:
                        warn(f"warning: {where}the output was cut by --max-new-tokens "
                             f"({args.max_new_tokens}) before it was complete: it does not parse "
                             f"with {constraint.label}; raise --max-new-tokens")
                    else:
                        warn(f"error: {where}the output ended but does not parse with "
                             f"{constraint.label} (a bug in the grammar engine; please report it)")
                if args.jsonl:
                    emit(json.dumps(sample.record(), ensure_ascii=False))
                elif not stream:
                    emit(("\n" if written else "") + sample.text)
                written += 1
                bar.update(1)
    if args.trigram_table is not None:
        drafting["trigram_table"].save(args.trigram_table)
    if failures:
        print(f"{PROG}: {failures} of {total} constrained output(s) failed the constraint",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _drafting_kwargs(args: argparse.Namespace, tokenizer) -> dict:
    """``generate`` arguments for --drafter aded (none without it)."""
    if args.drafter is None:
        return {}
    from decoding.drafting import aded_generate, load_trigram_table, tokenizer_fingerprint
    from drafters import TrigramTable

    table = TrigramTable(tokenizer_fingerprint(tokenizer))
    if args.trigram_table is not None and Path(args.trigram_table).exists():
        try:
            table = load_trigram_table(args.trigram_table, tokenizer)
        except ValueError as e:
            raise CliError(f"{args.trigram_table}: error: {str(e).split(': ', 1)[-1]}") from e
    return {"custom_generate": aded_generate, "trigram_table": table}


def _generate_aligned(args: argparse.Namespace, model, tokenizer, constraint: Constraint,
                      prompts: list[str]) -> int:
    """--sampler asap/exact: grammar-aligned samples, one trie per prompt."""
    from decoding.aligned import prompt_ids, sample_aligned
    from samplers import SamplingError, TrieMismatchError, UnsatisfiableError

    failures = 0
    for p, prompt in enumerate(prompts):
        ids = prompt_ids(tokenizer, prompt, chat=args.chat)
        if not ids:
            raise CliError(f"{PROG}: error: the prompt {prompt!r} has no tokens (an empty prompt "
                           "needs --chat)")
        start = time.perf_counter()
        try:
            run = sample_aligned(model, tokenizer, ids, constraint.grammar, args.num_samples,
                                 mode=args.sampler, max_new_tokens=args.max_new_tokens,
                                 temperature=args.temperature, seed=args.seed, trie_path=args.trie,
                                 progress=args.num_samples > 1)
        except TrieMismatchError as e:
            raise CliError(f"{args.trie}: error: {str(e).split(': ', 1)[1]}") from e
        except (UnsatisfiableError, SamplingError) as e:
            raise CliError(f"{PROG}: error: prompt {p + 1}: {e}") from e
        seconds = (time.perf_counter() - start) / max(len(run.samples), 1)
        for k, s in enumerate(run.samples):
            valid = _parses(constraint.grammar, s.text)
            failures += not valid
            if args.jsonl:
                record = Sample(prompt=prompt, text=s.text, tokens=len(s.token_ids),
                                logprob=round(s.logprob, 4), seconds=round(seconds, 3),
                                finished=True, valid=valid).record()
                weight = float(f"{math.exp(s.log_weight):.6g}") if args.sampler == "asap" else 1.0
                record.update(weight=weight, attempts=s.attempts)
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print(("\n" if p or k else "") + s.text, flush=True)
        print(f"{args.sampler}: prompt {p + 1}: theta(root) = {run.theta_root:.4g} (upper bound on "
              f"the model's probability of a grammatical output), {run.forward_passes} forward "
              "passes", file=sys.stderr)
    if failures:
        print(f"{PROG}: {failures} sample(s) failed the constraint (a bug; please report it)",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _sample(prompt: str, out, prompt_len: int, tokenizer, eos: set[int], seconds: float,
            constraint: Constraint | None) -> Sample:
    import torch

    ids = out.sequences[0, prompt_len:]
    logprob = 0.0
    if len(ids):
        logits = torch.stack([step[0] for step in out.logits[: len(ids)]]).float()
        logprob = float(torch.log_softmax(logits, dim=-1).gather(1, ids.view(-1, 1)).sum())
    finished = bool(len(ids)) and int(ids[-1]) in eos
    text = tokenizer.decode(ids, skip_special_tokens=True)
    valid = None
    if constraint is not None:
        valid = _parses(constraint.grammar, text)
    return Sample(prompt=prompt, text=text, tokens=int(len(ids)), logprob=round(logprob, 4),
                  seconds=round(seconds, 3), finished=finished, valid=valid)


def _parses(grammar: Grammar, text: str) -> bool:
    from grammars import text_matches

    return text_matches(grammar, text)


if __name__ == "__main__":
    raise SystemExit(main())
