"""The argument parser of the command line: subcommands, options and their help."""

from __future__ import annotations

import argparse

from decoding import version

from .check import cmd_check, cmd_grammars
from .errors import PROG
from .generate import cmd_generate

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
  {PROG} generate --structural-tag tools.json --chat --prompt "What is the weather in Paris?"

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
  {PROG} check --structural-tag tools.json 'Sure. <tool_call>{{"city": "Paris"}}</tool_call>'

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
    parser.add_argument("--start", default="start", metavar="RULE",
                        help="the start rule of a --grammar .lark file (python.lark: file_input)")
    parser.add_argument("--indenter", choices=["python"], default=None,
                        help="Python-style indentation for a --grammar .lark file that %%declares "
                             "_INDENT _DEDENT (lark's PythonIndenter)")
    parser.add_argument("--dialect", choices=["lark", "llguidance"], default="lark",
                        help="the syntax of a --grammar file: plain lark, or the llguidance / OpenAI "
                             "Lark dialect (x{m,n}, %%json {schema}, special tokens <|name|>)")
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--grammar", metavar="FILE|NAME",
                       help="a .lark file, or the name of a bundled grammar (see `grammars`)")
    group.add_argument("--regex", metavar="PATTERN",
                       help="a Python regular expression the whole text must match")
    group.add_argument("--json-schema", metavar="FILE",
                       help="a JSON Schema file (draft 2020-12); the text is compact JSON, object "
                            "keys in the schema's order")
    group.add_argument("--structural-tag", metavar="FILE|JSON",
                       help="free text with tagged, constrained parts (tool calls, reasoning): a "
                            "structural tag in xgrammar's / vLLM's `structural_tag` JSON, as a "
                            "file or as the JSON text itself")


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
        description="Generate text with a Hugging Face model, under a grammar, a regular\n"
                    "expression, a JSON Schema or a structural tag (at most one of them; none\n"
                    "means unconstrained).",
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
