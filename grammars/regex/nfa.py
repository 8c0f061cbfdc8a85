"""Thompson NFA over code-point sets, built from ``re._parser``'s parse tree."""

from __future__ import annotations

import re
from re import _constants as _C

from ..errors import UnsupportedRegexError
from .charsets import UNIVERSE, class_set, complement, literal_set, subtract
from .limits import too_large, unsupported

INF = float("inf")


class Context:
    """Where an item sits: bounds on the characters consumed before/after it (for anchors and
    lookbehind)."""

    __slots__ = ("min_before", "max_before", "max_after", "in_lookbehind")

    def __init__(self, min_before, max_before, max_after, in_lookbehind):
        self.min_before = min_before
        self.max_before = max_before
        self.max_after = max_after
        self.in_lookbehind = in_lookbehind


REPEATS = (_C.MAX_REPEAT, _C.MIN_REPEAT)
_BEGIN = (_C.AT_BEGINNING, _C.AT_BEGINNING_STRING)
_END = (_C.AT_END, _C.AT_END_STRING)


class ThompsonNFA:
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
        return unsupported(feature, self.pattern)

    def state(self) -> int:
        n = len(self.eps)
        if n >= self.limit:
            raise too_large(self.pattern, "NFA", n, self.max_states)
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
                ivs = literal_set(av, flags)
            elif op is _C.NOT_LITERAL:
                ivs = complement(literal_set(av, flags))
            elif op is _C.ANY:
                ivs = UNIVERSE if flags & re.DOTALL else subtract(UNIVERSE, ((10, 10),))
            else:
                ivs = class_set(av, flags)
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
        if op in REPEATS or op is _C.POSSESSIVE_REPEAT:
            lo, hi, body = av
            blo, bhi = self.seq_width(body)
            if hi == _C.MAXREPEAT:
                return lo * blo, (INF if bhi > 0 else 0)
            return lo * blo, (hi * bhi if hi > 0 else 0)
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            return 0, 0
        return 0, INF

    def seq_width(self, items) -> tuple[int, float]:
        lo, hi = 0, 0
        for it in items:
            a, b = self.width(it)
            lo += a
            hi += b
        return lo, hi

    # construction -----------------------------------------------------------------------------

    def seq(self, items, start: int, flags: int, ctx: Context) -> int:
        """Builds ``items`` from ``start``; returns the end state. Adds no edge into ``start``."""
        items = list(items)
        widths = [self.width(it) for it in items]
        suffix_max = [0] * (len(items) + 1)
        for i in range(len(items) - 1, -1, -1):
            suffix_max[i] = suffix_max[i + 1] + widths[i][1]
        cur = start
        min_b, max_b = ctx.min_before, ctx.max_before
        for i, it in enumerate(items):
            sub = Context(min_b, max_b, ctx.max_after + suffix_max[i + 1], ctx.in_lookbehind)
            cur = self.item(it, cur, flags, sub)
            min_b += widths[i][0]
            max_b += widths[i][1]
        return cur

    def item(self, item, start: int, flags: int, ctx: Context) -> int:
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
        if op in REPEATS:
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

    def repeat(self, av, start: int, flags: int, ctx: Context) -> int:
        lo, hi, body = av
        blo, bhi = self.seq_width(body)
        # Copies after the first see more characters around them.
        more = 0 if hi <= 1 else (INF if (hi == _C.MAXREPEAT and bhi > 0) else (hi - 1) * bhi)
        sub = Context(ctx.min_before, ctx.max_before + more, ctx.max_after + more, ctx.in_lookbehind)
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

    def lookbehind(self, name: str, body, negated: bool, start: int, flags: int, ctx: Context) -> int:
        if ctx.in_lookbehind:
            raise self.unsupported(f"nested lookaround ({name} inside a lookbehind)")
        width = self.seq_width(body)[0]
        if ctx.min_before < width:
            raise self.unsupported(f"{name} that can look before the start of the token")
        # Tracker automaton for Σ*X: whether the text read so far ends with a match of X.
        fs = self.state()
        self.edges[fs].append((self.charset_id(UNIVERSE), fs))
        fe = self.seq(body, fs, flags, Context(0, INF, INF, True))
        lb = len(self.lookbehinds)
        self.lookbehinds.append((fs, fe))
        end = self.state()
        self.cond[start].append((end, lb, negated))
        return end


def nfa_size_estimate(items) -> float:
    """About how many NFA states ``items`` will take (to refuse huge counted repetitions early)."""
    total = 0.0
    for op, av in items:
        if op is _C.SUBPATTERN:
            total += nfa_size_estimate(av[3])
        elif op is _C.BRANCH:
            total += 1 + sum(nfa_size_estimate(alt) for alt in av[1])
        elif op in REPEATS:
            lo, hi, body = av
            copies = lo + 1 if hi == _C.MAXREPEAT else hi
            total += 2 + copies * nfa_size_estimate(body)
        elif op is _C.ASSERT or op is _C.ASSERT_NOT:
            total += 2 + nfa_size_estimate(av[1])
        else:
            total += 1
    return total
