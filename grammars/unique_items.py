"""`UniqueItems`: JSON Schema's ``uniqueItems`` checked beside the grammar, as the matcher advances.

A context-free grammar cannot say "no two items are equal", so the JSON Schema translator writes
such an array as the plain array language, opened by its own terminal ``UNIQUE_OPEN`` (the same
text as ``[``). This tracker follows the bytes the matcher accepts (JSON nesting, strings and
their escapes) and, for each open unique array, keeps the text of its current item and the values
of the finished ones, compared as JSON Schema compares them: strings decoded (``"a"`` is
``"\\u0061"``), numbers as numbers (``1`` is ``1.0``), objects whatever their key order, arrays
in order. A byte that finishes an item equal to an earlier one is refused: a string's closing
quote, an object's or array's closing bracket, the last letter of ``true``/``false``/``null``, the
byte after a number. Masks are filtered the same way, and only over the tokens that could finish
an item; a grammar without ``UNIQUE_OPEN`` has no tracker and pays nothing.

Example:
    >>> from grammars import Grammar, compile_grammar, GrammarMatcher
    >>> from grammars.vocabulary import byte_vocabulary
    >>> g = Grammar.from_json_schema({"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    >>> m = GrammarMatcher(compile_grammar(g, byte_vocabulary()))
    >>> m.advance_bytes(b'["a","b",'), m.fork().advance_bytes(b'"\\\\u0061"'), m.advance_bytes(b'"c"]')
    (True, False, True)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

import numpy as np

from .errors import GrammarError

if TYPE_CHECKING:
    from .compiler import CompiledGrammar, MatchState

    AllowedAt = Callable[[MatchState], Iterable[int]]

UNIQUE_OPEN = "UNIQUE_OPEN"  # the terminal that opens an array whose items must differ

_WS = frozenset(b" \t\n\r")
_NUMBER = frozenset(b"0123456789+-.eE")
_STRUCT = frozenset(b'",]}') | _WS
_SCALAR = frozenset(b"el")  # the last letters of the literals
_LITERALS = (b"true", b"false", b"null")


class Track(NamedTuple):
    """The tracker's state after some text: open arrays and objects (``frames``, innermost last,
    each ``(unique, finished item values, current item text, finished scalar items' texts)``; a
    frame that is not a unique array is ``_PLAIN``), and whether the text ends inside a string (and
    after a backslash)."""

    frames: tuple
    in_string: bool
    escaped: bool


def _key(v):
    """A hashable value equal for JSON values JSON Schema calls equal (``True`` is not ``1``)."""
    if isinstance(v, bool) or v is None:
        return ("lit", v)
    if isinstance(v, (int, float)):
        return ("num", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("arr", tuple(_key(x) for x in v))
    return ("obj", frozenset((k, _key(x)) for k, x in v.items()))


def _item_key(text: bytes):
    """The value of a finished item's text, as :func:`_key`; None if it is not JSON (a bug)."""
    try:
        return _key(json.loads(text))
    except ValueError:
        return None


