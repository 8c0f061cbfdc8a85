"""An independent reference implementation of grammar-constrained token masks, for tests only.

It shares no code with :mod:`grammars`: the parsing side is Lark's own LALR(1) interactive parser
(``InteractiveParser.accepts()`` / ``feed_token``), the lexing side is the third-party ``regex``
module's *partial* matching (``pattern.fullmatch(text, partial=True)`` matches iff ``text`` is a
prefix of some full match) applied to the terminal patterns Lark itself reports
(``TerminalDef.pattern.to_regexp()``, flags included; a flag-less ``PatternStr`` is compared as a
plain string, which is the same thing).

Semantics (those of the engine, restated):

* The text is a sequence of lexemes. The terminals *acceptable* in a parser state are those Lark's
  LALR parser would actually shift there (``accepts()``, which performs the reductions first) plus
  the ``%ignore`` terminals, which may occur anywhere between lexemes and are dropped.
* Lexing is greedy, contextual and never backtracks. With pending lexeme text ``p`` and next
  character ``c``: if ``p + c`` is a prefix of a full match of some acceptable terminal, ``c``
  extends the lexeme. Otherwise ``p`` must fully match an acceptable terminal; among those the
  highest priority wins, ties going to string literals before regexes, then to the larger maximum
  width (lark's ``max_width``), then to the longer pattern, then to the alphabetically first name. The winner is fed to the parser (unless it is an
  ``%ignore`` terminal) and ``c`` starts a new lexeme, which must be a prefix of a match of a
  terminal acceptable in the new state. At the end of the text the pending lexeme is ended the
  same way and the parser must accept ``$END``.
* A byte string is *viable* iff it is a prefix of the UTF-8 encoding of a complete string. A token
  is allowed after a prefix ``P`` iff ``P + token_bytes`` is viable; ``None`` and empty tokens
  never are; the EOS ids are allowed iff ``P`` itself is complete.
* Invalid UTF-8 is never viable. A string ending inside a multi-byte character is viable iff some
  completion of that character gives a viable string. The code points whose encoding starts with
  given bytes form one contiguous range; when it holds at most 64 code points all of them are
  tried (exact), otherwise (a bare 3- or 4-byte lead, or two bytes of a 4-byte character) a
  deterministic sample is tried: the lowest and highest code points of the range, 64 spread
  evenly between them, and the non-ASCII characters a case-insensitive ASCII letter matches
  (only ``K``, U+212A, is 3-byte). This sample is an approximation: a grammar that allows only a
  few scattered characters of such a block could be judged wrongly. It is exact for every bundled
  grammar, whose terminals treat all characters of each such block alike (classes that list only
  ASCII characters, and case-insensitive ASCII keywords).
* Case-insensitive literals mean what Python's ``re`` (Lark's regex engine) makes of them, which
  differs from ``regex``'s folding for ``İ``/``ı``; see :func:`_re_casefold_compatible`.

Viability is decided as "the lexer/parser state is live": every character so far was consumed and
the pending lexeme is a prefix of a match of an acceptable terminal. Live implies completable
whenever, after any shift, the rest of a sentence can be spelled so that greedy lexing splits it
back into the same lexemes. This holds for all bundled grammars (LALR(1) never shifts an erroneous
terminal, so every live parser stack has a completion; the grammars with two adjacent terminals
whose spellings could run together allow an ``%ignore`` separator, and CSV/choices have none that
do). ``tests/test_completeness.py`` checks it on samples by actually completing strings.

API: :func:`allowed_tokens`, :func:`viable`, :func:`is_complete`, :func:`find_completion`.
"""

from __future__ import annotations

import array
import copy
from collections.abc import Iterable, Sequence

import lark
import regex
from lark.lexer import PatternStr, Token

__all__ = ["allowed_tokens", "find_completion", "is_complete", "oracle_for", "viable"]

