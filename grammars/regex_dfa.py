"""One lexer terminal (a regex or a string literal, as lark gives them) as a minimal byte DFA.

    regex_byte_dfa(pattern, flags)  -->  ByteDFA(transitions int32 [n, 256], accepting bool [n])

The automaton reads UTF-8 bytes and accepts exactly the encodings of the strings ``s`` for which
``re.fullmatch(pattern, s, flags)`` succeeds (see "Semantics" below for the few deviations). Invalid
UTF-8 (stray continuation bytes, overlong forms, surrogates, code points above U+10FFFF) is never
accepted, nor is it a live prefix.

Pipeline
--------
1. Parse with Python's own regex parser (``re._parser``, the module lark itself uses to measure
   terminal widths), so the syntax, escapes, inline/scoped flags and verbose mode are exactly
   Python's. (interegular was evaluated and rejected: it does not parse ``\\uXXXX`` escapes or the
   ``x`` flag, expands ranges into per-character sets, has ASCII-only ``\\w\\d\\s``, folds case with
   ``str.lower/upper`` rather than ``re``'s rules, and unions several negated classes in one set
   wrongly, e.g. ``[\\W\\S]``.)
2. Thompson NFA whose edges carry sets of code points (sorted disjoint intervals, surrogates
   excluded), with ``re``'s case folding, ``\\w\\d\\s`` and ``.`` computed exactly.
3. The code-point space is cut into *atoms* (classes of code points that no set in the pattern
   tells apart); subset construction over atoms, then Hopcroft minimisation (character level).
4. Each character transition becomes UTF-8 byte-range sequences (the range-splitting scheme of
   Rust's ``regex-syntax`` ``utf8`` module, reimplemented), merged into one deterministic byte trie
   per state and hash-consed bottom-up, which keeps the result minimal. States are numbered in BFS
   order from the start (state 0), successors in byte order: a canonical form, so two patterns
   with the same language give identical arrays.

Semantics (relative to ``re.fullmatch`` on ``str``)
--------------------------------------------------
* ``\\d \\w \\s`` (and negations), ``.``, ``[...]``, case-insensitive matching (``i``, including the
  Kelvin sign, long s, ``ß``/``ẞ`` and the other special cases, and ``(?a)`` ASCII-only folding) are
  computed from ``re``/``_sre`` of the running interpreter, so they agree with it exactly.
* Lazy and greedy quantifiers are the same thing for a full match. (A lexer is not a full match:
  lark's ``re.match`` stops lazy patterns at the first possible end, so the full-match language of
  e.g. ESCAPED_STRING also holds ``"a" "b"``. ``ByteDFA.prefix_free()`` gives the first-end
  language, which for ESCAPED_STRING and C_COMMENT is exactly what lark's lexer can produce.)
* ``^``/``\\A`` where nothing can have been consumed, and ``$``/``\\Z`` where nothing can follow,
  are accepted as no-ops (they always hold in a full match of the token). Anywhere else an anchor
  raises ``UnsupportedRegexError`` ("anchor in the middle"): in a lexer it depends on text outside
  the token. (In a lexer a leading ``^`` also depends on the position; it is taken as satisfied.)
* Lookbehind ``(?<=X)``/``(?<!X)`` is supported, exactly, where it can only inspect characters of
  the token itself (at least ``width(X)`` characters always precede it), e.g. lark's ESCAPED_STRING
  ``".*?(?<!\\\\)(\\\\\\\\)*?"``. A lookbehind that may look before the token start raises.
* Lookaheads at the very start of the pattern (or of a top-level alternative) are supported, exactly as ``re.fullmatch`` reads
  them: ``(?=B)C`` is C intersected with the strings that begin with a match of B, ``(?!B)C`` is C
  minus those (a product automaton), provided that B is decided within the token (where a match of
  C may end, B has matched or can no longer match); otherwise, and anywhere but the start, a
  lookahead could look past the end of the token, and it raises. (The JSON Schema translator writes ``(?!"(?:a|b)")"..."``-style terminals, where B
  ends at the token's closing quote, for intersections and complements of string languages.)
* Other lookaheads, backreferences, conditional groups, atomic groups, possessive quantifiers,
  ``\\b``/``\\B`` and the LOCALE flag raise ``UnsupportedRegexError`` naming the feature and the
  pattern. (A lookahead can look past the end of the token, e.g. python.lark's DEC_NUMBER
  ``0(?:_?0)*(?![1-9])``, which a DFA of the token alone cannot express.)
* Lone surrogates can never match (they have no UTF-8 encoding).
* A pattern whose language is empty (e.g. ``[^\\s\\S]``) gives the single-state DFA with no
  accepting state: the only case where state 0 cannot reach acceptance.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import _sre
import numpy as np
from re import _casefix as _sre_casefix
from re import _constants as _C
from re import _parser as _sre_parse

from .errors import UnsupportedRegexError

__all__ = ["ByteDFA", "UnsupportedRegexError", "literal_byte_dfa", "regex_byte_dfa"]

DEFAULT_MAX_STATES = 20_000

_MAX_CP = 0x10FFFF
_UNIVERSE: tuple[tuple[int, int], ...] = ((0, 0xD7FF), (0xE000, _MAX_CP))
_INF = float("inf")


# --------------------------------------------------------------------------------------------------
# The automaton


@dataclass(frozen=True, eq=False, repr=False)
class ByteDFA:
    """A trimmed deterministic automaton over bytes. State 0 is the start state.

    ``transitions[s, b]`` is the next state or -1 (dead). Every state is reachable from 0 and can
    reach an accepting state (except the one state of an empty language). Arrays are read-only.

    Example:
        >>> dfa = regex_byte_dfa(r"é+")
        >>> dfa.matches("éé".encode()), dfa.is_live_prefix("é".encode()[:1]), dfa.matches(b"")
        (True, True, False)
    """

    transitions: np.ndarray  # int32 [n_states, 256]
    accepting: np.ndarray  # bool [n_states]

    def __post_init__(self):
        t = np.array(self.transitions, dtype=np.int32, order="C")
        a = np.array(self.accepting, dtype=bool)
        if t.ndim != 2 or t.shape[1] != 256 or a.shape != (t.shape[0],) or t.shape[0] == 0:
            raise ValueError(f"bad ByteDFA shapes {t.shape}, {a.shape}")
        t.setflags(write=False)
        a.setflags(write=False)
        object.__setattr__(self, "transitions", t)
        object.__setattr__(self, "accepting", a)

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    @functools.cached_property
    def _rows(self) -> list[list[int]]:
        return self.transitions.tolist()

    @functools.cached_property
    def _accepting_list(self) -> list[bool]:
        return self.accepting.tolist()

    def run(self, data: bytes, state: int = 0) -> int:
        """The state after reading ``data`` from ``state``; -1 once dead."""
        rows = self._rows
        for b in data:
            state = rows[state][b]
            if state < 0:
                return -1
        return state

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` is (the UTF-8 encoding of) a full match."""
        s = self.run(data)
        return s >= 0 and self._accepting_list[s]

    def is_live_prefix(self, data: bytes) -> bool:
        """Whether some continuation of ``data`` (possibly empty) is a full match."""
        return self.run(data) >= 0 and self._nonempty

    @functools.cached_property
    def _nonempty(self) -> bool:
        return bool(self.accepting.any())

    def prefix_free(self) -> "ByteDFA":
        """The matches that have no proper prefix which is also a match (transitions out of
        accepting states removed; trimmed and minimised).

        This is what a lexer that stops at the first possible end sees, e.g. lark's
        ``re.match`` on ``".*?(?<!\\\\)(\\\\\\\\)*?"`` (ESCAPED_STRING) or ``/\\*(.|\\n)*?\\*/``
        (C_COMMENT): the full-match language of those lazy patterns also holds ``"a" "b"``-like
        strings that a longest-match lexer would swallow.
        """
        t = np.array(self.transitions)
        t[self.accepting] = -1
        table, acc = _minimize(t, self.accepting)
        if table.shape[0] == 0:
            return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))
        return ByteDFA(table, acc)

    def __repr__(self) -> str:
        return f"ByteDFA(n_states={self.n_states}, n_accepting={int(self.accepting.sum())})"


