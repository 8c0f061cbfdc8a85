"""Attributes of outputs for conditional beam search: predicates ``a(y)`` checked exactly on complete
outputs, some of them also decidable on prefixes (they then prune every token after which no
completion can satisfy them: a hard factor ``p(a | prefix) = 0``).

An attribute keeps a small per-hypothesis ``state`` (``None`` for most; a grammar matcher for
:class:`Matches`): ``initial_state(prompt)`` once per prompt, ``advance(state, token)`` per token.

Example:
    >>> attr = non_degenerate()
    >>> s = attr.initial_state("Once upon a time")
    >>> h = Hypothesis(tokens=(5, 6, 7), text=" there was", finished=True)
    >>> attr.holds(s, h), attr.holds(s, Hypothesis((), "", True))
    (True, False)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grammars import CompiledGrammar, GrammarMatcher

__all__ = ["AllOf", "Attribute", "Finished", "Hypothesis", "Matches", "MaxTokens", "MinTokens",
           "NoRepeatedNgram", "NotEmpty", "NotPromptCopy", "Predicate", "non_degenerate"]


@dataclass(frozen=True)
class Hypothesis:
    """An output (or a prefix of one): its token ids, its text, and whether it ended with EOS (the
    EOS token is not in ``tokens``)."""

    tokens: tuple[int, ...]
    text: str
    finished: bool = False


class Attribute:
    """A predicate on outputs. Subclasses implement ``holds``; prefix-decidable ones also narrow
    ``allows`` (which candidate tokens may extend a prefix; EOS ends the output)."""

    name = "attribute"

    def initial_state(self, prompt: str) -> Any:
        """Per-hypothesis state at the empty output (``prompt`` is the prompt's text)."""
        return None

    def advance(self, state: Any, token: int) -> Any:
        """The state after appending ``token`` (not called for EOS)."""
        return state

    def allows(self, state: Any, prefix: Hypothesis, candidates: np.ndarray,
               eos: np.ndarray) -> np.ndarray:
        """Boolean per candidate token: False only when no output through ``prefix + token``
        (``eos[i]``: the candidate ends the output) can satisfy the attribute."""
        return np.ones(len(candidates), dtype=bool)

    def holds(self, state: Any, output: Hypothesis) -> bool:
        """The exact check on a complete output."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class MinTokens(Attribute):
    """At least ``n`` tokens before EOS.

    Example:
        >>> a = MinTokens(2)
        >>> a.allows(None, Hypothesis((1,), "x"), np.array([7, 0]), np.array([False, True])).tolist()
        [True, False]
    """

    def __init__(self, n: int):
        self.n = int(n)
        self.name = f"min_tokens({self.n})"

    def allows(self, state, prefix, candidates, eos):
        return ~eos if len(prefix.tokens) < self.n else np.ones(len(candidates), dtype=bool)

    def holds(self, state, output):
        return len(output.tokens) >= self.n


class MaxTokens(Attribute):
    """At most ``n`` tokens before EOS (EOS is forced after ``n``)."""

    def __init__(self, n: int):
        self.n = int(n)
        self.name = f"max_tokens({self.n})"

    def allows(self, state, prefix, candidates, eos):
        return eos.copy() if len(prefix.tokens) >= self.n else np.ones(len(candidates), dtype=bool)

    def holds(self, state, output):
        return len(output.tokens) <= self.n


class Finished(Attribute):
    """The output ended with EOS (not cut at ``max_new_tokens``)."""

    name = "finished"

    def holds(self, state, output):
        return output.finished


class NotEmpty(Attribute):
    """Some non-whitespace text.

    Example:
        >>> NotEmpty().allows(None, Hypothesis((3,), " \\n"), np.array([0, 9]),
        ...                   np.array([True, False])).tolist()
        [False, True]
    """

    name = "not_empty"

    def allows(self, state, prefix, candidates, eos):
        return ~eos if not prefix.text.strip() else np.ones(len(candidates), dtype=bool)

    def holds(self, state, output):
        return bool(output.text.strip())


class NoRepeatedNgram(Attribute):
    """No token ``n``-gram occurs more than ``max_count`` times.

    Example:
        >>> a = NoRepeatedNgram(2, max_count=1)
        >>> a.allows(None, Hypothesis((4, 5, 4), ""), np.array([5, 6]), np.array([False, False])).tolist()
        [False, True]
    """

    def __init__(self, n: int = 4, max_count: int = 2):
        if n < 1 or max_count < 1:
            raise ValueError(f"n and max_count must be at least 1 (got n={n}, max_count={max_count})")
        self.n, self.max_count = int(n), int(max_count)
        self.name = f"no_repeated_ngram(n={self.n}, max_count={self.max_count})"

    def _counts(self, tokens: Sequence[int]) -> Counter:
        n = self.n
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))

    def allows(self, state, prefix, candidates, eos):
        tokens = prefix.tokens
        if len(tokens) < self.n - 1:
            return np.ones(len(candidates), dtype=bool)
        head = tuple(tokens[len(tokens) - self.n + 1:]) if self.n > 1 else ()
        counts = self._counts(tokens)
        banned = [g[-1] for g, c in counts.items() if c >= self.max_count and g[:-1] == head]
        return eos | ~np.isin(candidates, banned)

    def holds(self, state, output):
        return all(c <= self.max_count for c in self._counts(output.tokens).values())


class NotPromptCopy(Attribute):
    """The output does not contain the prompt's last ``chars`` characters verbatim (prompts shorter
    than ``min_chars`` after stripping are not checked)."""

    def __init__(self, chars: int = 50, min_chars: int = 20):
        self.chars, self.min_chars = int(chars), int(min_chars)
        self.name = f"not_prompt_copy({self.chars})"

    def initial_state(self, prompt):
        tail = prompt.strip()[-self.chars:]
        return tail if len(tail) >= self.min_chars else None

    def holds(self, state, output):
        return state is None or state not in output.text


class Predicate(Attribute):
    """Any user predicate on the output text, checked on complete outputs only.

    Example:
        >>> Predicate(lambda text: "cat" in text, "mentions_cat").holds(None, Hypothesis((), "a cat"))
        True
    """

    def __init__(self, fn: Callable[[str], bool], name: str = "predicate"):
        self.fn = fn
        self.name = name

    def holds(self, state, output):
        return bool(self.fn(output.text))


class Matches(Attribute):
    """The output is a string of a compiled grammar: masks give the exact 0/1 per prefix."""

    def __init__(self, compiled: CompiledGrammar):
        self.compiled = compiled
        self.name = "matches_grammar"

    def initial_state(self, prompt):
        return GrammarMatcher(self.compiled)

    def advance(self, state, token):
        matcher = state.fork()
        matcher.advance(int(token))
        return matcher

    def allows(self, state, prefix, candidates, eos):
        return np.isin(candidates, state.allowed_token_ids())

    def holds(self, state, output):
        return output.finished and state.is_accepting()


class AllOf(Attribute):
    """The conjunction of attributes (states are kept per member).

    Example:
        >>> AllOf(MinTokens(1), NotEmpty()).holds((None, None), Hypothesis((1,), "a", True))
        True
    """

    def __init__(self, *members: Attribute):
        if not members:
            raise ValueError("AllOf needs at least one attribute")
        self.members = members
        self.name = " & ".join(m.name for m in members)

    def initial_state(self, prompt):
        return tuple(m.initial_state(prompt) for m in self.members)

    def advance(self, state, token):
        return tuple(m.advance(s, token) for m, s in zip(self.members, state))

    def allows(self, state, prefix, candidates, eos):
        ok = np.ones(len(candidates), dtype=bool)
        for m, s in zip(self.members, state):
            ok &= m.allows(s, prefix, candidates, eos)
        return ok

    def holds(self, state, output):
        return all(m.holds(s, output) for m, s in zip(self.members, state))

    def failures(self, state, output: Hypothesis) -> list[str]:
        """The names of the members that ``output`` fails."""
        return [m.name for m, s in zip(self.members, state) if not m.holds(s, output)]


def non_degenerate(*, ngram: int = 4, max_count: int = 2, prompt_chars: int = 50) -> AllOf:
    """The default "not degenerate" attribute: non-empty after stripping, ends with EOS, no token
    ``ngram`` occurs more than ``max_count`` times, no verbatim copy of the prompt's last
    ``prompt_chars`` characters."""
    return AllOf(NotEmpty(), Finished(), NoRepeatedNgram(ngram, max_count), NotPromptCopy(prompt_chars))
