"""Conditional beam search on a Hugging Face causal LM: the mode of ``p(y | x, a)`` for an attribute
``a``, found by beam search whose candidate score is ``log p(prefix) + log p(a | prefix)``.

- Exact attributes (:mod:`samplers.attributes`) prune prefixes that cannot satisfy them (a hard 0)
  and are checked exactly on every complete output: a failing output never comes back.
- A learned :class:`~samplers.attribute_classifier.AttributeClassifier` adds the soft estimate
  ``log p(a | prefix . v)`` for every candidate token from one hidden state per hypothesis.
- MAP, no length normalisation; EOS candidates go to a finished pool without taking a beam slot; a
  prompt stops when ``num_return_sequences`` finished outputs score at least as high as every live
  hypothesis can (log-probabilities only fall), or at ``max_new_tokens``. Several prompts run as
  one left-padded batch.

Example:
    >>> from decoding.models import load_test_model                     # doctest: +SKIP
    >>> from samplers.attributes import non_degenerate
    >>> model, tok = load_test_model()                                  # doctest: +SKIP
    >>> plain, = conditional_beam_search(model, tok, "The capital of France is")  # doctest: +SKIP
    >>> plain.text                                                      # doctest: +SKIP
    ''
    >>> good, = conditional_beam_search(model, tok, "The capital of France is",
    ...                                 non_degenerate())               # doctest: +SKIP
    >>> good.text                                                       # doctest: +SKIP
    ' Paris.'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import DynamicCache

from samplers.attribute_classifier import AttributeClassifier, FitReport
from samplers.attributes import AllOf, Attribute, Hypothesis

from .aligned import prompt_ids
from .processor import forward_outputs, vocabulary_for

__all__ = ["AttributeExamples", "BeamResult", "BeamSearchError", "attribute_examples",
           "conditional_beam_search", "default_layers", "eos_token_ids", "fit_attribute_classifier",
           "load_attribute_classifier", "model_fingerprint", "sample_continuations",
           "save_attribute_classifier"]


class BeamSearchError(RuntimeError):
    """No complete output satisfied the attribute within the beam width and length."""


class _Anything(Attribute):
    name = "anything"

    def holds(self, state, output):
        return True


@dataclass
class BeamResult:
    """One prompt's outcome: the best output satisfying the attribute (``text`` is None when none
    did and ``strict`` was off), the next best ones, and why finished outputs were dropped."""

    text: str | None
    tokens: list[int]
    logprob: float
    outputs: list[tuple[str, float]]
    finished: bool = True  # False: cut at max_new_tokens (only when the attribute allows that)
    rejected: Counter = field(default_factory=Counter)
    steps: int = 0


@dataclass
class _Hyp:
    prompt: int
    tokens: list[int]
    text: str
    logprob: float
    state: Any


def model_fingerprint(model) -> dict[str, Any]:
    """What a classifier depends on: architecture sizes and a checksum of the token embeddings."""
    config = model.config
    emb = model.get_input_embeddings().weight.detach()
    return {
        "model_type": getattr(config, "model_type", None),
        "hidden_size": int(config.hidden_size),
        "vocab_size": int(emb.shape[0]),
        "num_hidden_layers": int(getattr(config, "num_hidden_layers", 0)),
        "embedding_checksum": round(float(emb[::97].double().abs().sum()), 3),
    }


def eos_token_ids(model, tokenizer) -> np.ndarray:
    """The end-of-sequence ids (tokenizer and generation config), as the grammar engine's
    vocabulary for this model has them."""
    ids = sorted(vocabulary_for(tokenizer, model).eos_token_ids)
    if not ids:
        raise ValueError("the model and tokenizer name no end-of-sequence token")
    return np.asarray(ids, dtype=np.int64)


class _Batch:
    """The left-padded rows of live hypotheses: KV cache, attention mask and lengths."""

    def __init__(self, model, prompts: list[list[int]], layers: tuple[int, ...] | None):
        self.model, self.layers = model, layers
        self.device = next(model.parameters()).device
        width = max(len(p) for p in prompts)
        ids = torch.zeros((len(prompts), width), dtype=torch.long)
        self.mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            self.mask[i, width - len(p):] = 1
        self.lengths = self.mask.sum(1)
        self.cache = DynamicCache()
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)
        self._forward(ids, positions)

    def _forward(self, ids: torch.Tensor, positions: torch.Tensor) -> None:
        with torch.inference_mode():
            out = forward_outputs(self.model, ids.to(self.device), self.cache,
                                  attention_mask=self.mask.to(self.device),
                                  position_ids=positions.to(self.device),
                                  output_hidden_states=self.layers is not None)
            self.logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1).cpu()
            self.hidden = None if self.layers is None else [
                out.hidden_states[layer][:, -1, :].float().cpu() for layer in self.layers]

    def advance(self, parents: list[int], tokens: list[int]) -> None:
        index = torch.tensor(parents, dtype=torch.long)
        self.cache.batch_select_indices(index.to(self.device))
        positions = self.lengths[index][:, None]
        self.mask = torch.cat([self.mask[index], torch.ones((len(parents), 1), dtype=torch.long)], 1)
        self.lengths = self.lengths[index] + 1
        self._forward(torch.tensor(tokens, dtype=torch.long)[:, None], positions)


def _candidates(attribute: Attribute, hyp: _Hyp, logprobs: torch.Tensor, k: int,
                eos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` tokens by model probability that the attribute allows after ``hyp``."""
    prefix = Hypothesis(tuple(hyp.tokens), hyp.text)
    for width in (4 * k, logprobs.shape[0]):
        values, ids = torch.topk(logprobs, min(width, logprobs.shape[0]))
        ids, values = ids.numpy(), values.numpy()
        ok = np.isfinite(values) & attribute.allows(hyp.state, prefix, ids, np.isin(ids, eos))
        if ok.sum() >= k or width >= logprobs.shape[0]:
            return ids[ok][:k], values[ok][:k]
    raise AssertionError("unreachable")