def regex_byte_dfa(
    pattern: str, flags: Iterable[str] = (), *, max_states: int = DEFAULT_MAX_STATES
) -> ByteDFA:
    """The byte DFA of ``re.fullmatch(pattern, ·, flags)``; ``flags``: lark's letters (i m s x u a).

    Raises ``UnsupportedRegexError`` (a ``ValueError``) for features that a DFA of the token alone
    cannot express, for invalid patterns, and when the DFA would exceed ``max_states`` states.
    Results are cached (they are immutable).
    """
    return _regex_byte_dfa_cached(pattern, frozenset(flags), max_states)


def literal_byte_dfa(
    text: str, flags: Iterable[str] = (), *, max_states: int = DEFAULT_MAX_STATES
) -> ByteDFA:
    """The byte DFA of one string literal (lark ``PatternStr``); flag ``i``: case-insensitive."""
    flags = frozenset(flags)
    if flags - {"u", "m", "s", "x"}:
        return _regex_byte_dfa_cached(re.escape(text), flags, max_states)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedRegexError(f"lone surrogate in string literal {text!r}") from None
    n = len(data) + 1
    if n > max_states:
        raise UnsupportedRegexError(
            f"byte DFA of literal {text[:40]!r} is too large ({n} states > max_states={max_states})"
        )
    trans = np.full((n, 256), -1, dtype=np.int32)
    trans[np.arange(n - 1), np.frombuffer(data, dtype=np.uint8)] = np.arange(1, n, dtype=np.int32)
    acc = np.zeros(n, dtype=bool)
    acc[-1] = True
    return ByteDFA(trans, acc)


_FLAG_BITS = {
    "i": re.IGNORECASE,
    "m": re.MULTILINE,
    "s": re.DOTALL,
    "x": re.VERBOSE,
    "u": re.UNICODE,
    "a": re.ASCII,
    "l": re.LOCALE,
}


@functools.lru_cache(maxsize=4096)
def _regex_byte_dfa_cached(pattern: str, flags: frozenset, max_states: int) -> ByteDFA:
    bits = 0
    for f in flags:
        if f == "l":
            raise _unsupported("LOCALE flag", pattern)
        if f not in _FLAG_BITS:
            raise UnsupportedRegexError(f"unsupported regex flag {f!r} in pattern {pattern!r}")
        bits |= _FLAG_BITS[f]
    try:
        parsed = _sre_parse.parse(pattern, bits)
    except (re.error, ValueError, OverflowError, RecursionError) as e:
        raise UnsupportedRegexError(f"invalid regular expression {pattern!r}: {e}") from None
    if parsed.state.flags & re.LOCALE:
        raise _unsupported("LOCALE flag", pattern)
    items = list(parsed)
    while len(items) == 1 and items[0][0] is _C.SUBPATTERN and not items[0][1][1] and not items[0][1][2]:
        items = list(items[0][1][3])  # a group around everything
    if len(items) == 1 and items[0][0] is _C.BRANCH and any(_leads_with_lookahead(alt) for alt in items[0][1][1]):
        alts = [_compile_leading(pattern, _sre_parse.SubPattern(parsed.state, list(alt)), max_states)
                for alt in items[0][1][1]]
        return _union(alts, pattern, max_states)
    return _compile_leading(pattern, parsed, max_states)


def _leads_with_lookahead(items) -> bool:
    items = list(items)
    return bool(items) and items[0][0] in (_C.ASSERT, _C.ASSERT_NOT) and items[0][1][0] == 1


def _union(dfas: list[ByteDFA], pattern: str, max_states: int) -> ByteDFA:
    """The union of byte DFAs (subset product), trimmed and minimised."""
    rows = [d.transitions.tolist() for d in dfas]
    accs = [d.accepting.tolist() for d in dfas]

    def step(states, b):
        nxt = tuple(-1 if st < 0 else rows[i][st][b] for i, st in enumerate(states))
        return None if all(x < 0 for x in nxt) else nxt

    order, table = _explore(tuple(0 for _ in dfas), step, pattern, max_states, "union of alternatives")
    accepting = np.array([any(st >= 0 and accs[i][st] for i, st in enumerate(states)) for states in order], dtype=bool)
    return _trimmed(table, accepting, pattern, max_states)