class UniqueItems:
    """The ``uniqueItems`` tracker of one compiled grammar (immutable; states are :class:`Track`).

    Build it with :meth:`of`, which returns None for a grammar without unique arrays."""

    def __init__(self, compiled: "CompiledGrammar", terminal: int):
        self.compiled = compiled
        self.word, self.bit = terminal // 64, np.uint64(1) << np.uint64(terminal % 64)
        shifts = compiled.tables.action[:, terminal]
        self.opened = np.zeros(len(shifts), dtype=bool)  # the LR states reached by shifting it
        self.opened[shifts[shifts >= 0]] = True
        self.initial = Track((), False, False)

    @classmethod
    def of(cls, compiled: "CompiledGrammar") -> "UniqueItems | None":
        """The tracker of ``compiled`` (made once per compiled grammar), None when no array of its
        grammar needs one. ``UNIQUE_OPEN`` is the JSON Schema translator's: it refuses a grammar
        where the parser could not tell that terminal's ``[`` from another one's (see
        :func:`~grammars.json_schema.translate.check_unique_arrays`)."""
        cached = compiled.__dict__.get("_unique_items", False)
        if cached is not False:
            return cached
        names = compiled.lexicon.names
        if UNIQUE_OPEN in names and compiled.tables.general:
            raise GrammarError(f"{UNIQUE_OPEN} (a uniqueItems array) is tracked beside an LALR(1) parser only")
        tracker = cls(compiled, names.index(UNIQUE_OPEN)) if UNIQUE_OPEN in names else None
        compiled.__dict__["_unique_items"] = tracker
        return tracker

    # -- following the text ------------------------------------------------------------------
    def feed(self, track: Track, data: bytes, before: "MatchState") -> "Track | None":
        """The state after ``data`` (which the grammar accepts from matcher state ``before``), or
        None if ``data`` finishes an item of a unique array equal to an earlier item."""
        frames, in_str, esc = list(track.frames), track.in_string, track.escaped
        for i, b in enumerate(data):
            top = frames[-1] if frames else _PLAIN
            if in_str:
                _append(frames, b, len(frames))
                if esc:
                    esc = False
                elif b == 0x5C:
                    esc = True
                elif b == 0x22:
                    in_str = False
                    if top[0] and not _fresh(frames[-1]):
                        return None
            elif b == 0x22:
                in_str = True
                _append(frames, b, len(frames))
            elif b == 0x5B or b == 0x7B:
                _append(frames, b, len(frames))
                unique = b == 0x5B and self._opens_unique(before, data[:i + 1])
                frames.append((True, frozenset(), b"", ()) if unique else _PLAIN)
            elif b == 0x5D or b == 0x7D:
                closed = frames.pop() if frames else _PLAIN
                if closed[0] and closed[2].strip() and not _fresh(closed):
                    return None
                _append(frames, b, len(frames))
                if frames and frames[-1][0] and not _fresh(frames[-1]):
                    return None
            elif b == 0x2C and top[0]:
                if not _fresh(top):
                    return None
                frames[-1] = (True, top[1] | {_item_key(top[2])}, b"", top[3] + (top[2].strip(),))
                _append(frames, b, len(frames) - 1)
            else:
                if top[0] and b in _WS and top[2][-1:] and top[2][-1] in _NUMBER and not _fresh(top):
                    return None
                _append(frames, b, len(frames))
                if top[0] and frames[-1][2].strip() in _LITERALS and not _fresh(frames[-1]):
                    return None
        return Track(tuple(frames), in_str, esc)

    def _opens_unique(self, before: "MatchState", data: bytes) -> bool:
        """Whether the ``[`` that ends ``data`` (read from matcher state ``before``) is the
        grammar's ``UNIQUE_OPEN``: shifted already (the parser's top state is one that only it
        leads to), or matched by the lexer where the parser may shift it."""
        state = self.compiled.step(before, data)
        if state.q == 0:
            return bool(self.opened[state.stack[-1]])
        return bool(self.compiled.lexicon.accept[state.q, self.word] & state.acc[self.word] & self.bit)

    # -- masks -------------------------------------------------------------------------------
    def filter(self, track: Track, state: "MatchState", out: np.ndarray, allowed_at: "AllowedAt") -> None:
        """Clear from the allowed-token bitmask row ``out`` (uint32 words) the tokens after which
        an item of a unique array can only end equal to an earlier one (``state``: the matcher
        state ``track`` belongs to; ``allowed_at(state)``: the bytes the grammar allows after a
        matcher state). Only tokens that may finish an item, or that spell on towards an earlier
        scalar item, are looked at."""
        unique = [f for f in track.frames if f[0]]
        if not unique:
            return
        struct, scalar, quote, comma, opener, by_text = token_classes(self.compiled.trie)
        top = track.frames[-1]
        if not any(f[1] for f in unique):
            pool = comma  # nothing to repeat yet but within the token itself
        elif track.in_string:
            pool = quote
        else:  # a token that only opens a string finishes nothing
            pool = (struct | scalar if top[0] else struct) & ~opener
        bits = np.unpackbits(out.view(np.uint8), bitorder="little")[:len(pool)].astype(bool)
        toks = set(np.flatnonzero(bits & pool).tolist())
        level = _last_unique(track)
        if track.frames[level][3]:  # tokens that spell on towards an earlier item
            cur = track.frames[level][2].lstrip()
            for text in track.frames[level][3]:
                if text.startswith(cur):
                    rest = text[len(cur):]
                    toks.update(t for j in range(1, len(rest) + 1) for t in by_text.get(rest[:j], ()) if bits[t])
        for tok in toks:
            data = self.compiled.token_bytes(tok)
            after = self.feed(track, data, state)
            if after is None or (_at_risk(after, _last_unique(after))
                                 and self._stuck(after, self.compiled.step(state, data), allowed_at)):
                out[tok >> 5] &= np.uint32(~(1 << (tok & 31)) & 0xFFFFFFFF)

    def _stuck(self, track: Track, state: "MatchState", allowed_at: "AllowedAt", budget: int = 256) -> bool:
        """Whether, from ``track`` at risk (:func:`_at_risk`) and grammar state ``state``, every way
        on ends the current item of the innermost unique array as a duplicate before it leaves the
        earlier items' spellings (a search over the allowed bytes of at most ``budget`` steps: past
        it, a way on is assumed)."""
        level = _last_unique(track)
        done = len(track.frames[level][3])
        todo = [(state, track)]
        while todo:
            st, tr = todo.pop()
            for b in allowed_at(st):
                budget -= 1
                if budget < 0:
                    return False
                data = bytes((b,))
                after = self.feed(tr, data, st)
                if after is None:
                    continue
                if len(after.frames) <= level or len(after.frames[level][3]) != done or not _at_risk(after, level):
                    return False
                todo.append((self.compiled.step(st, data), after))
        return True