def conditional_beam_search(model, tokenizer, prompts: str | Sequence[str], attribute: Attribute | None = None,
                            *, num_beams: int = 5, candidates_per_beam: int | None = None,
                            max_new_tokens: int = 48, classifier: AttributeClassifier | None = None,
                            num_return_sequences: int = 1, chat: bool = False,
                            strict: bool = True) -> list[BeamResult]:
    """Beam search for ``argmax_y p(y | x) p(a | x, y)`` per prompt (``attribute`` None: plain MAP
    beam search). ``chat``: wrap prompts in the chat template (default: raw text, as in the
    paper). ``strict``: raise :class:`BeamSearchError` when some prompt has no output satisfying the
    attribute; otherwise its result has ``text`` None."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts:
        raise ValueError("no prompts")
    if num_beams < 1 or max_new_tokens < 1 or not 1 <= num_return_sequences:
        raise ValueError(f"num_beams ({num_beams}), max_new_tokens ({max_new_tokens}) and "
                         f"num_return_sequences ({num_return_sequences}) must be at least 1")
    k = candidates_per_beam or 2 * num_beams
    attribute = attribute or _Anything()
    eos = eos_token_ids(model, tokenizer)
    encoded = [prompt_ids(tokenizer, p, chat=chat) for p in prompts]
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in encoded]
    batch = _Batch(model, encoded, classifier.layers if classifier is not None else None)
    live = [_Hyp(i, [], "", 0.0, attribute.initial_state(texts[i])) for i in range(len(prompts))]
    pools: list[list[tuple[float, list[int], str, bool]]] = [[] for _ in prompts]
    rejected = [Counter() for _ in prompts]
    steps = [0] * len(prompts)

    def finish(hyp: _Hyp, logprob: float, finished: bool) -> None:
        out = Hypothesis(tuple(hyp.tokens), hyp.text, finished)
        if attribute.holds(hyp.state, out):
            pools[hyp.prompt].append((logprob, hyp.tokens, hyp.text, finished))
        elif isinstance(attribute, AllOf):
            rejected[hyp.prompt].update(attribute.failures(hyp.state, out))
        else:
            rejected[hyp.prompt][attribute.name] += 1

    for _ in range(max_new_tokens):
        scored: list[list[tuple[float, float, int, int]]] = [[] for _ in prompts]
        for row, hyp in enumerate(live):
            ids, values = _candidates(attribute, hyp, batch.logprobs[row], k, eos)
            if not len(ids):
                rejected[hyp.prompt]["no token allowed"] += 1
            bonus = np.zeros(len(ids))
            if classifier is not None and len(ids):
                features = classifier.features([h[row:row + 1] for h in batch.hidden],
                                               len(hyp.tokens))
                bonus = classifier.log_prob(features, torch.from_numpy(ids)[None])[0].numpy()
            for v, lp, b in zip(ids.tolist(), values.tolist(), bonus.tolist()):
                if v in eos:
                    finish(hyp, hyp.logprob + lp, True)
                else:
                    scored[hyp.prompt].append((hyp.logprob + lp + b, hyp.logprob + lp, row, v))
        parents, tokens, nxt = [], [], []
        for p, cands in enumerate(scored):
            cands.sort(key=lambda c: -c[0])
            kept = cands[:num_beams]
            pool = sorted(pools[p], key=lambda c: -c[0])
            if not kept or (len(pool) >= num_return_sequences
                            and pool[num_return_sequences - 1][0] >= max(c[1] for c in kept)):
                continue  # done: no live hypothesis can beat the finished ones
            steps[p] += 1
            for _, logprob, row, v in kept:
                parent = live[row]
                new_tokens = parent.tokens + [v]
                nxt.append(_Hyp(p, new_tokens, tokenizer.decode(new_tokens, skip_special_tokens=True),
                                logprob, attribute.advance(parent.state, v)))
                parents.append(row)
                tokens.append(v)
        live = nxt
        if not live:
            break
        batch.advance(parents, tokens)
    for hyp in live:  # cut at max_new_tokens
        finish(hyp, hyp.logprob, False)

    results, failed = [], []
    for p in range(len(prompts)):
        pool = sorted(pools[p], key=lambda c: -c[0])
        if not pool:
            failed.append(p)
            results.append(BeamResult(None, [], float("-inf"), [], False, rejected[p], steps[p]))
            continue
        best = pool[0]
        results.append(BeamResult(best[2], best[1], best[0],
                                  [(t, lp) for lp, _, t, _ in pool[:num_return_sequences]],
                                  best[3], rejected[p], steps[p]))
    if strict and failed:
        why = "; ".join(f"prompt {p} ({prompts[p][:40]!r}): dropped {dict(rejected[p])}" for p in failed)
        raise BeamSearchError(f"attribute {attribute.name} unsatisfiable under beam width {num_beams} "
                              f"within {max_new_tokens} tokens: {why}")
    return results


def sample_continuations(model, ids: list[int], n: int, max_new_tokens: int, temperature: float,
                         eos: np.ndarray) -> list[tuple[list[int], bool]]:
    """``n`` ancestral samples after prompt ``ids`` (token ids without EOS, ended-with-EOS flag);
    ``eos`` as from :func:`eos_token_ids`."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids], device=device), do_sample=True, temperature=temperature,
                             top_k=0, top_p=1.0, max_new_tokens=max_new_tokens, num_return_sequences=n,
                             pad_token_id=int(eos[0]))
    samples = []
    for row in out[:, len(ids):].tolist():
        ends = [i for i, t in enumerate(row) if t in eos]
        samples.append((row[:ends[0]], True) if ends else (row, False))
    return samples