def _explore(start, step, pattern: str, max_states: int, what: str) -> tuple[list, np.ndarray]:
    """The states reachable from ``start`` (``step(state, byte)`` gives the next one or None) in
    discovery order, and their transition table over bytes."""
    index, order, table = {start: 0}, [start], []
    for state in order:
        row = [-1] * 256
        for b in range(256):
            nxt = step(state, b)
            if nxt is None:
                continue
            if nxt not in index:
                if len(order) >= 4 * max_states:
                    raise _too_large(pattern, what, len(order), max_states)
                index[nxt] = len(order)
                order.append(nxt)
            row[b] = index[nxt]
        table.append(row)
    return order, np.array(table, dtype=np.int32)


def _trimmed(table: np.ndarray, accepting: np.ndarray, pattern: str, max_states: int) -> ByteDFA:
    """The minimal ByteDFA of a table (the one-state empty DFA for an empty language)."""
    t, acc = _minimize(table, accepting)
    if t.shape[0] == 0:
        return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))
    if t.shape[0] > max_states:
        raise _too_large(pattern, "byte DFA", t.shape[0], max_states)
    return ByteDFA(t, acc)


def _compile_leading(pattern: str, parsed, max_states: int) -> ByteDFA:
    """``parsed`` compiled, with the lookaheads at its start applied (see the module notes)."""
    items = list(parsed)
    leading = []
    while items and items[0][0] in (_C.ASSERT, _C.ASSERT_NOT) and items[0][1][0] == 1:
        leading.append(items.pop(0))
    if not leading:
        return _compile(pattern, parsed, max_states)
    body = _compile(pattern, _sre_parse.SubPattern(parsed.state, items), max_states)
    checks = []
    for op, av in leading:
        sub = list(av[1])
        whole = bool(sub) and sub[-1][0] is _C.AT and sub[-1][1] in (_C.AT_END, _C.AT_END_STRING)
        dfa = _compile(pattern, _sre_parse.SubPattern(parsed.state, sub[:-1] if whole else sub), max_states)
        checks.append((op is _C.ASSERT_NOT, whole, dfa))
    return _with_lookaheads(body, checks, pattern, max_states)


def _with_lookaheads(body: ByteDFA, checks: list, pattern: str, max_states: int) -> ByteDFA:
    """``body`` restricted by lookaheads at the start of the pattern, as ``re.fullmatch`` reads
    them: ``(?=B)C`` is ``C`` and ``B·Σ*`` (some prefix matches B); ``(?!B)C`` is ``C`` minus
    ``B·Σ*``; a body ending in ``$``/``\\Z`` must match the whole string instead of a prefix.
    ``checks``: (negated, whole, DFA of B). One product automaton over bytes, trimmed and
    minimised."""
    matched = -2  # a prefix lookahead whose body has matched: decided for good
    rows = [(dfa.transitions.tolist(), dfa.accepting.tolist()) for _, _, dfa in checks]
    body_rows, body_acc = body.transitions.tolist(), body.accepting.tolist()

    def settle(states):
        out = []
        for (negated, whole, _), (t, acc), st in zip(checks, rows, states):
            if not whole and st >= 0 and acc[st]:
                st = matched
            if negated and st == matched:
                return None  # the excluded pattern matched a prefix: nothing here can be accepted
            if not negated and st == -1:
                return None  # the required pattern can no longer match
            out.append(st)
        return tuple(out)

    def accepts(s0, states) -> bool:
        if not body_acc[s0]:
            return False
        for (negated, whole, _), (t, acc), st in zip(checks, rows, states):
            hit = st == matched or (whole and st >= 0 and acc[st])
            if hit == negated:
                return False
        return True

    start = settle([0] * len(checks))
    if start is None:
        return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))

    def step(state, b):
        s0, states = state
        n0 = body_rows[s0][b]
        if n0 < 0:
            return None
        nxt = settle([st if st < 0 else rows[i][0][st][b] for i, st in enumerate(states)])
        return None if nxt is None else (n0, nxt)

    order, table = _explore((0, start), step, pattern, max_states, "lookahead product")
    for s0, states in order:  # where the token may end, every prefix lookahead must be decided
        if body_acc[s0] and any(st >= 0 and not whole and max(rows[i][0][st]) >= 0
                                for i, ((_, whole, _), st) in enumerate(zip(checks, states))):
            raise _unsupported("lookahead that can look past the end of the token", pattern)
    accepting = np.array([accepts(s0, states) for s0, states in order], dtype=bool)
    return _trimmed(table, accepting, pattern, max_states)


def _unsupported(feature: str, pattern: str) -> UnsupportedRegexError:
    return UnsupportedRegexError(f"unsupported regex feature: {feature} in pattern {pattern!r}")


def _too_large(pattern: str, what: str, n: int, max_states: int) -> UnsupportedRegexError:
    return UnsupportedRegexError(
        f"byte DFA of pattern {pattern!r} is too large "
        f"({what}: {n} states; max_states={max_states})"
    )


# --------------------------------------------------------------------------------------------------
# Sets of code points: tuples of sorted, disjoint, non-adjacent inclusive intervals


def _norm(ivs) -> tuple[tuple[int, int], ...]:
    ivs = sorted(ivs)
    out: list[list[int]] = []
    for lo, hi in ivs:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _subtract(a, b) -> tuple[tuple[int, int], ...]:
    """a minus b (both normalised)."""
    out = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        cur = lo
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def _clip(ivs) -> tuple[tuple[int, int], ...]:
    """Normalise and drop surrogates."""
    return _subtract(_norm(ivs), ((0xD800, 0xDFFF),))


def _complement(ivs) -> tuple[tuple[int, int], ...]:
    return _subtract(_UNIVERSE, ivs)


def _points(points) -> tuple[tuple[int, int], ...]:
    return _norm((p, p) for p in points)


def _contains(ivs, c: int) -> bool:
    i = bisect_right(ivs, (c, _MAX_CP + 1)) - 1
    return i >= 0 and ivs[i][0] <= c <= ivs[i][1]


