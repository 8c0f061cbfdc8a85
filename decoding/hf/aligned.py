"""Grammar-aligned sampling on a Hugging Face causal LM: a KV-cached scorer, a sampling loop
(:func:`sample_aligned`) and a logits processor for users who keep their own ``generate`` loop.

Temperature, top-k and top-p are applied *inside* (to the logits, before the log-softmax): the
distribution being aligned is the one the user would sample. Do not pass them to ``generate`` as
well when using :class:`GrammarAlignedLogitsProcessor` (HF applies warpers after processors).

Example:
    >>> from decoding.models import load_test_model
    >>> model, tok = load_test_model()
    >>> run = sample_aligned(model, tok, "Is 'I love it' positive, negative or neutral?", "choices",
    ...                      n=3, mode="asap", max_new_tokens=8, seed=0, progress=False)
    >>> all(s.text in {"positive", "negative", "neutral", "mixed", "unknown"} for s in run.samples)
    True
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import (
    DynamicCache,
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from grammars import CompiledGrammar, Grammar, GrammarMatcher, TokenRejectedError
from samplers import AlignedSample, AlignedSampler, SampleTrie
from samplers.aligned import MODES, allowed_within

from .. import version
from .processor import compile_for_tokenizer, forward_with_cache, vocabulary_for

__all__ = ["AlignedRun", "CausalLMScorer", "GrammarAlignedLogitsProcessor", "sample_aligned",
           "decoding_warpers", "prompt_ids"]

def decoding_warpers(temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> LogitsProcessorList:
    """The HF warpers for a decoding config (empty for plain sampling at temperature 1)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive for sampling (got {temperature})")
    warpers = LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k:
        warpers.append(TopKLogitsWarper(int(top_k)))
    if top_p is not None and top_p < 1.0:
        warpers.append(TopPLogitsWarper(float(top_p)))
    return warpers


def prompt_ids(tokenizer, prompt: str | Sequence[int], *, chat: bool = True) -> list[int]:
    """Token ids of a prompt: a user message through the chat template (when the tokenizer has
    one and ``chat``), plain text otherwise; a sequence of ids is taken as is."""
    if not isinstance(prompt, str):
        return [int(t) for t in prompt]
    if chat and getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                            add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return [int(t) for t in ids]
    return [int(t) for t in tokenizer(prompt)["input_ids"]]


class CausalLMScorer:
    """Next-token log-probabilities after a fixed prompt, with one KV cache that is cropped back to
    the longest shared prefix between calls (the prompt is encoded once).

    Example:
        >>> from decoding.models import load_test_model
        >>> model, tok = load_test_model()
        >>> scorer = CausalLMScorer(model, tok("Hello")["input_ids"])
        >>> lp = scorer.logprobs([])
        >>> lp.shape, abs(float(np.exp(lp.astype(np.float64)).sum()) - 1) < 1e-4
        ((49152,), True)
    """

    def __init__(self, model, prompt: Sequence[int], *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None):
        if len(prompt) == 0:
            raise ValueError("the prompt must have at least one token")
        self.model = model
        self.prompt = [int(t) for t in prompt]
        self.warpers = decoding_warpers(temperature, top_k, top_p)
        self.forward_passes = 0
        self._cache = DynamicCache()
        self._cached: list[int] = []
        self._device = next(model.parameters()).device

    def logprobs(self, prefix: Sequence[int]) -> np.ndarray:
        target = self.prompt + [int(t) for t in prefix]
        common = 0
        limit = min(len(target) - 1, len(self._cached))  # feed at least one token
        while common < limit and self._cached[common] == target[common]:
            common += 1
        if len(self._cached) > common:
            self._cache.crop(common - len(self._cached))
        ids = torch.tensor([target[common:]], dtype=torch.long, device=self._device)
        with torch.inference_mode():
            logits = forward_with_cache(self.model, ids, self._cache)[:, -1, :].float()
            if self.warpers:
                logits = self.warpers(torch.tensor([target], device=self._device), logits)
            logp = torch.log_softmax(logits, dim=-1)[0]
        self._cached = target
        self.forward_passes += 1
        return logp.cpu().numpy()