_SAMPLE = 64  # code points tried per UTF-8 prefix (plus the two ends) when there are more than 64


# ----------------------------------------------------------------------------------------------
# Grammar side: Lark's LALR parser, one canonical InteractiveParser per distinct state stack.
# ----------------------------------------------------------------------------------------------


class _Oracle:
    """Per-grammar caches: parser states, acceptable sets, transitions, lexeme starts."""

    def __init__(self, grammar_text: str) -> None:
        self.lark = lark.Lark(grammar_text, parser="lalr")
        self.ignore = frozenset(self.lark.ignore_tokens)
        self.partial: dict[str, object] = {}  # name -> callable(text) -> bool (prefix of a match)
        self.full: dict[str, object] = {}  # name -> callable(text) -> bool (full match)
        self.rank: dict[str, tuple] = {}  # name -> sort key, smallest wins
        for t in self.lark.terminals:
            pat = t.pattern
            if isinstance(pat, PatternStr) and not pat.flags:
                lit = pat.value
                self.partial[t.name] = lit.startswith
                self.full[t.name] = lit.__eq__
            else:
                rx = regex.compile(_re_casefold_compatible(pat.to_regexp()))
                self.partial[t.name] = _partial_fn(rx)
                self.full[t.name] = _full_fn(rx)
            is_lit = isinstance(pat, PatternStr)
            # lark's lexer order: priority, literal before regex ("unless"), wider regex first,
            # longer pattern first, then name
            self.rank[t.name] = (-t.priority, 0 if is_lit else 1, -pat.max_width, -len(pat.value),
                                 t.name)

        root = self.lark.parse_interactive("")
        conf = root.parser_state.parse_conf
        conf_nocb = copy.copy(conf)  # no tree building: only the state stack matters here
        conf_nocb.callbacks = {}
        root.parser_state.parse_conf = conf_nocb
        self._sid_of: dict[tuple, int] = {}
        self._ips: list = []
        self.acc: list[tuple[str, ...]] = []  # sid -> acceptable terminals (ignore included, no $END)
        self.end_ok: list[bool] = []  # sid -> $END acceptable
        self.depth: list[int] = []  # sid -> length of the LALR state stack
        self._trans: dict[tuple[int, str], int] = {}
        self._start: dict[tuple[int, str], tuple[str, ...]] = {}
        self._winner: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._spelling: dict[str, str] = {}
        self.sid0 = self._intern(root)

    # -- parser states ------------------------------------------------------------------------

    def _intern(self, ip) -> int:
        key = tuple(ip.parser_state.state_stack)
        sid = self._sid_of.get(key)
        if sid is None:
            sid = len(self._ips)
            self._sid_of[key] = sid
            self._ips.append(ip)
            accepts = ip.accepts()
            self.end_ok.append("$END" in accepts)
            self.depth.append(len(key))
            names = (set(accepts) - {"$END"}) | self.ignore
            self.acc.append(tuple(sorted(names)))
        return sid

    def trans(self, sid: int, term: str) -> int:
        """The state after shifting acceptable terminal ``term`` in state ``sid``."""
        key = (sid, term)
        nxt = self._trans.get(key)
        if nxt is None:
            ip = self._ips[sid].copy(deepcopy_values=False)
            ip.feed_token(Token(term, ""))
            nxt = self._trans[key] = self._intern(ip)
        return nxt

    def start(self, sid: int, c: str) -> tuple[str, ...]:
        """Acceptable terminals of state ``sid`` that a lexeme starting with ``c`` could be."""
        key = (sid, c)
        got = self._start.get(key)
        if got is None:
            partial = self.partial
            got = self._start[key] = tuple(t for t in self.acc[sid] if partial[t](c))
        return got

    def winner(self, p: str, alive: tuple[str, ...]) -> str | None:
        """The terminal lexeme ``p`` ends as (``alive``: the terminals ``p`` is a prefix of)."""
        key = (p, alive)
        if key in self._winner:
            return self._winner[key]
        full = self.full
        cands = [t for t in alive if full[t](p)]
        w = min(cands, key=self.rank.__getitem__) if cands else None
        if len(self._winner) > 200_000:
            self._winner.clear()
        self._winner[key] = w
        return w

    # -- characters -----------------------------------------------------------------------------

    def step(self, sid: int, p: str, alive: tuple[str, ...], c: str):
        """Consume character ``c``: the new ``(sid, p, alive)`` or ``None`` if the text dies."""
        if p:
            q = p + c
            partial = self.partial
            ext = tuple(t for t in alive if partial[t](q))
            if ext:
                return sid, q, ext
            w = self.winner(p, alive)
            if w is None:
                return None
            if w not in self.ignore:
                sid = self.trans(sid, w)
        nxt = self.start(sid, c)
        if not nxt:
            return None
        return sid, c, nxt

    def complete(self, sid: int, p: str, alive: tuple[str, ...]) -> bool:
        if p:
            w = self.winner(p, alive)
            if w is None:
                return False
            if w not in self.ignore:
                sid = self.trans(sid, w)
        return self.end_ok[sid]

    # -- completions (for the tests' self-checks) -------------------------------------------

    def shortest_matches(self, name: str, prefix: str = "", limit: int = 3, max_len: int = 12) -> list[str]:
        """Up to ``limit`` shortest printable-ASCII strings ``x`` with ``prefix + x`` a full match."""
        out: list[str] = []
        partial, full = self.partial[name], self.full[name]
        level = [prefix]
        for _ in range(max_len + 1):
            for q in level:
                if q and full(q):
                    out.append(q[len(prefix) :])
                    if len(out) >= limit:
                        return out
            level = [q + c for q in level for c in _ALPHABET if partial(q + c)][:300]
            if not level:
                break
        return out

    def spelling(self, name: str) -> str:
        got = self._spelling.get(name)
        if got is None:
            got = self._spelling[name] = (self.shortest_matches(name, limit=1) or [""])[0]
        return got

    def separator(self) -> str:
        """The shortest spelling of an ``%ignore`` terminal, or ``""``."""
        seps = sorted((self.spelling(t) for t in self.ignore), key=len)
        return next((x for x in seps if x), "")

    def finish_lexeme(self, sid: int, p: str, alive: tuple[str, ...]):
        """``(rest, sid')``: ways to end the pending lexeme and the parser state after it."""
        if not p:
            yield "", sid
            return
        seen = set()
        for t in alive:
            for rest in self.shortest_matches(t, p, limit=2):
                q = p + rest
                ext = tuple(x for x in alive if self.partial[x](q))
                w = self.winner(q, ext)
                if w is None or (rest, w) in seen:
                    continue
                seen.add((rest, w))
                yield rest, (sid if w in self.ignore else self.trans(sid, w))

    def paths_to_end(self, sid: int, max_states: int, limit: int = 5):
        """Terminal sequences from ``sid`` to a state accepting ``$END`` (best-first search)."""
        import heapq
        import itertools

        tie = itertools.count()
        heap = [(self.depth[sid], next(tie), 0, sid, ())]
        seen: set[int] = set()
        found = 0
        while heap and len(seen) < max_states:
            _, _, g, cur, terms = heapq.heappop(heap)
            if cur in seen:
                continue
            seen.add(cur)
            if self.end_ok[cur] and terms:
                yield terms
                found += 1
                if found >= limit:
                    return
            for t in self.acc[cur]:
                if t in self.ignore:
                    continue
                nxt = self.trans(cur, t)
                if nxt not in seen:
                    heapq.heappush(heap, (g + 1 + self.depth[nxt], next(tie), g + 1, nxt, terms + (t,)))

    # -- bytes ----------------------------------------------------------------------------------

    def step_byte(self, state, b: int):
        """Consume one byte; ``state`` is ``(sid, p, alive, u)``, ``u`` the pending UTF-8 bytes."""
        sid, p, alive, u = state
        if u:
            if not 0x80 <= b <= 0xBF:
                return None
            if len(u) == 1 and not _second_ok(u[0], b):
                return None
            u2 = u + bytes((b,))
            if len(u2) == _utf8_len(u[0]):
                r = self.step(sid, p, alive, u2.decode("utf-8"))
                return None if r is None else (*r, b"")
        else:
            if b < 0x80:
                r = self.step(sid, p, alive, chr(b))
                return None if r is None else (*r, b"")
            if not 0xC2 <= b <= 0xF4:
                return None
            u2 = bytes((b,))
        # Inside a multi-byte character: live iff some completion of it is.
        for ch in _completions(u2):
            if self.step(sid, p, alive, ch) is not None:
                return sid, p, alive, u2
        return None

    def run(self, data: bytes):
        state = (self.sid0, "", (), b"")
        for b in data:
            state = self.step_byte(state, b)
            if state is None:
                return None
        return state

    def is_complete_state(self, state) -> bool:
        sid, p, alive, u = state
        return not u and self.complete(sid, p, alive)


