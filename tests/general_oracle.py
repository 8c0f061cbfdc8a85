"""An independent reference for the general path's token masks, for tests only: a textbook Earley
recognizer over characters.

It shares no code with :mod:`grammars`: lark (``lark.Lark(text)``, its Earley front-end) only
compiles the grammar text into BNF rules and terminal regexes; recognition is the Earley algorithm
below, with Aycock and Horspool's rule for nullable symbols. It handles grammars whose terminals
each match exactly one character (string literals of one character, one-character classes), so no
lexing question arises: a text is viable iff the Earley set after its last character is not empty
(every rule of the test grammars derives some string), complete iff that set holds a finished
start rule begun at 0.

API: :class:`CharEarley` (``viable``, ``accepts``, ``allowed``), :func:`random_sentence`.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

import lark

__all__ = ["CharEarley", "random_sentence"]

Item = tuple[int, int, int]  # (rule index, dot, origin)


class CharEarley:
    """Earley recognizer over characters for a Lark grammar with one-character terminals."""

    def __init__(self, grammar_text: str, start: str = "start") -> None:
        parser = lark.Lark(grammar_text, start=start)
        self.start = start
        self.rules: list[tuple[str, tuple[tuple[str, bool], ...]]] = [
            (r.origin.name, tuple((s.name, s.is_term) for s in r.expansion)) for r in parser.rules
        ]
        self.by_origin: dict[str, list[int]] = {}
        for i, (origin, _) in enumerate(self.rules):
            self.by_origin.setdefault(origin, []).append(i)
        self.terminal = {t.name: re.compile(t.pattern.to_regexp()) for t in parser.terminals}
        self.nullable = self._nullable()
        self._sets: dict[str, frozenset[Item] | None] = {"": self._close(set(self._predict(start, 0)), [set()], 0)}

    def _nullable(self) -> set[str]:
        out: set[str] = set()
        changed = True
        while changed:
            changed = False
            for origin, rhs in self.rules:
                if origin not in out and all(not term and name in out for name, term in rhs):
                    out.add(origin)
                    changed = True
        return out

    def _predict(self, name: str, pos: int) -> list[Item]:
        return [(r, 0, pos) for r in self.by_origin.get(name, ())]

    def _close(self, items: set[Item], sets: list, pos: int) -> frozenset[Item]:
        """Prediction and completion until nothing changes (sets[k] for k < pos are the earlier
        Earley sets; items is set pos)."""
        work = list(items)
        while work:
            r, dot, origin = work.pop()
            origin_name, rhs = self.rules[r]
            new: list[Item] = []
            if dot == len(rhs):  # complete: advance every item of set `origin` waiting for it
                waiting = sets[origin] if origin < pos else items
                for r2, d2, o2 in list(waiting):
                    rhs2 = self.rules[r2][1]
                    if d2 < len(rhs2) and rhs2[d2] == (origin_name, False):
                        new.append((r2, d2 + 1, o2))
            else:
                name, is_term = rhs[dot]
                if not is_term:
                    new += self._predict(name, pos)
                    if name in self.nullable:
                        new.append((r, dot + 1, origin))
            for item in new:
                if item not in items:
                    items.add(item)
                    work.append(item)
        return frozenset(items)

    def _chart(self, text: str) -> list[frozenset[Item]] | None:
        return self._chart_cached(text)

    @lru_cache(maxsize=None)  # noqa: B019 - one oracle per grammar, kept for the test module
    def _chart_cached(self, text: str):
        if not text:
            return (self._sets[""],)
        prev = self._chart_cached(text[:-1])
        if prev is None:
            return None
        ch = text[-1]
        scanned = {
            (r, dot + 1, origin)
            for r, dot, origin in prev[-1]
            if dot < len(self.rules[r][1])
            and self.rules[r][1][dot][1]
            and self.terminal[self.rules[r][1][dot][0]].fullmatch(ch)
        }
        if not scanned:
            return None
        sets = list(prev)
        return prev + (self._close(scanned, sets, len(prev)),)

    def viable(self, text: str) -> bool:
        """Whether ``text`` is a prefix of some sentence."""
        return self._chart(text) is not None

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is a sentence."""
        chart = self._chart(text)
        return chart is not None and any(
            self.rules[r][0] == self.start and dot == len(self.rules[r][1]) and origin == 0
            for r, dot, origin in chart[-1]
        )

    def allowed(self, prefix: str, tokens: list[str | None], eos_ids: set[int]) -> set[int]:
        """The token ids allowed after ``prefix``: tokens that keep it viable, EOS if complete."""
        out = {i for i, t in enumerate(tokens) if t and self.viable(prefix + t)}
        if self.accepts(prefix):
            out |= eos_ids
        return out


def random_sentence(oracle: CharEarley, rng: random.Random, depth: int = 6) -> str:
    """A random sentence of the grammar: random rules, the shortest ones below ``depth``; each
    terminal spelled by a random character it matches (from printable ASCII)."""
    height = _heights(oracle)
    chars = [chr(c) for c in range(32, 127)]

    def expand(name: str, d: int) -> str:
        choices = oracle.by_origin[name]
        if d <= 0:
            best = min(height[r] for r in choices)
            choices = [r for r in choices if height[r] == best]
        out = []
        for sym, is_term in oracle.rules[rng.choice(choices)][1]:
            if is_term:
                out.append(rng.choice([c for c in chars if oracle.terminal[sym].fullmatch(c)]))
            else:
                out.append(expand(sym, d - 1))
        return "".join(out)

    return expand(oracle.start, depth)


def _heights(oracle: CharEarley) -> dict[int, int]:
    """Per rule, the height of its shortest derivation tree."""
    inf = 1 << 30
    best: dict[str, int] = {}
    height = {r: inf for r in range(len(oracle.rules))}
    changed = True
    while changed:
        changed = False
        for r, (origin, rhs) in enumerate(oracle.rules):
            h = 1 + max([0] + [best.get(n, inf) for n, t in rhs if not t])
            if h < height[r]:
                height[r] = h
                if h < best.get(origin, inf):
                    best[origin] = h
                changed = True
    return height
