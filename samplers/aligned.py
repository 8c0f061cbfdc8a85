"""Grammar-aligned sampling: GCD, ASAp and the exact adaptive-rejection mode over one trie.

The model is any :class:`NextTokenModel`: a function from the tokens generated after the prompt to
the full vector of next-token log-probabilities the user would sample from (temperature and any
truncation already applied). Three modes share one :class:`~samplers.trie.SampleTrie`:

- ``gcd``: grammar-constrained decoding; allowed tokens in proportion to ``p``. Biased: it samples
  ``prod p / Z`` rather than the model conditioned on the grammar.
- ``asap``: allowed tokens in proportion to ``p * theta(child)``; converges to the model
  conditioned on the grammar as the trie fills. Each sample carries an importance weight
  ``P(y) / q(y)``, so self-normalised averages estimate expectations under the exact target.
- ``exact``: adaptive rejection on the same trie. At a prefix seen for the first time the token is
  drawn from the unmasked ``p`` and the attempt is rejected if the grammar forbids it; elsewhere
  the ASAp proposal is used. Accepted samples are exact i.i.d. draws from the conditioned
  distribution; the acceptance rate ``Z_G / theta(root)`` rises as the trie learns.

``max_new_tokens`` (counting the end-of-sequence token) is part of the constraint: after
``max_new_tokens - 1`` tokens only end-of-sequence is allowed, so a prefix that cannot finish in
time gets theta 0. All modes update the trie the same way; only the proposal differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from grammars import CompiledGrammar, GrammarMatcher

from .trie import SampleTrie

__all__ = ["AlignedSample", "AlignedSampler", "NextTokenModel", "SamplingError", "UnsatisfiableError",
           "allowed_within"]

Mode = Literal["gcd", "asap", "exact"]
MODES: tuple[str, ...] = ("gcd", "asap", "exact")


def allowed_within(matcher: GrammarMatcher, depth: int, max_new_tokens: int | None,
                   eos: np.ndarray) -> np.ndarray:
    """The allowed token ids (ascending) after ``depth`` generated tokens, with the length bound
    as part of the constraint: from depth ``max_new_tokens - 1`` on, only end-of-sequence ids."""
    allowed = matcher.allowed_token_ids().astype(np.int64)
    if max_new_tokens is not None and depth >= max_new_tokens - 1:
        allowed = np.intersect1d(allowed, eos)
    return allowed


class NextTokenModel(Protocol):
    """What the sampler needs from a model: the float32 log-probabilities (full vocabulary, summing
    to 1) of the next token after the prompt followed by ``prefix``."""

    def logprobs(self, prefix: Sequence[int]) -> np.ndarray: ...


class UnsatisfiableError(RuntimeError):
    """No string of the grammar can be generated (within ``max_new_tokens``)."""


class SamplingError(RuntimeError):
    """Sampling could not proceed (an attempt budget ran out, or the model gave no usable mass)."""


@dataclass(frozen=True)
class AlignedSample:
    """One sample. ``logprob`` is log P(y) under the model (end-of-sequence included);
    ``log_weight`` is log P(y)/q(y) for the proposal q that drew it (0 for exact samples, which
    need no weight); ``attempts`` counts tries (rejections and dead-end restarts included);
    ``steps`` counts next-token distributions consumed over those tries."""

    token_ids: tuple[int, ...]
    text: str
    logprob: float
    log_weight: float
    attempts: int
    steps: int


@dataclass
class _Attempt:
    tokens: list[int]
    logprob: float
    log_weight: float
    steps: int
    ok: bool


class AlignedSampler:
    """Draws GCD, ASAp or exact grammar-aligned samples for one prompt.

    Args:
        compiled: the grammar compiled for the model's vocabulary.
        model: a :class:`NextTokenModel` for one prompt and decoding config.
        mode: ``"gcd"``, ``"asap"`` (default) or ``"exact"``.
        max_new_tokens: the length bound (end-of-sequence included); part of the constraint.
        trie: a trie to continue (for this prompt, grammar, tokenizer and decoding config);
            a fresh one by default.
        seed: seeds the sampler's random generator.
        max_attempts: per sample, the tries before :class:`SamplingError` (never a hang).

    Example:
        >>> import numpy as np
        >>> from grammars import Grammar, Vocabulary, compile_grammar
        >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
        >>> cg = compile_grammar(Grammar.from_lark('start: "a" | "ab"'), vocab, use_disk_cache=False)
        >>> class Uniform:
        ...     def logprobs(self, prefix):
        ...         return np.log(np.full(3, 1 / 3, dtype=np.float32))
        >>> s = AlignedSampler(cg, Uniform(), mode="exact", max_new_tokens=4, seed=0).sample()
        >>> s.text in {"a", "ab"}
        True
    """

    def __init__(self, compiled: CompiledGrammar, model: NextTokenModel, *, mode: Mode = "asap",
                 max_new_tokens: int = 64, trie: SampleTrie | None = None, seed: int | None = None,
                 max_attempts: int = 100_000):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1 (got {max_new_tokens})")
        self.compiled = compiled
        self.model = model
        self.mode = mode
        self.max_new_tokens = int(max_new_tokens)
        self.trie = trie if trie is not None else SampleTrie()
        self.rng = np.random.default_rng(seed)
        self.max_attempts = int(max_attempts)
        self._eos = np.asarray(compiled.eos_token_ids, dtype=np.int64)
        self._matcher = GrammarMatcher(compiled)

    @property
    def theta_root(self) -> float:
        """Current upper bound on the probability that the model's output is in the grammar."""
        return self.trie.theta(0)

    def sample(self) -> AlignedSample:
        """Draw one sample (in exact mode: the first accepted attempt)."""
        steps = 0
        for attempt in range(1, self.max_attempts + 1):
            if self.trie.is_expanded(0) and self.trie.logtheta(0) == -math.inf:
                raise UnsatisfiableError(
                    f"unsatisfiable within max_new_tokens = {self.max_new_tokens}: no string of the "
                    f"grammar can be generated in that many tokens")
            result = self._attempt()
            steps += result.steps
            if result.ok:
                text = self._matcher.text()
                return AlignedSample(tuple(result.tokens), text, result.logprob,
                                     0.0 if self.mode == "exact" else result.log_weight,
                                     attempt, steps)
        raise SamplingError(
            f"no {self.mode} sample accepted in {self.max_attempts} attempts (theta(root) = "
            f"{self.theta_root:.3g}); raise max_attempts, or use mode='asap'")

    def samples(self, n: int, *, progress: Callable[[Iterator], Iterator] | None = None) -> list[AlignedSample]:
        """Draw ``n`` samples; ``progress`` may wrap the loop (e.g. ``tqdm.tqdm``)."""
        loop: Iterator = iter(range(n))
        if progress is not None:
            loop = progress(loop)
        return [self.sample() for _ in loop]

    # -- one attempt ---------------------------------------------------------------------------

    def _attempt(self) -> _Attempt:
        trie, rng, matcher = self.trie, self.rng, self._matcher
        matcher.reset()
        node = 0
        tokens: list[int] = []
        logprob = 0.0
        log_weight = 0.0
        steps = 0
        while True:
            depth = len(tokens)
            fresh = node < 0 or not trie.is_expanded(node)
            dist = trie.distribution(node) if node >= 0 else None
            if dist is None:
                full = np.asarray(self.model.logprobs(tokens), dtype=np.float32)
                allowed = allowed_within(matcher, depth, self.max_new_tokens, self._eos)
                dist = (allowed, full[allowed])
                if node >= 0 and fresh:
                    trie.expand(node, *dist)
            steps += 1
            allowed, logps = dist
            mass = trie.allowed_mass(node) if node >= 0 else float(np.exp(logps.astype(np.float64)).sum())
            if mass <= 0.0:  # a dead end (the length bound) or a model with no mass left
                return _Attempt(tokens, logprob, log_weight, steps, ok=False)
            if self.mode == "exact" and fresh and depth > 0:
                # Draw from the unmasked distribution: a forbidden token rejects the attempt.
                if rng.random() >= mass:
                        return _Attempt(tokens, logprob, log_weight, steps, ok=False)
                scores = logps.astype(np.float64)
            elif self.mode == "gcd" or node < 0:
                scores = logps.astype(np.float64)
            else:
                scores = trie.proposal_logits(node, allowed, logps)
            top = scores.max()
            if top == -math.inf:
                return _Attempt(tokens, logprob, log_weight, steps, ok=False)
            weights = np.exp(scores - top)
            total = weights.sum()
            k = int(np.searchsorted(np.cumsum(weights), rng.random() * total, side="right"))
            k = min(k, len(weights) - 1)
            token = int(allowed[k])
            # Importance weight: log Z_t minus log theta of the chosen child as used for the choice.
            log_z = math.log(total) + top if self.mode == "asap" and node >= 0 else math.log(mass)
            log_weight += log_z
            logprob += float(logps[k])
            is_eos = token in self._eos
            child = -1
            if node >= 0:
                child = trie.child(node, token)
                if child < 0:
                    child = trie.add_child(node, token, float(logps[k]), eos=is_eos)
                if self.mode == "asap" and child >= 0:
                    log_weight -= trie.logtheta(child)
            tokens.append(token)
            if is_eos:
                return _Attempt(tokens, logprob, log_weight, steps, ok=True)
            matcher.advance(token)
            node = child
