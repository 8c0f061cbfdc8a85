"""Sets of code points (sorted disjoint intervals) for regex items, exactly as ``re`` reads them:
``\\d \\w \\s``, ``.``, ``[...]`` and case-insensitive matching."""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right

import _sre
import numpy as np
from re import _casefix as _sre_casefix
from re import _constants as _C

from ..errors import UnsupportedRegexError

MAX_CODE_POINT = 0x10FFFF
UNIVERSE: tuple[tuple[int, int], ...] = ((0, 0xD7FF), (0xE000, MAX_CODE_POINT))


def normalize(ivs) -> tuple[tuple[int, int], ...]:
    ivs = sorted(ivs)
    out: list[list[int]] = []
    for lo, hi in ivs:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def subtract(a, b) -> tuple[tuple[int, int], ...]:
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
    return subtract(normalize(ivs), ((0xD800, 0xDFFF),))


def complement(ivs) -> tuple[tuple[int, int], ...]:
    return subtract(UNIVERSE, ivs)


def _points(points) -> tuple[tuple[int, int], ...]:
    return normalize((p, p) for p in points)


def _contains(ivs, c: int) -> bool:
    i = bisect_right(ivs, (c, MAX_CODE_POINT + 1)) - 1
    return i >= 0 and ivs[i][0] <= c <= ivs[i][1]


@functools.cache
def _all_chars() -> str:
    """Every code point in order (surrogates replaced by NUL), for computing classes with ``re``."""
    a = np.arange(MAX_CODE_POINT + 1, dtype="<u4")
    a[0xD800:0xE000] = 0
    return a.tobytes().decode("utf-32-le")


@functools.cache
def _unicode_category(letter: str) -> tuple[tuple[int, int], ...]:
    """``\\d``, ``\\s`` or ``\\w`` under Python's Unicode rules, as intervals (found by ``re``)."""
    return _clip((m.start(), m.end() - 1) for m in re.finditer(rf"\{letter}+", _all_chars()))


_ASCII_CATEGORY = {
    "d": ((0x30, 0x39),),
    "s": normalize([(0x09, 0x0D), (0x20, 0x20)]),
    "w": normalize([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
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
    return complement(ivs) if negated else ivs


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
        for base in range(0, MAX_CODE_POINT + 1, 256):
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
        return any(lo <= 0x7A and hi >= 0x41 for lo, hi in subtract(ivs, ((0x5B, 0x60),)))
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
        return normalize(list(ivs) + extra) if extra else ivs
    t = _case_tables()
    hits = _in_sorted(t.nontrivial, ivs)
    if not hits:
        return ivs
    seen = set()
    for x in hits:
        seen.update(t.class_of[x])
    return normalize(list(ivs) + list(_points(seen)))


def _fold_category(ivs, ascii_: bool):
    """``{x : lower(x) in ivs}``: how ``re`` tests a category inside a case-folded set."""
    if ascii_:
        out = [iv for iv in subtract(ivs, ((0x41, 0x5A),))]
        out += [(c, c) for c in range(0x41, 0x5B) if _contains(ivs, c + 32)]
        return normalize(out)
    t = _case_tables()
    keep = subtract(ivs, _points(t.lower))
    add = [x for x, lx in t.lower.items() if _contains(ivs, lx)]
    return normalize(list(keep) + [(x, x) for x in add])


def literal_set(c: int, flags: int):
    if not flags & re.IGNORECASE:
        return _clip([(c, c)])
    ascii_ = bool(flags & re.ASCII)
    if ascii_:
        if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            return normalize([(c | 0x20, c | 0x20), (c & ~0x20, c & ~0x20)])
        return _clip([(c, c)])
    if not _sre.unicode_iscased(c):
        return _clip([(c, c)])
    cls = _case_tables().class_of.get(c)
    return _points(cls) if cls else _clip([(c, c)])


def class_set(items, flags: int):
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
    raw = normalize(lits)
    lit = _clip(raw)
    # re folds the whole set only if one of its literals/ranges is cased (a non-BMP range counts).
    folded = flags & re.IGNORECASE and (
        _has_cased(lit, ascii_) or (not ascii_ and any(hi > 0xFFFF for _, hi in raw))
    )
    parts = [_fold(lit, ascii_) if folded else lit]
    for code in cats:
        cat = _category(code, ascii_)
        parts.append(_fold_category(cat, ascii_) if folded else cat)
    ivs = normalize([iv for p in parts for iv in p])
    return complement(ivs) if negate else ivs