def token_classes(trie) -> tuple:
    """bool arrays over the token ids of ``trie``'s vocabulary: tokens with a byte that can finish a
    string, a container or a number, with the last letter of a literal, with a quote, with a
    comma, that are a quote and string contents only; and the token ids by their bytes. Made once
    per vocabulary and kept on its shared token trie (every grammar of that vocabulary reads it)."""
    classes = trie.__dict__.get("_unique_item_classes")
    if classes is None:
        n = len(trie.token_allowed)
        struct, scalar, quote, comma, opener = (np.zeros(n, dtype=bool) for _ in range(5))
        by_text: dict[bytes, list[int]] = {}
        for tok in range(n):
            data = trie.token_bytes(tok) or b""
            chars = set(data)
            struct[tok] = not _STRUCT.isdisjoint(chars)
            scalar[tok] = not _SCALAR.isdisjoint(chars)
            quote[tok] = 0x22 in chars
            comma[tok] = 0x2C in chars
            opener[tok] = data[:1] == b'"' and b'"' not in data[1:] and b"\\" not in data[1:]
            if data:
                by_text.setdefault(data, []).append(tok)
        classes = trie.__dict__["_unique_item_classes"] = (struct, scalar, quote, comma, opener, by_text)
    return classes


_PLAIN = (False, None, None, None)  # a frame that is not a unique array


def _fresh(frame) -> bool:
    """Whether the finished current item of a unique array ``frame`` equals no earlier one."""
    return _item_key(frame[2]) not in frame[1]


def _last_unique(track: Track) -> int:
    """The index of the innermost unique array among ``track``'s frames (-1: none)."""
    return max((j for j, f in enumerate(track.frames) if f[0]), default=-1)


def _at_risk(track: Track, level: int) -> bool:
    """Whether frame ``level`` is a unique array whose current item, as spelled so far, is the
    start of an earlier item's spelling (so it might only end as a duplicate)."""
    frame = track.frames[level] if level >= 0 else _PLAIN
    if not frame[0] or not frame[3]:
        return False
    cur = frame[2].lstrip()
    return any(text.startswith(cur) for text in frame[3])


def _append(frames: list, b: int, upto: int) -> None:
    """Byte ``b`` joins the current item of each unique array among ``frames[:upto]``."""
    ch = bytes((b,))
    for j in range(upto):
        f = frames[j]
        if f[0]:
            frames[j] = (True, f[1], f[2] + ch, f[3])