@dataclass
class AlignedRun:
    """The result of :func:`sample_aligned`: the samples, the sampler (its trie holds what was
    learnt) and the model calls spent."""

    samples: list[AlignedSample]
    sampler: AlignedSampler
    forward_passes: int

    @property
    def theta_root(self) -> float:
        return self.sampler.theta_root


def trie_header(compiled: CompiledGrammar, tokenizer, model, prompt: Sequence[int], *,
                temperature: float, top_k: int | None, top_p: float | None,
                max_new_tokens: int) -> dict:
    """What a saved trie is only valid for: grammar, tokenizer, model, prompt, decoding config."""
    grammar_hash = hashlib.sha256(f"{compiled.start}\x00{compiled.grammar_text}".encode()).hexdigest()[:32]
    prompt_hash = hashlib.sha256(np.asarray(prompt, dtype=np.int64).tobytes()).hexdigest()[:32]
    return {
        "library_version": version(),
        "grammar_hash": grammar_hash,
        "tokenizer_hash": vocabulary_for(tokenizer, model).fingerprint,
        "model": str(getattr(model.config, "_name_or_path", "") or model.config.model_type),
        "prompt_hash": prompt_hash,
        "decoding_config": {"temperature": float(temperature), "top_k": top_k,
                            "top_p": top_p, "max_new_tokens": int(max_new_tokens)},
    }


