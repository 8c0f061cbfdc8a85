"""lark's front end for a grammar text: its terminals and rules, and whether it is LALR(1).

Only what the engine reads is built: lark's grammar loader and compiler (terminals, BNF rules,
``%ignore``) and the LALR(1) table, built by :mod:`grammars.parsing.lalr` (lark's table, on
integers); lark's own analysis runs only for a grammar that has conflicts, to name them. No
``lark.Lark`` object, no lexer, no Python ``re`` union per parser state: the engine has its own
lexer (:mod:`grammars.lexing`). lark's own parser, for :meth:`LarkGrammar.parse`, is made on
first use.

lark's LALR(1) builder resolves shift/reduce conflicts as shifts (it only logs them) and refuses
reduce/reduce ones. A grammar with either is compiled through the general path
(:mod:`grammars.parsing.glr`; its ``parse`` is lark's Earley parser, whose language is the one
written); the conflicts are kept as a short description (the first few, then a count).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
import time
from types import SimpleNamespace

import lark
from lark.common import ParserConf
from lark.exceptions import GrammarError as LarkGrammarError
from lark.exceptions import LarkError, LexError, UnexpectedInput
from lark.load_grammar import load_grammar
from lark.parsers.lalr_analysis import LALR_Analyzer
from lark.utils import get_regexp_width

from ..cache import cache_root, load_pickle, save_pickle
from ..errors import GrammarError, GrammarSyntaxError, UndefinedSymbolError
from .lalr import lalr_analysis

_AT_LINE = re.compile(r"at line (\d+) column (\d+)")
_UNDEFINED = re.compile(r"(?:Rule|Terminal|Using an undefined rule:?|Terminals? used but not defined:?)\W*'?(\w+)'?")
_REDUCE_REDUCE = re.compile(r"Reduce/Reduce collision in (?:Terminal\()?'?([^')\s]+)'?\)? between")
_LALR_OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=False)
_EARLEY_OPTIONS = dict(parser="earley", lexer="dynamic", maybe_placeholders=False)
SHOWN_CONFLICTS = 3
CACHE_AFTER_S = 0.02  # a front end that took longer is kept on disk (a faster one is rebuilt)
_FORMAT = 2  # 2: all_actions from parsing.lalr for a grammar with conflicts
_log_lock = threading.Lock()


class LarkGrammar:
    """What the engine reads of lark's front end, with the attribute names of a ``lark.Lark``:
    ``terminals``, ``rules``, ``lexer_conf.ignore``, ``options.parser`` (``"lalr"``, or
    ``"earley"`` for a grammar with conflicts), and ``lalr``: lark's LALR(1) table (built by
    :mod:`grammars.parsing.lalr`) as ``({state: {symbol: [(kind, arg)]}}, start state)`` (None
    when there are conflicts).
    ``parse(text)`` runs lark's own parser (LALR, or Earley for a grammar with conflicts).

    Example:
        >>> g, conflicts = build_lark('start: "a" B\\nB: /b+/', "start", "<doc>")
        >>> sorted(t.name for t in g.terminals), g.options.parser, conflicts
        (['A', 'B'], 'lalr', ())
        >>> g.parse("abb").children
        [Token('B', 'bb')]
    """

    def __init__(self, text: str, start: str, terminals: list, rules: list, ignore: list,
                 lalr, conflicts: tuple[str, ...]):
        self.text, self.start = text, start
        self.terminals, self.rules = terminals, rules
        self.lexer_conf = SimpleNamespace(ignore=list(ignore))
        self.options = SimpleNamespace(parser="earley" if conflicts else "lalr", postlex=None)
        self.lalr = lalr
        self.conflicts = conflicts
        self.analyzer = None  # for a grammar with conflicts: lark's analysis, lookaheads computed
        self.all_actions = None  # or every action of parsing.lalr's analysis (states, start state)
        self._lark = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(analyzer=None, _lark=None, _lock=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def lark(self) -> lark.Lark:
        """lark's own parser of the grammar (made on first use)."""
        with self._lock:
            if self._lark is None:
                if self.conflicts:
                    self._lark = lark.Lark(self.text, start=self.start, **_EARLEY_OPTIONS)
                else:
                    self._lark = _lalr_lark(self.text, self.start)
            return self._lark

    def parse(self, text: str, start: str | None = None, on_error=None):
        """lark's parse tree of ``text`` (raises lark's ``UnexpectedInput`` outside the language)."""
        return self.lark.parse(text, start=start, on_error=on_error)


def build_lark(text: str, start: str, source: str) -> tuple[LarkGrammar, tuple[str, ...]]:
    """lark's front end for ``text`` and the LALR(1) conflicts found (empty for a LALR(1) grammar).

    A front end that took more than ``CACHE_AFTER_S`` to build is kept in our cache folder, so a
    second process loads it in about a millisecond. lark's errors become ours (line, column,
    rule or terminal).

    Example:
        >>> parser, conflicts = build_lark('start: e\\ne: e "+" e | "1"', "start", "<doc>")
        >>> parser.options.parser, conflicts
        ('earley', ('shift/reduce on PLUS (rule e)',))
    """
    path = _cache_file(text, start)
    cached = load_pickle(path)
    if isinstance(cached, LarkGrammar) and cached.text == text and cached.start == start:
        return cached, cached.conflicts
    t0 = time.perf_counter()
    grammar = _mapped(lambda: _build(text, start, source), source)
    if time.perf_counter() - t0 > CACHE_AFTER_S:
        save_pickle(path, grammar)
    return grammar, grammar.conflicts