_LITERAL_GROUP = regex.compile(r"\(\?i:((?:\\.|[^\\()\[\]|*+?{}.^$])*)\)")
_CASE_CLASSES: dict[str, str] = {}


def _case_class(letter: str) -> str:
    """A character class of everything Python's ``re`` matches with ``(?i:letter)``
    (``"*"``: everything ``re`` matches with ``(?i)[a-z]``: the 52 ASCII letters, İ ı ſ K)."""
    got = _CASE_CLASSES.get(letter)
    if got is None:
        import re
        import sys

        if "*" not in _CASE_CLASSES:
            any_letter = re.compile("(?i)[a-z]")
            _CASE_CLASSES["*"] = "[" + "".join(
                chr(c) for c in range(sys.maxunicode + 1)
                if not 0xD800 <= c <= 0xDFFF and any_letter.fullmatch(chr(c))
            ) + "]"
        if letter == "*":
            return _CASE_CLASSES["*"]
        one = re.compile("(?i:" + letter + ")")
        members = "".join(c for c in _CASE_CLASSES["*"][1:-1] if one.fullmatch(c))
        got = _CASE_CLASSES[letter] = "[" + members + "]"
    return got


def _re_casefold_compatible(pattern: str) -> str:
    """``pattern`` with each case-insensitive literal group ``(?i:...)`` spelled out as classes.

    The terminal patterns are Python ``re`` patterns (Lark matches with ``re``), but ``regex``
    folds case slightly differently: ``(?i:I)`` does not match ``İ`` (U+0130) and ``(?i:i)`` not
    ``ı`` (U+0131), both of which ``re`` matches. Lark writes a case-insensitive literal as
    ``(?i:<re.escape(literal)>)``; such groups are rewritten letter by letter into the classes
    ``re`` itself matches (``S`` -> ``[Ssſ]``, ``K`` -> ``[KkK]``, ...). Other ``(?i)`` uses (none
    in the bundled grammars) are left to ``regex``'s own folding.
    """

    def expand(m) -> str:
        body = regex.sub(r"\\(.)", r"\1", m.group(1), flags=regex.DOTALL)
        if not body.isascii():
            return m.group(0)
        return "(?:" + "".join(_case_class(c) if c.isalpha() else regex.escape(c) for c in body) + ")"

    return _LITERAL_GROUP.sub(expand, pattern)