@dataclass(frozen=True)
class AttributeExamples:
    """Training examples for an :class:`AttributeClassifier`: per prefix position of every sample,
    the hidden states at ``layers`` (one ``(N, H)`` tensor per layer), the tokens generated so far,
    the next token, the sample's 0/1 label and the prompt it came from."""

    layers: tuple[int, ...]
    states: list[torch.Tensor]
    generated: torch.Tensor
    tokens: torch.Tensor
    labels: torch.Tensor
    groups: torch.Tensor


def default_layers(model) -> tuple[int, ...]:
    """A third of the way up, two thirds, and the last layer (``hidden_states`` indices)."""
    n = int(model.config.num_hidden_layers)
    return tuple(sorted({max(1, n // 3), max(1, 2 * n // 3), n}))


def attribute_examples(model, tokenizer, prompts: Sequence[str], attribute: Attribute,
                       samples: Sequence[Sequence[tuple[list[int], bool]]], *,
                       layers: tuple[int, ...], chat: bool = False) -> AttributeExamples:
    """Label each sample of each prompt (``samples[i]``: ``(tokens, ended with EOS)`` pairs, as
    from :func:`sample_continuations`) by the exact attribute and read the model's hidden states
    at every prefix position (one forward pass per sample)."""
    if len(samples) != len(prompts):
        raise ValueError(f"{len(samples)} sample lists for {len(prompts)} prompts")
    device = next(model.parameters()).device
    states: list[list[torch.Tensor]] = [[] for _ in layers]
    generated, toks, labels, groups = [], [], [], []
    for p, (prompt, drawn) in enumerate(zip(prompts, samples)):
        ids = prompt_ids(tokenizer, prompt, chat=chat)
        text = tokenizer.decode(ids, skip_special_tokens=True)
        for tokens, finished in drawn:
            if not tokens:
                continue  # an immediate EOS leaves no prefix position to learn from
            state = attribute.initial_state(text)
            for t in tokens:
                state = attribute.advance(state, t)
            out = Hypothesis(tuple(tokens), tokenizer.decode(tokens, skip_special_tokens=True), finished)
            with torch.inference_mode():
                hidden = model(torch.tensor([ids + list(tokens)], device=device),
                               output_hidden_states=True).hidden_states
            for collected, layer in zip(states, layers):
                collected.append(hidden[layer][0, len(ids) - 1:len(ids) - 1 + len(tokens)].float().cpu())
            generated.append(torch.arange(len(tokens)))
            toks.append(torch.tensor(tokens))
            labels.append(torch.full((len(tokens),), float(attribute.holds(state, out))))
            groups.append(torch.full((len(tokens),), p))
    if not toks:
        raise ValueError("no sample had a prefix position to learn from")
    return AttributeExamples(tuple(layers), [torch.cat(c) for c in states], torch.cat(generated),
                             torch.cat(toks), torch.cat(labels), torch.cat(groups))


def fit_attribute_classifier(model, tokenizer, prompts: Sequence[str], attribute: Attribute, *,
                             samples_per_prompt: int = 8, max_new_tokens: int = 48,
                             temperature: float = 1.0, chat: bool = False, rank: int = 4,
                             l2: float | tuple[float, ...] = (10.0, 100.0, 1000.0, 10000.0),
                             layers: tuple[int, ...] | None = None,
                             samples: Sequence[Sequence[tuple[list[int], bool]]] | None = None,
                             examples: AttributeExamples | None = None, train_fraction: float = 1.0,
                             seed: int = 0,
                             progress: bool = True) -> tuple[AttributeClassifier, FitReport]:
    """Train an :class:`AttributeClassifier` for ``attribute`` from the model's own samples of
    ``prompts`` (each labelled by the exact attribute; every prefix position is an example; the
    held-out Brier score is measured on prompts kept out of training). Features: the hidden states
    at ``layers`` (default :func:`default_layers`) and the share of ``max_new_tokens`` used.
    ``samples`` (per prompt, as from :func:`sample_continuations`) or ``examples`` (from
    :func:`attribute_examples`) reuse draws instead of sampling ``samples_per_prompt`` anew."""
    if not prompts or samples_per_prompt < 1:
        raise ValueError("need at least one prompt and one sample per prompt")
    layers = tuple(layers or (examples.layers if examples is not None else default_layers(model)))
    if examples is None:
        if samples is None:
            torch.manual_seed(seed)
            eos = eos_token_ids(model, tokenizer)
            from tqdm.auto import tqdm

            samples = [sample_continuations(model, prompt_ids(tokenizer, p, chat=chat),
                                            samples_per_prompt, max_new_tokens, temperature, eos)
                       for p in tqdm(prompts, desc="sample for the classifier", disable=not progress)]
        examples = attribute_examples(model, tokenizer, prompts, attribute, samples, layers=layers,
                                      chat=chat)
    if examples.layers != layers:
        raise ValueError(f"the examples hold layers {examples.layers}, not {layers}")
    emb = model.get_input_embeddings().weight.detach().float().cpu()
    clf = AttributeClassifier(emb, rank=rank, hidden_size=examples.states[0].shape[1], layers=layers,
                              max_new_tokens=max_new_tokens)
    report = clf.fit(clf.features(examples.states, examples.generated), examples.tokens,
                     examples.labels, groups=examples.groups, l2=l2,
                     train_fraction=train_fraction, seed=seed, progress=progress)
    return clf, report


def _header(model, attribute: Attribute) -> dict[str, Any]:
    return {**model_fingerprint(model), "attribute": attribute.name}


def save_attribute_classifier(classifier: AttributeClassifier, path: str | Path, model,
                              attribute: Attribute) -> None:
    """Save a classifier with what it was trained for (model fingerprint and attribute)."""
    classifier.save(path, _header(model, attribute))


def load_attribute_classifier(path: str | Path, model, attribute: Attribute) -> AttributeClassifier:
    """Load a classifier; refused (``ClassifierMismatchError``) if it was trained for another model
    or attribute."""
    emb = model.get_input_embeddings().weight.detach().float().cpu()
    return AttributeClassifier.load(path, emb, _header(model, attribute))