def _cache_file(text: str, start: str):
    key = hashlib.sha256(f"{_FORMAT}\x00{lark.__version__}\x00{start}\x00{text}".encode()).hexdigest()[:32]
    return cache_root() / "lark-front" / f"{key}.pkl"


def _build(text: str, start: str, source: str) -> LarkGrammar:
    loaded, _ = load_grammar(text, source, [], False)
    terminals, rules, ignore = loaded.compile([start], set())
    _check_terminals(terminals, ignore)
    lalr, found = lalr_analysis(rules, start)
    if lalr is not None:
        return LarkGrammar(text, start, terminals, rules, ignore, lalr, ())
    if found is not None and found[0]:
        grammar = LarkGrammar(text, start, terminals, rules, ignore, None, _summary(found[0]))
        grammar.all_actions = found[1]
        return grammar
    analyzer = LALR_Analyzer(ParserConf(rules, None, [start]))  # conflicts: lark's log names them
    messages: list[str] = []
    try:
        with _LarkDebugLog(messages):
            analyzer.compute_lalr()
    except LarkGrammarError as e:
        if "Reduce/Reduce collision" not in str(e):
            raise
        messages += [f"reduce/reduce on {m}" for m in _REDUCE_REDUCE.findall(str(e))]
    conflicts = _summary(messages)
    lalr = None if conflicts else lalr_states(analyzer.parse_table, start)
    grammar = LarkGrammar(text, start, terminals, rules, ignore, lalr, conflicts)
    if conflicts:
        grammar.analyzer = analyzer
    return grammar


def _check_terminals(terminals, ignore) -> None:
    """lark's lexer checks, with its messages: each terminal compiles and matches some non-empty
    text, and every ``%ignore``'d name is a terminal."""
    for t in terminals:
        if t.pattern.type == "re":
            compiles, width = _regexp_check(t.pattern.to_regexp())
            if not compiles:
                raise LexError(f"Cannot compile token {t.name}: {t.pattern}")
            if width is not None and t.pattern._width is None:
                t.pattern._width = list(width)  # what lark's PatternRE would compute again
        if t.pattern.min_width == 0:
            raise LexError(f"Lexer does not allow zero-width terminals. ({t.name}: {t.pattern})")
    missing = set(ignore) - {t.name for t in terminals}
    if missing:
        raise LexError(f"Ignore terminals are not defined: {missing}")


@functools.lru_cache(maxsize=8192)
def _regexp_check(regexp: str) -> tuple[bool, tuple[int, int] | None]:
    """Whether a terminal's regexp compiles, and its (min, max) width as lark measures it
    (memoised: the terminals of JSON Schema grammars repeat from schema to schema)."""
    try:
        re.compile(regexp)
    except re.error:
        return False, None
    try:
        return True, tuple(get_regexp_width(regexp))
    except ValueError:
        return True, None


def lalr_states(table, start: str):
    """lark's LALR(1) table as ``{state: {symbol: [(kind, arg)]}}`` (kinds ``shift``, ``reduce``,
    and ``accept`` on ``$END`` after the start rule) and the start state."""
    states = {
        s: {name: [("shift" if kind.name == "Shift" else "reduce", arg)] for name, (kind, arg) in acts.items()}
        for s, acts in table.states.items()
    }
    states[table.end_states[start]].setdefault("$END", []).insert(0, ("accept", None))
    return states, table.start_states[start]


def _lalr_lark(text: str, start: str) -> lark.Lark:
    """lark's LALR parser (its table cache in our cache folder)."""
    key = hashlib.sha256(f"{lark.__version__}\x00{start}\x00{text}".encode()).hexdigest()[:32]
    cache_file = cache_root() / "lark" / f"{key}.lark"
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        return lark.Lark(text, start=start, cache=str(cache_file), **_LALR_OPTIONS)
    except (OSError, EOFError, ValueError, AttributeError, LarkError):  # unusable cache
        return lark.Lark(text, start=start, **_LALR_OPTIONS)


def _summary(messages: list[str]) -> tuple[str, ...]:
    """lark's shift/reduce log lines, reduce/reduce descriptions and :func:`~grammars.parsing.lalr.lalr_analysis`'
    lines as at most a few distinct lines."""
    found: list[str] = []
    for i, msg in enumerate(messages):
        m = re.match(r"Shift/Reduce conflict for terminal (\S+):", msg)
        if m:
            rule = re.match(r"\s*\*\s*<(\w+)", messages[i + 1]) if i + 1 < len(messages) else None
            found.append(f"shift/reduce on {m[1]}" + (f" (rule {rule[1]})" if rule else ""))
        elif msg.startswith(("reduce/reduce", "shift/reduce")):  # lalr_analysis' own lines
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


def _mapped(build, source: str):
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