def _partial_fn(rx):
    fm = rx.fullmatch

    def partial(text: str) -> bool:
        return fm(text, partial=True) is not None

    return partial


def _full_fn(rx):
    fm = rx.fullmatch

    def full(text: str) -> bool:
        return fm(text) is not None

    return full


def _utf8_len(lead: int) -> int:
    return 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _second_range(lead: int) -> tuple[int, int]:
    if lead == 0xE0:
        return 0xA0, 0xBF
    if lead == 0xED:
        return 0x80, 0x9F
    if lead == 0xF0:
        return 0x90, 0xBF
    if lead == 0xF4:
        return 0x80, 0x8F
    return 0x80, 0xBF


def _second_ok(lead: int, b: int) -> bool:
    lo, hi = _second_range(lead)
    return lo <= b <= hi


_COMPLETIONS: dict[bytes, tuple[str, ...]] = {}


def _completions(u: bytes) -> tuple[str, ...]:
    """Characters whose UTF-8 encoding starts with the valid incomplete sequence ``u``.

    All of them when there are at most 64 (one or two bytes missing from a 2-, 3- or 4-byte
    character's tail), else a deterministic sample: the lowest, the highest and 64 spread between.
    """
    got = _COMPLETIONS.get(u)
    if got is not None:
        return got
    n = _utf8_len(u[0])
    lo_b, hi_b = list(u), list(u)
    for i in range(len(u), n):
        lo, hi = _second_range(u[0]) if i == 1 else (0x80, 0xBF)
        lo_b.append(lo)
        hi_b.append(hi)
    lo_cp, hi_cp = ord(bytes(lo_b).decode("utf-8")), ord(bytes(hi_b).decode("utf-8"))
    count = hi_cp - lo_cp + 1
    if count <= _SAMPLE:
        cps = range(lo_cp, hi_cp + 1)
    else:
        span = hi_cp - lo_cp
        spread = (lo_cp + span * k // (_SAMPLE + 1) for k in range(1, _SAMPLE + 1))
        # Plus the non-ASCII characters that case-insensitive ASCII letters match (K, U+212A).
        folds = (ord(c) for c in _case_class("*")[1:-1] if lo_cp <= ord(c) <= hi_cp and not c.isascii())
        cps = sorted({lo_cp, hi_cp, *spread, *folds})
    got = _COMPLETIONS[u] = tuple(chr(c) for c in cps)
    return got


# ----------------------------------------------------------------------------------------------
# Vocabulary side: a plain byte trie, built here.
# ----------------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("ids", "kids")

    def __init__(self) -> None:
        self.kids: dict[int, _Node] = {}
        self.ids: list[int] = []


def _build_trie(token_bytes: Sequence[bytes | None]) -> _Node:
    root = _Node()
    for i, tb in enumerate(token_bytes):
        if not tb:
            continue  # None (special) and empty tokens are never allowed
        node = root
        for b in tb:
            nxt = node.kids.get(b)
            if nxt is None:
                nxt = node.kids[b] = _Node()
            node = nxt
        node.ids.append(i)
    return root


_ORACLES: dict[str, _Oracle] = {}
_TRIES: dict[int, tuple[Sequence, _Node]] = {}
_RESULTS: dict[tuple, array.array] = {}  # memo by the state after the prefix


def oracle_for(grammar_text: str) -> _Oracle:
    o = _ORACLES.get(grammar_text)
    if o is None:
        o = _ORACLES[grammar_text] = _Oracle(grammar_text)
    return o


def _trie_for(token_bytes: Sequence[bytes | None]) -> _Node:
    hit = _TRIES.get(id(token_bytes))
    if hit is not None and hit[0] is token_bytes:
        return hit[1]
    trie = _build_trie(token_bytes)
    _TRIES[id(token_bytes)] = (token_bytes, trie)
    return trie


def viable(grammar_text: str, s: bytes) -> bool:
    """Whether ``s`` is a prefix of the UTF-8 encoding of some complete string of the grammar."""
    return oracle_for(grammar_text).run(bytes(s)) is not None


def is_complete(grammar_text: str, s: bytes) -> bool:
    """Whether ``s`` is (the UTF-8 encoding of) a complete string of the grammar."""
    o = oracle_for(grammar_text)
    state = o.run(bytes(s))
    return state is not None and o.is_complete_state(state)


_ALPHABET = "".join(chr(c) for c in range(0x20, 0x7F)) + "\n\t\r"


def find_completion(grammar_text: str, s: bytes, *, max_states: int = 4000) -> bytes | None:
    """Some bytes ``w`` such that ``s + w`` is a complete string, or ``None`` if none was found.

    Used by the tests to check that what this oracle calls viable really can be completed. The
    pending multi-byte character and lexeme are finished first (shortest ways, by breadth-first
    search over printable ASCII), then a best-first search over LALR states (cost: terminals so far
    plus stack depth) finds terminal sequences that reach ``$END``; each terminal is spelled by its
    shortest match, separated by the shortest ``%ignore`` match when there is one. Every candidate
    is verified with the oracle itself (:func:`is_complete`) before it is returned.
    """
    o = oracle_for(grammar_text)
    s = bytes(s)
    state = o.run(s)
    if state is None:
        return None
    if o.is_complete_state(state):
        return b""
    sid, p, alive, u = state
    heads: list[tuple[bytes, tuple]] = []  # (bytes so far, char-level state) with no partial char
    if u:
        for ch in _completions(u):
            st = o.step(sid, p, alive, ch)
            if st is not None:
                heads.append((ch.encode("utf-8")[len(u) :], st))
                if len(heads) == 3:
                    break
    else:
        heads.append((b"", (sid, p, alive)))
    sep = o.separator()
    for w_head, (sid, p, alive) in heads:
        for w_lex, nsid in o.finish_lexeme(sid, p, alive):
            base = w_head + w_lex.encode("ascii")
            if o.end_ok[nsid] and is_complete(grammar_text, s + base):
                return base
            for terms in o.paths_to_end(nsid, max_states):
                w = base + "".join(sep + o.spelling(t) for t in terms).encode("ascii")
                if is_complete(grammar_text, s + w):
                    return w
    return None


def allowed_tokens(
    grammar_text: str,
    prefix: bytes,
    token_bytes: Sequence[bytes | None],
    eos_ids: Iterable[int] | int,
) -> set[int]:
    """Token ids allowed after ``prefix``: those whose bytes keep it viable, plus ``eos_ids`` when
    ``prefix`` is complete. Empty when ``prefix`` itself is not viable."""
    eos = {int(eos_ids)} if isinstance(eos_ids, int) else {int(i) for i in eos_ids}
    o = oracle_for(grammar_text)
    root_state = o.run(bytes(prefix))
    if root_state is None:
        return set()
    trie = _trie_for(token_bytes)
    key = (grammar_text, id(trie), root_state)
    got = _RESULTS.get(key)
    if got is None:
        got = array.array("i", sorted(_dfs(o, trie, root_state)))  # compact: 4 bytes an id
        if len(_RESULTS) >= 2048:
            _RESULTS.clear()
        _RESULTS[key] = got
    out = set(got)
    if o.is_complete_state(root_state):
        out |= eos
    return out


def _dfs(o: _Oracle, trie: _Node, root_state) -> list[int]:
    """Ids of the trie's tokens reachable from ``root_state`` through live states only."""
    out: list[int] = []
    step_byte = o.step_byte
    step = o.step
    stack = [(trie, root_state)]
    pop, push, extend = stack.pop, stack.append, out.extend
    while stack:
        node, state = pop()
        sid, p, alive, u = state
        for b, kid in node.kids.items():
            if not u and b < 0x80:  # fast path: an ASCII character
                r = step(sid, p, alive, chr(b))
                if r is None:
                    continue
                nstate = (*r, b"")
            else:
                nstate = step_byte(state, b)
                if nstate is None:
                    continue
            if kid.ids:
                extend(kid.ids)
            if kid.kids:
                push((kid, nstate))
    return out
