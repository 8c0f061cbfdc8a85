"""lark's parser for a grammar text, and whether the grammar is LALR(1).

lark's LALR(1) builder resolves shift/reduce conflicts as shifts (it only logs them) and refuses
reduce/reduce ones. A grammar with either gets lark's Earley parser instead (its language is the
one written) and is compiled through the general path (:mod:`grammars.parsing.glr`); the
conflicts are kept as a short description (the first few, then a count).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading

import lark
from lark import lexer as lark_lexer
from lark.exceptions import GrammarError as LarkGrammarError
from lark.exceptions import LarkError, UnexpectedInput

from ..cache import cache_root
from ..errors import GrammarError, GrammarSyntaxError, UndefinedSymbolError

_AT_LINE = re.compile(r"at line (\d+) column (\d+)")
_UNDEFINED = re.compile(r"(?:Rule|Terminal|Using an undefined rule:?|Terminals? used but not defined:?)\W*'?(\w+)'?")
_REDUCE_REDUCE = re.compile(r"Reduce/Reduce collision in (?:Terminal\()?'?([^')\s]+)'?\)? between")
_LALR_OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=False)
_EARLEY_OPTIONS = dict(parser="earley", lexer="dynamic", maybe_placeholders=False)
SHOWN_CONFLICTS = 3
_log_lock = threading.Lock()


def build_lark(text: str, start: str, source: str) -> tuple[lark.Lark, tuple[str, ...]]:
    """lark's parser for ``text`` and the LALR(1) conflicts found (empty for a LALR(1) grammar,
    whose parser is then lark's LALR one; otherwise an Earley parser).

    lark's own table cache lives in our cache folder, with a note of the conflicts beside it, so a
    second process loads the tables in about a millisecond. lark's terminal-collision warnings are
    off while it builds: our lexer resolves overlapping terminals itself, and lark's check takes
    seconds to minutes on terminals with large Unicode classes (a JSON Schema ``idn-email``).

    Example:
        >>> parser, conflicts = build_lark('start: e\\ne: e "+" e | "1"', "start", "<doc>")
        >>> parser.options.parser, conflicts
        ('earley', ('shift/reduce on PLUS (rule e)',))
    """
    saved = lark_lexer.has_interegular
    lark_lexer.has_interegular = False
    try:
        conflicts = _lalr_conflicts(text, start, source)
        if not conflicts:
            return _lalr(text, start, source), ()
        return _mapped(lambda: lark.Lark(text, start=start, **_EARLEY_OPTIONS), source), conflicts
    finally:
        lark_lexer.has_interegular = saved


def _cache_file(text: str, start: str):
    key = hashlib.sha256(f"{lark.__version__}\x00{start}\x00{text}".encode()).hexdigest()[:32]
    return cache_root() / "lark" / f"{key}.lark"


def _lalr(text: str, start: str, source: str) -> lark.Lark:
    try:
        return lark.Lark(text, start=start, cache=str(_cache_file(text, start)), **_LALR_OPTIONS)
    except (OSError, EOFError, ValueError, AttributeError, LarkError):  # unusable cache
        return _mapped(lambda: lark.Lark(text, start=start, **_LALR_OPTIONS), source)


def _lalr_conflicts(text: str, start: str, source: str) -> tuple[str, ...]:
    """The conflicts of lark's LALR(1) analysis, from the note beside lark's cache or by building
    the tables once (which also writes lark's cache)."""
    cache_file = _cache_file(text, start)
    note = cache_file.with_suffix(".conflicts")
    try:
        return tuple(json.loads(note.read_text()))
    except (OSError, ValueError):
        pass
    messages: list[str] = []
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.unlink(missing_ok=True)  # build afresh: a cache hit would log nothing
        with _LarkDebugLog(messages):
            lark.Lark(text, start=start, cache=str(cache_file), **_LALR_OPTIONS)
    except OSError:
        with _LarkDebugLog(messages):
            _mapped(lambda: lark.Lark(text, start=start, **_LALR_OPTIONS), source)
    except LarkGrammarError as e:
        if "Reduce/Reduce collision" not in str(e):
            _mapped(lambda: lark.Lark(text, start=start, **_LALR_OPTIONS), source)
        messages += [f"reduce/reduce on {m}" for m in _REDUCE_REDUCE.findall(str(e))]
    except LarkError:
        _mapped(lambda: lark.Lark(text, start=start, **_LALR_OPTIONS), source)
    conflicts = _summary(messages)
    try:
        note.write_text(json.dumps(conflicts))
    except OSError:
        pass
    return conflicts


def _summary(messages: list[str]) -> tuple[str, ...]:
    """Shift/reduce log lines and reduce/reduce descriptions as at most a few distinct lines."""
    found: list[str] = []
    for i, msg in enumerate(messages):
        m = re.match(r"Shift/Reduce conflict for terminal (\S+):", msg)
        if m:
            rule = re.match(r"\s*\*\s*<(\w+)", messages[i + 1]) if i + 1 < len(messages) else None
            found.append(f"shift/reduce on {m[1]}" + (f" (rule {rule[1]})" if rule else ""))
        elif msg.startswith("reduce/reduce"):
            found.append(msg)
    distinct = list(dict.fromkeys(found))
    if len(distinct) > SHOWN_CONFLICTS:
        distinct = distinct[:SHOWN_CONFLICTS] + [f"and {len(distinct) - SHOWN_CONFLICTS} more"]
    return tuple(distinct)


class _LarkDebugLog:
    """Collects lark's debug log (where it reports shift/reduce conflicts) while building."""

    def __init__(self, messages: list[str]):
        self.messages = messages

    def __enter__(self):
        _log_lock.acquire()
        logger = lark.logger
        self.saved = (logger.level, logger.handlers, logger.propagate)
        collector = logging.Handler(logging.DEBUG)
        collector.emit = lambda record: self.messages.append(record.getMessage())
        logger.handlers, logger.propagate = [collector], False
        logger.setLevel(logging.DEBUG)

    def __exit__(self, *exc):
        logger = lark.logger
        level, logger.handlers, logger.propagate = self.saved
        logger.setLevel(level)
        _log_lock.release()


def _mapped(build, source: str) -> lark.Lark:
    """``build()`` with lark's errors turned into ours (line, column, symbol)."""
    try:
        return build()
    except UnexpectedInput as e:  # the grammar file itself did not parse
        raise GrammarSyntaxError(f"{source}: {_first_line(e)}", e.line, e.column) from None
    except LarkGrammarError as e:
        msg = str(e)
        at = _AT_LINE.search(msg)
        if at:
            raise GrammarSyntaxError(f"{source}: {_first_line(e)}", int(at[1]), int(at[2])) from None
        if "not defined" in msg or "undefined" in msg.lower():
            m = _UNDEFINED.search(msg)
            raise UndefinedSymbolError(f"{source}: {_first_line(e)}", m[1] if m else None) from None
        raise GrammarError(f"{source}: {_first_line(e)}") from None
    except LarkError as e:
        raise GrammarError(f"{source}: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0]
