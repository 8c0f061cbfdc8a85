"""One constrained request, whichever runner drives it: follows the tokens vLLM committed, and gives
the matcher state of each logits row the request owns (one per draft token under speculative
decoding, each for its draft prefix), or reweights those rows (ASAp).

Example:
    >>> import numpy as np, torch
    >>> from concurrent.futures import Future
    >>> from grammars import Grammar, Vocabulary, compile_grammar
    >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
    >>> done = Future(); done.set_result(compile_grammar(Grammar.from_regex("ab"), vocab, use_disk_cache=False))
    >>> req = ConstrainedRequest(ConstraintSpec("regex", "ab"), done, None, np.array([2]))
    >>> req.start() and req.sync([0]) is None
    True
    >>> [m.allowed_token_ids().tolist() for m in req.row_matchers(drafts=[1])]  # after "a", "ab"
    [[1], [2]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from grammars import CompiledGrammar, GrammarMatcher, TokenRejectedError
from samplers import SampleTrie
from samplers.aligned import allowed_within

from .spec import ConstraintSpec

_log = logging.getLogger(__name__)


@dataclass
class ConstrainedRequest:
    """A request's constraint state. ``fed`` are the committed tokens the matcher consumed (a prefix
    of vLLM's once synced), ``nodes`` the ASAp trie node after each of them (``nodes[0]``: the
    root), ``steps`` the allowed tokens and their log-probabilities seen at each depth."""

    spec: ConstraintSpec
    compiled: Future[CompiledGrammar]
    max_tokens: int | None
    eos: np.ndarray = field(repr=False)
    trie: SampleTrie | None = None
    matcher: GrammarMatcher | None = None
    fed: list[int] = field(default_factory=list)
    nodes: list[int] = field(default_factory=lambda: [0])
    steps: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    warned: bool = False

    def start(self) -> bool:
        """Make the matcher, waiting for the compile if it still runs; False if it failed (logged)."""
        if self.matcher is None:
            error = self.compiled.exception()
            if error is not None:
                if not self.warned:
                    _log.error("guided-decoding: the %s of a request did not compile (%s); the "
                               "request ends here", self.spec.key, error)
                    self.warned = True
                return False
            self.matcher = GrammarMatcher(self.compiled.result())
        return True

    def sync(self, committed: Sequence[int]) -> None:
        """Make the matcher (and trie node) follow the committed output tokens. vLLM's tokens are not
        append-only: with async scheduling a placeholder (-1) stands for a token still being copied,
        and tokens can be taken back (a failed KV load, async speculative decoding). So roll back to
        the longest common prefix, then advance over real tokens, stopping at a placeholder (or,
        with a warning, at a token the grammar rejects: one that another processor forced)."""
        fed = self.fed
        common, limit = 0, min(len(committed), len(fed))
        while common < limit and committed[common] == fed[common]:
            common += 1
        if common < len(fed):
            self.matcher.rollback(len(fed) - common)
            del fed[common:], self.nodes[common + 1:]
        for token in committed[common:]:
            token = int(token)
            if token < 0 or self.matcher.is_finished() or not self._advance(self.matcher, token):
                break
            fed.append(token)
            if self.trie is not None:
                self.nodes.append(self._trie_child(self.nodes[-1], len(fed) - 1, token))

    def row_matchers(self, drafts: Sequence[int] = ()) -> list[GrammarMatcher]:
        """The matcher state of each row: the committed prefix, then that prefix followed by each
        longer part of ``drafts``. Rows after a draft token the grammar rejects repeat the last
        valid state (the rejection sampler discards them: that draft cannot be accepted)."""
        states = [self.matcher]
        for token in drafts:
            probe = states[-1].fork()
            if probe.is_finished() or not self._advance(probe, int(token), quiet=True):
                return states + [states[-1]] * (len(drafts) + 1 - len(states))
            states.append(probe)
        return states

    def reweight(self, logits: torch.Tensor, rows: Sequence[int], drafts: Sequence[int] = ()) -> None:
        """ASAp on the request's rows: allowed tokens get ``log p + log theta(child)``, the others
        -inf; row ``j`` is for the committed prefix followed by ``drafts[:j]``."""
        probe, node, depth = self.matcher.fork(), self.nodes[len(self.fed)], len(self.fed)
        for j, row in enumerate(rows):
            allowed = allowed_within(probe, depth, self.max_tokens, self.eos)
            logp = torch.log_softmax(logits[row].float(), dim=-1).cpu().numpy()
            logps = logp[allowed]
            del self.steps[depth:]
            self.steps.append((allowed, logps))
            new = logps.astype(np.float64)
            if node >= 0:
                self.trie.expand(node, allowed, logps)
                proposal = self.trie.proposal_logits(node, allowed, logps)
                if np.isfinite(proposal).any():
                    new = proposal
            out = torch.full_like(logits[row], float("-inf"))
            out[torch.from_numpy(allowed).to(logits.device)] = torch.from_numpy(new).to(
                device=logits.device, dtype=logits.dtype)
            logits[row] = out
            if j == len(drafts) or not self._advance(probe, int(drafts[j]), quiet=True):
                for later in rows[j + 1:]:  # after a rejected draft: never sampled from
                    logits[later] = out
                return
            node = self._trie_child(node, depth, int(drafts[j]))
            depth += 1

    # -- internals -----------------------------------------------------------------------------
    def _advance(self, matcher: GrammarMatcher, token: int, *, quiet: bool = False) -> bool:
        try:
            matcher.advance(token)
        except TokenRejectedError as e:
            if not quiet and not self.warned:
                _log.warning("guided-decoding: a token outside the grammar entered a constrained "
                             "request (%s); masking from the last valid prefix", e)
                self.warned = True
            return False
        return True

    def _trie_child(self, parent: int, depth: int, token: int) -> int:
        """The trie node after ``token`` at ``depth`` below ``parent`` (added with the
        log-probability seen when it was sampled); -1 where that is unknown."""
        if parent < 0 or depth >= len(self.steps):
            return -1
        child = self.trie.child(parent, token)
        if child < 0:
            allowed, logps = self.steps[depth]
            k = int(np.searchsorted(allowed, token))
            if k >= len(allowed) or allowed[k] != token:
                return -1
            child = self.trie.add_child(parent, token, float(logps[k]), eos=bool(np.isin(token, self.eos)))
        return child