def sample_aligned(model, tokenizer, prompt: str | Sequence[int], grammar: Grammar | str, n: int, *,
                   mode: str = "asap", max_new_tokens: int = 64, temperature: float = 1.0,
                   top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                   trie_path: str | os.PathLike | None = None, chat: bool = True,
                   progress: bool = True, max_attempts: int = 100_000) -> AlignedRun:
    """Draw ``n`` grammar-aligned samples for one prompt.

    ``mode`` is ``"gcd"``, ``"asap"`` or ``"exact"`` (see :mod:`samplers.aligned`). With
    ``trie_path``, the trie is loaded from that file if it exists (refused, naming the field, if it
    was built for another prompt, grammar, tokenizer, model or decoding config) and saved back at
    the end: a second run continues where the first stopped.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    compiled = compile_for_tokenizer(grammar, tokenizer, model=model)
    ids = prompt_ids(tokenizer, prompt, chat=chat)
    header = trie_header(compiled, tokenizer, model, ids, temperature=temperature, top_k=top_k,
                         top_p=top_p, max_new_tokens=max_new_tokens)
    if trie_path is not None and os.path.exists(trie_path):
        trie = SampleTrie.load(trie_path, expect=header)
    else:
        trie = SampleTrie(header=header)
    scorer = CausalLMScorer(model, ids, temperature=temperature, top_k=top_k, top_p=top_p)
    sampler = AlignedSampler(compiled, scorer, mode=mode, max_new_tokens=max_new_tokens, trie=trie,
                             seed=seed, max_attempts=max_attempts)
    wrap = None
    if progress:
        from tqdm.auto import tqdm

        def wrap(it):
            return tqdm(it, total=n, desc=f"{mode} samples", unit="sample")
    try:
        samples = sampler.samples(n, progress=wrap)
    finally:
        if trie_path is not None:
            trie.save(trie_path)
    return AlignedRun(samples, sampler, scorer.forward_passes)


class GrammarAlignedLogitsProcessor(LogitsProcessor):
    """ASAp (or GCD) as a logits processor for ``model.generate(do_sample=True)``.

    Replaces each allowed token's score by ``log p + log theta(child)`` (``p`` the tempered,
    truncated, unmasked distribution) and forbidden ones by -inf, learning a trie per prompt
    across calls. Call ``generate`` with ``do_sample=True`` and *no* temperature/top-k/top-p
    (pass those here). ``max_new_tokens`` makes the length bound part of the constraint.

    Example:
        >>> from decoding.models import load_test_model
        >>> model, tok = load_test_model()
        >>> proc = GrammarAlignedLogitsProcessor(compile_for_tokenizer("choices", tok, model=model),
        ...                                      max_new_tokens=8)
        >>> ids = torch.tensor([prompt_ids(tok, "Is 'I love it' positive?")])
        >>> out = model.generate(ids, logits_processor=[proc], max_new_tokens=8, do_sample=True,
        ...                      top_k=0, top_p=1.0, temperature=1.0)
        >>> tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True) in {"positive", "negative",
        ...     "neutral", "mixed", "unknown"}
        True
    """

    def __init__(self, compiled: CompiledGrammar, *, mode: str = "asap", temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 max_new_tokens: int | None = None):
        if mode not in ("asap", "gcd"):
            raise ValueError(f"the processor form supports mode 'asap' or 'gcd' (got {mode!r}); "
                             f"the exact mode rejects whole samples: use sample_aligned")
        self.compiled = compiled
        self.mode = mode
        self.warpers = decoding_warpers(temperature, top_k, top_p)
        self.max_new_tokens = max_new_tokens
        self.tries: dict[bytes, SampleTrie] = {}  # one per prompt
        self._eos = np.asarray(compiled.eos_token_ids, dtype=np.int64)
        self._prompt_len: int | None = None
        self._rows: dict[bytes, tuple] = {}  # row -> (node, matcher, allowed ids, their logps)

    def _row_state(self, row: np.ndarray) -> tuple[SampleTrie, int, GrammarMatcher | None]:
        """The trie, node and matcher of a row, from its parent row's (seen at the last call)."""
        trie = self.tries.setdefault(row[: self._prompt_len].tobytes(), SampleTrie())
        parent = self._rows.get(row[:-1].tobytes()) if len(row) > self._prompt_len else None
        if parent is None:
            return trie, 0, GrammarMatcher(self.compiled)
        pnode, pmatcher, allowed, logps = parent
        token = int(row[-1])
        if pmatcher is None or pmatcher.is_finished():
            return trie, -1, None
        matcher = pmatcher.fork()
        try:
            matcher.advance(token)
        except TokenRejectedError:
            return trie, -1, None  # another processor chose a token this grammar forbids
        node = -1
        if pnode >= 0:
            node = trie.child(pnode, token)
            if node < 0:
                k = int(np.searchsorted(allowed, token))
                node = trie.add_child(pnode, token, float(logps[k]), eos=token in self._eos)
        return trie, node, matcher

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        ids = input_ids.cpu().numpy().astype(np.int64)
        if self._prompt_len is None or not any(r[:-1].tobytes() in self._rows for r in ids):
            self._prompt_len = ids.shape[1]  # a new generate call
            self._rows.clear()
        warped = self.warpers(input_ids, scores.float()) if self.warpers else scores.float()
        logp_all = torch.log_softmax(warped, dim=-1).cpu().numpy()
        out = torch.full_like(scores, -math.inf)
        rows: dict[bytes, tuple] = {}
        for i, row in enumerate(ids):
            trie, node, matcher = self._row_state(row)
            if matcher is None or matcher.is_finished():
                rows[row.tobytes()] = (node, None, None, None)
                out[i] = scores[i]
                continue
            allowed = allowed_within(matcher, len(row) - self._prompt_len, self.max_new_tokens,
                                     self._eos)
            logps = logp_all[i][allowed]
            rows[row.tobytes()] = (node, matcher, allowed, logps)
            if node >= 0:
                trie.expand(node, allowed, logps)  # no-op after the first visit
            new = (trie.proposal_logits(node, allowed, logps)
                   if self.mode == "asap" and node >= 0 else logps.astype(np.float64))
            if not np.isfinite(new).any():
                new = logps.astype(np.float64)  # every allowed token scored -inf: fall back to GCD
            out[i, torch.from_numpy(allowed)] = torch.from_numpy(new).to(out.dtype)
        self._rows = rows
        return out