@functools.cache
def _all_chars() -> str:
    """Every code point in order (surrogates replaced by NUL), for computing classes with ``re``."""
    a = np.arange(_MAX_CP + 1, dtype="<u4")
    a[0xD800:0xE000] = 0
    return a.tobytes().decode("utf-32-le")


@functools.cache
def _unicode_category(letter: str) -> tuple[tuple[int, int], ...]:
    """``\\d``, ``\\s`` or ``\\w`` under Python's Unicode rules, as intervals (found by ``re``)."""
    return _clip((m.start(), m.end() - 1) for m in re.finditer(rf"\{letter}+", _all_chars()))


_ASCII_CATEGORY = {
    "d": ((0x30, 0x39),),
    "s": _norm([(0x09, 0x0D), (0x20, 0x20)]),
    "w": _norm([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
}

_CATEGORIES = {
    _C.CATEGORY_DIGIT: ("d", False),
    _C.CATEGORY_NOT_DIGIT: ("d", True),
    _C.CATEGORY_SPACE: ("s", False),
    _C.CATEGORY_NOT_SPACE: ("s", True),
    _C.CATEGORY_WORD: ("w", False),
    _C.CATEGORY_NOT_WORD: ("w", True),
}


def _category(code, ascii_: bool):
    letter, negated = _CATEGORIES[code]
    ivs = _ASCII_CATEGORY[letter] if ascii_ else _unicode_category(letter)
    return _complement(ivs) if negated else ivs


class _CaseTables:
    """``re``'s case-insensitive equivalence (str patterns, Unicode mode).

    ``re`` matches ``x`` against a cased literal ``c`` iff ``lower(x)`` is in
    ``{lower(c)} | EXTRA_CASES[lower(c)]`` (``lower`` = ``_sre.unicode_tolower``). The code points
    for which this relation is not the identity (``nontrivial``) fall into classes, ``class_of``.
    Only 256-blocks where ``str.lower``/``str.upper`` change something are scanned.
    """

    def __init__(self):
        s = _all_chars()
        tolower = _sre.unicode_tolower
        iscased = _sre.unicode_iscased
        lower: dict[int, int] = {}
        cased: list[int] = []
        for base in range(0, _MAX_CP + 1, 256):
            block = s[base : base + 256]
            if block.lower() == block and block.upper() == block:
                continue
            for x in range(base, base + 256):
                if 0xD800 <= x <= 0xDFFF:
                    continue
                if iscased(x):
                    cased.append(x)
                lx = tolower(x)
                if lx != x:
                    lower[x] = lx
        extra = _sre_casefix._EXTRA_CASES
        keys = set(lower.values()) | set(extra) | {k for v in extra.values() for k in v}
        parent = {k: k for k in keys}

        def find(k):
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for k, others in extra.items():
            for o in others:
                ra, rb = find(k), find(o)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        members: dict[int, list[int]] = {}
        for x in sorted(set(lower) | keys):
            lx = lower.get(x, x)
            if lx in parent:
                members.setdefault(find(lx), []).append(x)
        self.lower = lower
        self.cased = sorted(cased)
        self.class_of: dict[int, tuple[int, ...]] = {}
        for group in members.values():
            if len(group) > 1:
                t = tuple(group)
                for x in group:
                    self.class_of[x] = t
        self.nontrivial = sorted(self.class_of)


@functools.cache
def _case_tables() -> _CaseTables:
    return _CaseTables()


def _in_sorted(points: list[int], ivs) -> list[int]:
    """The members of the sorted list ``points`` that lie in ``ivs``."""
    out: list[int] = []
    for lo, hi in ivs:
        out.extend(points[bisect_left(points, lo) : bisect_right(points, hi)])
    return out


def _has_cased(ivs, ascii_: bool) -> bool:
    if ascii_:
        return any(lo <= 0x7A and hi >= 0x41 for lo, hi in _subtract(ivs, ((0x5B, 0x60),)))
    return bool(_in_sorted(_case_tables().cased, ivs))


def _fold(ivs, ascii_: bool):
    """All code points that ``re`` (ignore case) treats as equal to a member of ``ivs``."""
    if ascii_:
        extra = []
        for lo, hi in ivs:
            for a, b, d in ((0x41, 0x5A, 32), (0x61, 0x7A, -32)):
                l2, h2 = max(lo, a), min(hi, b)
                if l2 <= h2:
                    extra.append((l2 + d, h2 + d))
        return _norm(list(ivs) + extra) if extra else ivs
    t = _case_tables()
    hits = _in_sorted(t.nontrivial, ivs)
    if not hits:
        return ivs
    seen = set()
    for x in hits:
        seen.update(t.class_of[x])
    return _norm(list(ivs) + list(_points(seen)))


def _fold_category(ivs, ascii_: bool):
    """``{x : lower(x) in ivs}``: how ``re`` tests a category inside a case-folded set."""
    if ascii_:
        out = [iv for iv in _subtract(ivs, ((0x41, 0x5A),))]
        out += [(c, c) for c in range(0x41, 0x5B) if _contains(ivs, c + 32)]
        return _norm(out)
    t = _case_tables()
    keep = _subtract(ivs, _points(t.lower))
    add = [x for x, lx in t.lower.items() if _contains(ivs, lx)]
    return _norm(list(keep) + [(x, x) for x in add])


def _literal_set(c: int, flags: int):
    if not flags & re.IGNORECASE:
        return _clip([(c, c)])
    ascii_ = bool(flags & re.ASCII)
    if ascii_:
        if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            return _norm([(c | 0x20, c | 0x20), (c & ~0x20, c & ~0x20)])
        return _clip([(c, c)])
    if not _sre.unicode_iscased(c):
        return _clip([(c, c)])
    cls = _case_tables().class_of.get(c)
    return _points(cls) if cls else _clip([(c, c)])


def _in_set(items, flags: int):
    negate = False
    lits: list[tuple[int, int]] = []
    cats = []
    for op, av in items:
        if op is _C.NEGATE:
            negate = True
        elif op is _C.LITERAL:
            lits.append((av, av))
        elif op is _C.RANGE:
            lits.append(av)
        elif op is _C.CATEGORY:
            cats.append(av)
        else:  # pragma: no cover - the parser emits nothing else inside [...]
            raise UnsupportedRegexError(f"unsupported character-set item {op}")
    ascii_ = bool(flags & re.ASCII)
    raw = _norm(lits)
    lit = _clip(raw)
    # re folds the whole set only if one of its literals/ranges is cased (a non-BMP range counts).
    folded = flags & re.IGNORECASE and (
        _has_cased(lit, ascii_) or (not ascii_ and any(hi > 0xFFFF for _, hi in raw))
    )
    parts = [_fold(lit, ascii_) if folded else lit]
    for code in cats:
        cat = _category(code, ascii_)
        parts.append(_fold_category(cat, ascii_) if folded else cat)
    ivs = _norm([iv for p in parts for iv in p])
    return _complement(ivs) if negate else ivs


# --------------------------------------------------------------------------------------------------
# Thompson NFA over code-point sets


class _Ctx:
    """Where an item sits: bounds on the characters consumed before/after it (for anchors and
    lookbehind)."""

    __slots__ = ("min_before", "max_before", "max_after", "in_lookbehind")

    def __init__(self, min_before, max_before, max_after, in_lookbehind):
        self.min_before = min_before
        self.max_before = max_before
        self.max_after = max_after
        self.in_lookbehind = in_lookbehind


_REPEATS = (_C.MAX_REPEAT, _C.MIN_REPEAT)
_BEGIN = (_C.AT_BEGINNING, _C.AT_BEGINNING_STRING)
_END = (_C.AT_END, _C.AT_END_STRING)


class _NFA:
    def __init__(self, pattern: str, max_states: int):
        self.pattern = pattern
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[int, int]]] = []  # (charset id, target)
        self.cond: list[list[tuple[int, int, bool]]] = []  # (target, lookbehind id, negated)
        self.charsets: list[tuple[tuple[int, int], ...]] = []
        self._charset_index: dict = {}
        self._charset_cache: dict = {}
        self.lookbehinds: list[tuple[int, int]] = []  # (start, final) of the Σ*X fragment
        self.limit = 10 * max_states + 1000
        self.max_states = max_states

    def unsupported(self, feature: str) -> UnsupportedRegexError:
        return _unsupported(feature, self.pattern)

    def state(self) -> int:
        n = len(self.eps)
        if n >= self.limit:
            raise _too_large(self.pattern, "NFA", n, self.max_states)
        self.eps.append([])
        self.edges.append([])
        self.cond.append([])
        return n

    def charset_id(self, ivs) -> int:
        i = self._charset_index.get(ivs)
        if i is None:
            i = self._charset_index[ivs] = len(self.charsets)
            self.charsets.append(ivs)
        return i

    def charset_for(self, op, av, flags: int) -> int:
        rel = flags & (re.IGNORECASE | re.ASCII | re.DOTALL)
        key = (op, tuple(av) if op is _C.IN else av, rel)
        cid = self._charset_cache.get(key)
        if cid is None:
            if op is _C.LITERAL:
                ivs = _literal_set(av, flags)
            elif op is _C.NOT_LITERAL:
                ivs = _complement(_literal_set(av, flags))
            elif op is _C.ANY:
                ivs = _UNIVERSE if flags & re.DOTALL else _subtract(_UNIVERSE, ((10, 10),))
            else:
                ivs = _in_set(av, flags)
            cid = self._charset_cache[key] = self.charset_id(ivs)
        return cid

    # widths -----------------------------------------------------------------------------------

    def width(self, item) -> tuple[int, float]:
        op, av = item
        if op in (_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN):
            return 1, 1
        if op is _C.SUBPATTERN:
            return self.seq_width(av[3])
        if op is _C.ATOMIC_GROUP:
            return self.seq_width(av)
        if op is _C.BRANCH:
            ws = [self.seq_width(alt) for alt in av[1]]
            return min(w[0] for w in ws), max(w[1] for w in ws)
        if op in _REPEATS or op is _C.POSSESSIVE_REPEAT:
            lo, hi, body = av
            blo, bhi = self.seq_width(body)
            if hi == _C.MAXREPEAT:
                return lo * blo, (_INF if bhi > 0 else 0)
            return lo * blo, (hi * bhi if hi > 0 else 0)
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            return 0, 0
        return 0, _INF

    def seq_width(self, items) -> tuple[int, float]:
        lo, hi = 0, 0
        for it in items:
            a, b = self.width(it)
            lo += a
            hi += b
        return lo, hi

    # construction -----------------------------------------------------------------------------

    def seq(self, items, start: int, flags: int, ctx: _Ctx) -> int:
        """Builds ``items`` from ``start``; returns the end state. Adds no edge into ``start``."""
        items = list(items)
        widths = [self.width(it) for it in items]
        suffix_max = [0] * (len(items) + 1)
        for i in range(len(items) - 1, -1, -1):
            suffix_max[i] = suffix_max[i + 1] + widths[i][1]
        cur = start
        min_b, max_b = ctx.min_before, ctx.max_before
        for i, it in enumerate(items):
            sub = _Ctx(min_b, max_b, ctx.max_after + suffix_max[i + 1], ctx.in_lookbehind)
            cur = self.item(it, cur, flags, sub)
            min_b += widths[i][0]
            max_b += widths[i][1]
        return cur

    def item(self, item, start: int, flags: int, ctx: _Ctx) -> int:
        op, av = item
        if op in (_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN):
            cs = self.charset_for(op, av, flags)
            end = self.state()
            self.edges[start].append((cs, end))
            return end
        if op is _C.SUBPATTERN:
            _group, add, remove, body = av
            return self.seq(body, start, (flags | add) & ~remove, ctx)
        if op is _C.BRANCH:
            end = self.state()
            for alt in av[1]:
                e = self.seq(alt, start, flags, ctx)
                self.eps[e].append(end)
            return end
        if op in _REPEATS:
            return self.repeat(av, start, flags, ctx)
        if op is _C.AT:
            if av in _BEGIN:
                if ctx.max_before == 0:
                    return start
                name = "^" if av is _C.AT_BEGINNING else "\\A"
                raise self.unsupported(f"anchor in the middle ({name})")
            if av in _END:
                if ctx.max_after == 0:
                    return start
                name = "$" if av is _C.AT_END else "\\Z"
                raise self.unsupported(f"anchor in the middle ({name})")
            if av is _C.AT_BOUNDARY:
                raise self.unsupported("word boundary anchor \\b")
            if av is _C.AT_NON_BOUNDARY:
                raise self.unsupported("non-word-boundary anchor \\B")
            raise self.unsupported(f"anchor {av}")
        if op in (_C.ASSERT, _C.ASSERT_NOT):
            direction, body = av
            negated = op is _C.ASSERT_NOT
            if direction == 1:
                name = "negative lookahead (?!...)" if negated else "lookahead (?=...)"
                raise self.unsupported(name)
            name = "negative lookbehind (?<!...)" if negated else "lookbehind (?<=...)"
            return self.lookbehind(name, body, negated, start, flags, ctx)
        if op is _C.GROUPREF:
            raise self.unsupported("backreference")
        if op is _C.GROUPREF_EXISTS:
            raise self.unsupported("conditional group (?(id)yes|no)")
        if op is _C.ATOMIC_GROUP:
            raise self.unsupported("atomic group (?>...)")
        if op is _C.POSSESSIVE_REPEAT:
            raise self.unsupported("possessive quantifier")
        raise self.unsupported(f"regex construct {op}")

    def repeat(self, av, start: int, flags: int, ctx: _Ctx) -> int:
        lo, hi, body = av
        blo, bhi = self.seq_width(body)
        # Copies after the first see more characters around them.
        more = 0 if hi <= 1 else (_INF if (hi == _C.MAXREPEAT and bhi > 0) else (hi - 1) * bhi)
        sub = _Ctx(ctx.min_before, ctx.max_before + more, ctx.max_after + more, ctx.in_lookbehind)
        cur = start
        for _ in range(lo):
            cur = self.seq(body, cur, flags, sub)
        if hi == _C.MAXREPEAT:
            loop = self.state()
            self.eps[cur].append(loop)
            e = self.seq(body, loop, flags, sub)
            self.eps[e].append(loop)
            end = self.state()
            self.eps[loop].append(end)
            return end
        if hi == lo:
            return cur
        end = self.state()
        for _ in range(hi - lo):
            self.eps[cur].append(end)
            cur = self.seq(body, cur, flags, sub)
        self.eps[cur].append(end)
        return end

    def lookbehind(self, name: str, body, negated: bool, start: int, flags: int, ctx: _Ctx) -> int:
        if ctx.in_lookbehind:
            raise self.unsupported(f"nested lookaround ({name} inside a lookbehind)")
        width = self.seq_width(body)[0]
        if ctx.min_before < width:
            raise self.unsupported(f"{name} that can look before the start of the token")
        # Tracker automaton for Σ*X: whether the text read so far ends with a match of X.
        fs = self.state()
        self.edges[fs].append((self.charset_id(_UNIVERSE), fs))
        fe = self.seq(body, fs, flags, _Ctx(0, _INF, _INF, True))
        lb = len(self.lookbehinds)
        self.lookbehinds.append((fs, fe))
        end = self.state()
        self.cond[start].append((end, lb, negated))
        return end


