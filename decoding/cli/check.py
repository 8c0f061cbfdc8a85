"""``check`` (does a text belong to a grammar's language, and where does it go wrong) and
``grammars`` (the bundled grammars)."""

from __future__ import annotations

import argparse
import os
import sys

from .constraints import grammar_error, grammar_text, load_constraint, unknown_grammar
from .errors import EXIT_FAILED, EXIT_OK, caret_lines


def cmd_grammars(args: argparse.Namespace) -> int:
    from grammars import bundled_grammar_description, bundled_grammar_names
    from grammars.grammar import bundled_grammar_text

    names = bundled_grammar_names()
    if args.name is not None:
        if args.name not in names:
            raise unknown_grammar(args.name, names, "not a bundled grammar")
        sys.stdout.write(bundled_grammar_text(args.name))
        return EXIT_OK
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {bundled_grammar_description(name)}")
    return EXIT_OK


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
        raise grammar_error(e, constraint.label, grammar_text(constraint)) from e

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
        report = f"{name}:{line}:{column}: error: {what}" + caret_lines(line_text, column)
        expected = _describe_bytes(matcher.allowed_bytes(), matcher.is_accepting())
        report += f"\nexpected: {expected}"
        trailing_newline = bad is not None and bad == len(data) - 1 and data.endswith(b"\n")
        if trailing_newline and matcher.is_accepting():
            report += "\nnote: the text ends with a newline (from echo?); printf leaves it out"
        print(report, file=sys.stderr)
    return EXIT_FAILED


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
