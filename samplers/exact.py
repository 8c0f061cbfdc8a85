"""The exact grammar-conditioned distribution of a finite language, and distances to it.

For a grammar whose language is finite within ``max_new_tokens``, :func:`enumerate_language` walks
every allowed token sequence, scores it with the model (one call per prefix), and returns
``Q(y) = P(y) / Z_G`` over token sequences (non-canonical tokenizations are outcomes of their own,
as in GAD). Use it to measure how far a sampler is from the target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from grammars import CompiledGrammar, GrammarMatcher

from .aligned import NextTokenModel, allowed_within

__all__ = ["LanguageTable", "TableModel", "enumerate_language"]


@dataclass
class LanguageTable:
    """Every token sequence (end-of-sequence included) of a finite language with log P(y), and
    the allowed tokens with their log-probabilities at each prefix.

    Example:
        >>> import numpy as np
        >>> from grammars import Grammar, Vocabulary, compile_grammar
        >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
        >>> cg = compile_grammar(Grammar.from_lark('start: "a" | "ab"'), vocab, use_disk_cache=False)
        >>> class Uniform:
        ...     def logprobs(self, prefix):
        ...         return np.log(np.full(3, 1 / 3, dtype=np.float32))
        >>> table = enumerate_language(cg, Uniform(), max_new_tokens=4)
        >>> sorted(table.sequences), round(float(np.exp(table.log_z)), 4)   # 1/9 + 1/27
        ([(0, 1, 2), (0, 2)], 0.1481)
        >>> [round(float(q), 2) for q in table.target()]
        [0.75, 0.25]
    """

    sequences: list[tuple[int, ...]]
    logprobs: np.ndarray
    prefixes: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]
    width: int
    index: dict[tuple[int, ...], int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {y: i for i, y in enumerate(self.sequences)}

    @property
    def log_z(self) -> float:
        """log Z_G: the log-probability that the model's output is in the language."""
        top = float(self.logprobs.max())
        return top + math.log(float(np.exp(self.logprobs - top).sum()))

    def target(self) -> np.ndarray:
        """The exact conditioned distribution, in the order of :attr:`sequences`."""
        return np.exp(self.logprobs - self.log_z)

    def counts(self, samples: Iterable[Sequence[int]]) -> np.ndarray:
        """Counts of each sequence among ``samples`` (token id sequences); a sample outside the
        language raises ``KeyError``."""
        out = np.zeros(len(self.sequences), dtype=np.int64)
        for s in samples:
            out[self.index[tuple(s)]] += 1
        return out

    def kl(self, counts: np.ndarray) -> float:
        """KL(empirical || exact), in nats."""
        n = counts.sum()
        seen = counts > 0
        emp = counts[seen] / n
        return float((emp * (np.log(emp) - (self.logprobs[seen] - self.log_z))).sum())

    def tv(self, counts: np.ndarray) -> float:
        """Total variation distance between the empirical and the exact distribution."""
        return float(0.5 * np.abs(counts / counts.sum() - self.target()).sum())

    def replay(self) -> "TableModel":
        """A :class:`~samplers.aligned.NextTokenModel` that replays the recorded distributions
        (disallowed tokens get the leftover mass as a whole), counting its calls."""
        return TableModel(self)


class TableModel:
    """Replays a :class:`LanguageTable`'s recorded next-token distributions; ``calls`` counts the
    model calls a sampler would have made."""

    def __init__(self, table: LanguageTable):
        self.table = table
        self.calls = 0
        self._spare = self._spare_token()

    def _spare_token(self) -> int:
        used = set()
        for allowed, _ in self.table.prefixes.values():
            used.update(int(t) for t in allowed)
        for t in range(self.table.width):
            if t not in used:
                return t
        raise ValueError("no token outside the language to carry the disallowed mass")

    def logprobs(self, prefix: Sequence[int]) -> np.ndarray:
        self.calls += 1
        allowed, logps = self.table.prefixes[tuple(prefix)]
        out = np.full(self.table.width, -np.inf, dtype=np.float32)
        out[allowed] = logps
        rest = 1.0 - float(np.exp(logps.astype(np.float64)).sum())
        out[self._spare] = math.log(rest) if rest > 0 else -np.inf
        return out


def enumerate_language(compiled: CompiledGrammar, model: NextTokenModel, *, max_new_tokens: int,
                       max_prefixes: int = 20_000) -> LanguageTable:
    """Walk every allowed token sequence of at most ``max_new_tokens`` tokens (end-of-sequence
    included), scoring each prefix once with ``model``. Raises ``ValueError`` when there are more
    than ``max_prefixes`` prefixes (the language is too large to enumerate)."""
    eos = set(int(t) for t in compiled.eos_token_ids)
    eos_arr = np.array(sorted(eos), dtype=np.int64)
    sequences: list[tuple[int, ...]] = []
    logprobs: list[float] = []
    prefixes: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
    stack: list[tuple[tuple[int, ...], GrammarMatcher, float]] = [((), GrammarMatcher(compiled), 0.0)]
    while stack:
        prefix, matcher, logp = stack.pop()
        if len(prefixes) >= max_prefixes:
            raise ValueError(f"the language has more than {max_prefixes} prefixes within "
                             f"max_new_tokens = {max_new_tokens}; too large to enumerate")
        allowed = allowed_within(matcher, len(prefix), max_new_tokens, eos_arr)
        full = np.asarray(model.logprobs(list(prefix)), dtype=np.float32)
        logps = full[allowed]
        prefixes[prefix] = (allowed, logps)
        children = []
        for token, lp in zip(allowed.tolist(), logps.tolist()):
            if token in eos:
                sequences.append(prefix + (token,))
                logprobs.append(logp + lp)
            else:
                child = matcher.fork()
                child.advance(token)
                children.append((prefix + (token,), child, logp + lp))
        stack.extend(reversed(children))  # depth first, in token order: the KV cache is reused
    if not sequences:
        raise ValueError(f"no string of the grammar fits within max_new_tokens = {max_new_tokens}")
    return LanguageTable(sequences, np.array(logprobs, dtype=np.float64), prefixes,
                         int(compiled.logits_width))

