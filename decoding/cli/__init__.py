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

import os
import sys
import traceback

from .arguments import build_parser
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, CliError

__all__ = ["CliError", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "PROG", "build_parser", "main"]


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
