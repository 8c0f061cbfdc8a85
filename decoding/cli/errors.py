"""What every subcommand shares: the program name, exit statuses and :class:`CliError`."""

from __future__ import annotations

PROG = "guided-decoding"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ALIGNED_SAMPLERS = ("asap", "exact")  # grammar-aligned sampling (samplers.aligned), over a learnt trie


class CliError(Exception):
    """A failure reported as a message (no traceback unless --debug); ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code


def caret_lines(line: str, column: int, width: int = 100) -> str:
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


def os_message(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)