# --------------------------------------------------------------------------------------------------
# Atoms, determinisation, minimisation


def _atoms(charsets):
    """Partition of the code points used by ``charsets`` into atoms.

    Returns (atom intervals list, per charset the list of its atoms).
    """
    bounds = {0, _MAX_CP + 1}
    for ivs in charsets:
        for lo, hi in ivs:
            bounds.add(lo)
            bounds.add(hi + 1)
    if not charsets:
        return [], []
    b = np.array(sorted(bounds), dtype=np.int64)
    n_el = len(b) - 1
    m = len(charsets)
    member = np.zeros((m, n_el + 1), dtype=np.int32)
    for i, ivs in enumerate(charsets):
        if ivs:
            arr = np.array(ivs, dtype=np.int64)
            np.add.at(member[i], np.searchsorted(b, arr[:, 0]), 1)
            np.add.at(member[i], np.searchsorted(b, arr[:, 1] + 1), -1)
    member = np.cumsum(member, axis=1)[:, :n_el] > 0  # [m, n_el]
    packed = np.ascontiguousarray(np.packbits(member, axis=0).T)  # [n_el, ceil(m/8)]
    sig = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(n_el)
    _, first, inv = np.unique(sig, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    covered = member.any(axis=0)
    # Atom ids in order of first appearance, skipping the "in no set" class.
    order = [int(c) for c in np.argsort(first) if covered[first[c]]]
    atom_id = np.full(len(first), -1, dtype=np.int64)
    atom_id[order] = np.arange(len(order))
    el_atom = atom_id[inv]
    atom_ivs: list[list[tuple[int, int]]] = [[] for _ in order]
    los, his = b[:-1].tolist(), (b[1:] - 1).tolist()
    for j, a in enumerate(el_atom.tolist()):
        if a >= 0:
            lst = atom_ivs[a]
            if lst and lst[-1][1] + 1 == los[j]:
                lst[-1] = (lst[-1][0], his[j])
            else:
                lst.append((los[j], his[j]))
    per_charset = []
    for i in range(m):
        per_charset.append(sorted(set(el_atom[member[i]].tolist())))
    return atom_ivs, per_charset


def _determinize(nfa: _NFA, start: int, final: int, atoms_of, n_atoms: int, trackers, limit: int):
    """Subset construction over atoms. ``trackers``: list of (table, accept set) of the lookbehind
    automata (run in parallel on the text read). Returns (table int32 [n, n_atoms], accepting)."""
    eps, edges, cond = nfa.eps, nfa.edges, nfa.cond

    def closure(seed, tr):
        seen = set(seed)
        stack = list(seed)
        while stack:
            s = stack.pop()
            for t in eps[s]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
            for t, lb, neg in cond[s]:
                if t not in seen and (tr[lb] in trackers[lb][1]) != neg:
                    seen.add(t)
                    stack.append(t)
        return frozenset(s for s in seen if edges[s] or s == final)

    tr0 = tuple(0 for _ in trackers)
    key0 = (closure([start], tr0), tr0)
    ids = {key0: 0}
    keys = [key0]
    rows: list[dict[int, int]] = []
    memo: dict = {}
    i = 0
    while i < len(keys):
        key, tr = keys[i]
        moves: dict[int, set] = {}
        for s in key:
            for cs, t in edges[s]:
                for a in atoms_of[cs]:
                    ms = moves.get(a)
                    if ms is None:
                        moves[a] = {t}
                    else:
                        ms.add(t)
        row = {}
        for a, ts in moves.items():
            tr2 = tuple(trackers[j][0][tr[j]][a] for j in range(len(trackers))) if trackers else ()
            mk = (frozenset(ts), tr2)
            nk = memo.get(mk)
            if nk is None:
                nk = memo[mk] = (closure(ts, tr2), tr2)
            j = ids.get(nk)
            if j is None:
                j = ids[nk] = len(keys)
                keys.append(nk)
                if len(keys) > limit:
                    raise _too_large(nfa.pattern, "character DFA", len(keys), nfa.max_states)
            row[a] = j
        rows.append(row)
        i += 1
    table = np.full((len(keys), max(n_atoms, 1)), -1, dtype=np.int32)
    for s, row in enumerate(rows):
        if row:
            table[s, list(row)] = list(row.values())
    accepting = np.array([final in k for k, _ in keys], dtype=bool)
    return table, accepting


def _minimize(table: np.ndarray, accepting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimises a DFA with start 0 and -1 = dead; drops dead and unreachable states and renumbers
    in BFS order from the start (successors in symbol order, so equivalent DFAs come out identical).
    Returns (table, accepting); 0 rows if the language is empty.

    Moore refinement (vectorised) for a few rounds, which settles typical terminals; Hopcroft for
    the deep ones (long counted repetitions)."""
    n, k = table.shape
    if not accepting.any():
        return np.zeros((0, k), dtype=np.int32), np.zeros(0, dtype=bool)
    cols, col_inv = np.unique(table, axis=1, return_inverse=True)  # byte (atom) classes
    col_inv = col_inv.reshape(-1)
    kc = cols.shape[1]
    sink = n
    T = np.vstack([np.where(cols < 0, sink, cols), np.full((1, kc), sink)]).astype(np.int64)
    acc = np.append(np.asarray(accepting, dtype=bool), False)
    bo = _moore(T, acc, max_rounds=48)
    if bo is None:
        bo = _hopcroft(T, acc)
    n_blocks = int(bo.max()) + 1
    dead = int(bo[sink])
    rep = np.zeros(n_blocks, dtype=np.int64)
    rep[bo] = np.arange(n + 1)  # some member of each block
    qt = bo[T[rep]]  # quotient [n_blocks, kc]
    # Canonical numbering: BFS from the start, successors in byte (symbol) order.
    _, first_symbol = np.unique(col_inv, return_index=True)
    start = int(bo[0])
    new_id = {start: 0}
    order = [start]
    i = 0
    qtl = qt[:, np.argsort(first_symbol)].tolist()
    while i < len(order):
        for t in qtl[order[i]]:
            if t != dead and t not in new_id:
                new_id[t] = len(order)
                order.append(t)
        i += 1
    remap = np.full(n_blocks, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    remap[dead] = -1
    small = remap[qt[order]]  # [m, kc]
    return np.ascontiguousarray(small[:, col_inv], dtype=np.int32), acc[rep[order]]


def _moore(T: np.ndarray, acc: np.ndarray, max_rounds: int):
    """Block of each state after Moore refinement, or None if it has not settled in max_rounds."""
    cls = acc.astype(np.int64)
    count = int(cls.max()) + 1 if acc.any() and not acc.all() else 1
    for _ in range(max_rounds):
        sig = np.ascontiguousarray(np.concatenate([cls[:, None], cls[T]], axis=1))
        rows = sig.view(np.dtype((np.void, sig.shape[1] * sig.itemsize))).reshape(-1)
        _, inv = np.unique(rows, return_inverse=True)
        inv = inv.reshape(-1)
        new_count = int(inv.max()) + 1
        cls = inv.astype(np.int64)
        if new_count == count:
            return cls
        count = new_count
    return None


def _hopcroft(T: np.ndarray, acc: np.ndarray) -> np.ndarray:
    N, kc = T.shape
    preds = []
    for c in range(kc):
        col = T[:, c]
        order = np.argsort(col, kind="stable")
        bounds = np.searchsorted(col[order], np.arange(N + 1)).tolist()
        ol = order.tolist()
        preds.append([ol[bounds[t] : bounds[t + 1]] for t in range(N)])
    accs = set(np.nonzero(acc)[0].tolist())
    rest = set(range(N)) - accs  # holds the sink at least
    blocks = [accs, rest]
    block_of = [0] * N
    for s in rest:
        block_of[s] = 1
    work = {0 if len(accs) <= len(rest) else 1}
    while work:
        a = work.pop()
        members = list(blocks[a])
        for c in range(kc):
            pc = preds[c]
            touched: dict[int, list[int]] = {}
            for t in members:
                for s in pc[t]:
                    b = block_of[s]
                    lst = touched.get(b)
                    if lst is None:
                        touched[b] = [s]
                    else:
                        lst.append(s)
            for b, xs in touched.items():
                blk = blocks[b]
                if len(xs) == len(blk):
                    continue
                xset = set(xs)
                blk -= xset
                nb = len(blocks)
                blocks.append(xset)
                for s in xs:
                    block_of[s] = nb
                if b in work or len(xset) <= len(blk):
                    work.add(nb)
                else:
                    work.add(b)
    return np.array(block_of, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# UTF-8


def _utf8_sequences(lo: int, hi: int) -> list[tuple[tuple[int, int], ...]]:
    """Split the code-point range [lo, hi] (no surrogates) into sequences of byte ranges whose
    products are exactly the UTF-8 encodings of the range (as Rust regex-syntax's Utf8Sequences)."""
    out = []
    stack = [(lo, hi)]
    while stack:
        lo, hi = stack.pop()
        while True:
            for boundary in (0x7F, 0x7FF, 0xFFFF):
                if lo <= boundary < hi:
                    stack.append((boundary + 1, hi))
                    hi = boundary
                    break
            else:
                if hi <= 0x7F:
                    out.append(((lo, hi),))
                    break
                for i in (1, 2, 3):
                    m = (1 << (6 * i)) - 1
                    if lo & ~m != hi & ~m:
                        if lo & m:
                            stack.append(((lo | m) + 1, hi))
                            hi = lo | m
                            break
                        if hi & m != m:
                            stack.append((hi & ~m, hi))
                            hi = (hi & ~m) - 1
                            break
                else:
                    a = chr(lo).encode("utf-8")
                    b = chr(hi).encode("utf-8")
                    out.append(tuple(zip(a, b)))
                    break
    return out


def _expand_bytes(table, accepting, atom_ivs, pattern: str, max_states: int):
    """Minimal character DFA (over atoms) -> minimal byte DFA.

    Each character state gets a deterministic byte trie of the UTF-8 sequences of its transitions.
    The tries are hash-consed bottom-up (a node is identified by its row of byte ranges -> canonical
    children), which minimises the acyclic inside-a-character part (Revuz); character states stay
    pairwise inequivalent, and a node inside a character never equals a character state or a node of
    another depth, so the result is minimal without a general minimisation pass.
    Returns (table int32 [m, 256], accepting) in canonical BFS numbering.
    """
    n = table.shape[0]
    rows: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    by_items: dict = {}  # frozenset of (rest, target) -> node
    by_row: dict = {}  # canonical row -> node
    seq_cache: dict = {}
    limit = max_states  # every node made is part of the final (minimal) DFA

    def expand(items) -> list[tuple[int, int, int]]:
        groups: dict[tuple[int, int], list] = {}
        for seq, t in items:
            groups.setdefault(seq[0], []).append((seq[1:], t))
        bounds = sorted({x for lo, hi in groups for x in (lo, hi + 1)})
        ranges = list(groups.items())
        row: list[tuple[int, int, int]] = []
        for a, b1 in zip(bounds, bounds[1:]):
            b = b1 - 1
            sub = []
            for (lo, hi), rests in ranges:
                if lo <= a and b <= hi:
                    sub.extend(rests)
            if not sub:
                continue
            if len(sub) == 1 and not sub[0][0]:
                child = sub[0][1]
            else:
                key = frozenset(sub)
                child = by_items.get(key)
                if child is None:
                    crow = tuple(expand(sub))
                    child = by_row.get(crow)
                    if child is None:
                        child = by_row[crow] = len(rows)
                        rows.append(list(crow))
                        if len(rows) > limit:
                            raise _too_large(pattern, "byte DFA", len(rows), max_states)
                    by_items[key] = child
            if row and row[-1][2] == child and row[-1][1] + 1 == a:
                row[-1] = (row[-1][0], b, child)
            else:
                row.append((a, b, child))
        return row

    tl = table.tolist()
    for s in range(n):
        by_target: dict[int, list[int]] = {}
        for a, t in enumerate(tl[s]):
            if t >= 0:
                by_target.setdefault(t, []).append(a)
        if not by_target:
            continue
        items = []
        for t, atoms in by_target.items():
            key = tuple(atoms)
            seqs = seq_cache.get(key)
            if seqs is None:
                ivs = _norm([iv for a in atoms for iv in atom_ivs[a]])
                seqs = seq_cache[key] = [q for lo, hi in ivs for q in _utf8_sequences(lo, hi)]
            items.extend((q, t) for q in seqs)
        rows[s] = expand(items)
    # Canonical numbering: BFS from the start, successors in byte order.
    new_id = {0: 0}
    order = [0]
    i = 0
    while i < len(order):
        for _, _, t in rows[order[i]]:
            if t not in new_id:
                new_id[t] = len(order)
                order.append(t)
        i += 1
    m = len(order)
    out = np.full((m, 256), -1, dtype=np.int32)
    for new, old in enumerate(order):
        for lo, hi, t in rows[old]:
            out[new, lo : hi + 1] = new_id[t]
    acc = np.zeros(m, dtype=bool)
    for new, old in enumerate(order):
        if old < n and accepting[old]:
            acc[new] = True
    return out, acc


# --------------------------------------------------------------------------------------------------


def _nfa_size(items) -> float:
    """About how many NFA states ``items`` will take (to refuse huge counted repetitions early)."""
    total = 0.0
    for op, av in items:
        if op is _C.SUBPATTERN:
            total += _nfa_size(av[3])
        elif op is _C.BRANCH:
            total += 1 + sum(_nfa_size(alt) for alt in av[1])
        elif op in _REPEATS:
            lo, hi, body = av
            copies = lo + 1 if hi == _C.MAXREPEAT else hi
            total += 2 + copies * _nfa_size(body)
        elif op is _C.ASSERT or op is _C.ASSERT_NOT:
            total += 2 + _nfa_size(av[1])
        else:
            total += 1
    return total


def _compile(pattern: str, parsed, max_states: int) -> ByteDFA:
    nfa = _NFA(pattern, max_states)
    estimate = _nfa_size(parsed)
    if estimate > nfa.limit:
        raise _too_large(pattern, "NFA (estimated)", int(min(estimate, 10**18)), max_states)
    start = nfa.state()
    final = nfa.seq(parsed, start, parsed.state.flags, _Ctx(0, 0, 0, False))
    atom_ivs, atoms_of = _atoms(nfa.charsets)
    n_atoms = len(atom_ivs)
    limit = 4 * max_states + 100
    trackers = []
    for fs, fe in nfa.lookbehinds:
        t, acc = _determinize(nfa, fs, fe, atoms_of, n_atoms, [], limit)
        trackers.append((t.tolist(), frozenset(np.nonzero(acc)[0].tolist())))
    table, accepting = _determinize(nfa, start, final, atoms_of, n_atoms, trackers, limit)
    table, accepting = _minimize(table, accepting)
    if table.shape[0] == 0:  # empty language
        return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))
    if table.shape[0] > max_states:
        raise _too_large(pattern, "character DFA", table.shape[0], max_states)
    btable, bacc = _expand_bytes(table, accepting, atom_ivs, pattern, max_states)
    if btable.shape[0] > max_states:
        raise _too_large(pattern, "byte DFA", btable.shape[0], max_states)
    return ByteDFA(btable, bacc)
