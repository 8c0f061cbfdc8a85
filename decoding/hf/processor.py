"""Hugging Face ``generate`` integration: a grammar-constraining logits processor.

State is keyed on each row's token prefix, not on how often the processor was called: beam search
reorders rows, prompt-lookup / assisted decoding calls processors on prefixes that get shorter, and
one processor can serve many ``generate`` calls.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
from transformers import LogitsProcessor

from grammars import (
    CompiledGrammar,
    Grammar,
    GrammarMatcher,
    TokenRejectedError,
    Vocabulary,
    allocate_token_bitmask,
    apply_token_bitmask_inplace,
    compile_grammar,
)

from ..tokenizers import vocabulary_for_grammar, vocabulary_from_hf

_KEEP_BEHIND = 256  # prefixes this many tokens shorter than the newest are forgotten


def compile_for_tokenizer(grammar: Grammar | str | dict, tokenizer, *, model=None) -> CompiledGrammar:
    """Compile a grammar (a :class:`Grammar`, a bundled name, a ``.lark`` path or Lark text, or a
    structural tag as a dict: see :mod:`grammars.structural_tag`) for an HF tokenizer; ``model``
    (optional) supplies the logits width and generation-config EOS ids.

    For a structural tag, special tokens whose text is one of the tag's fixed strings (a begin, an
    end, a trigger: ``<tool_call>`` as one token) may be produced where that text may come. A
    grammar that names special tokens (``<|im_end|>`` in :meth:`Grammar.from_llguidance`) gets them
    where it names them, and nowhere else.
    """
    vocabulary = vocabulary_for(tokenizer, model)
    if isinstance(grammar, dict):
        from grammars.structural_tag import structural_tag_literals

        vocabulary = with_special_tokens(vocabulary, tokenizer, structural_tag_literals(grammar))
        grammar = Grammar.from_structural_tag(grammar)
    elif isinstance(grammar, str):
        grammar = Grammar.load(grammar)
    return compile_grammar(grammar, vocabulary_for_grammar(vocabulary, tokenizer, grammar))


def with_special_tokens(vocabulary: Vocabulary, tokenizer, texts: set[str]) -> Vocabulary:
    """``vocabulary`` in which the special tokens whose content is one of ``texts`` stand for that
    text (end-of-sequence ids stay end-of-sequence). The same vocabulary if there are none."""
    added = dict(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    chosen = {i: str(t.content) for i, t in added.items()
              if str(t.content) in texts and i < vocabulary.size and vocabulary.token_bytes[i] is None
              and i not in vocabulary.eos_token_ids}
    if not chosen:
        return vocabulary
    token_bytes = list(vocabulary.token_bytes)
    for i, text in chosen.items():
        token_bytes[i] = text.encode("utf-8")
    return Vocabulary(token_bytes, vocabulary.eos_token_ids, vocabulary.logits_width,
                      name=f"{vocabulary.name}+{len(chosen)} special")


_vocabularies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def vocabulary_for(tokenizer, model=None) -> Vocabulary:
    """The tokenizer's :class:`Vocabulary` (logits width and EOS ids from ``model`` if given),
    computed once per tokenizer object."""
    width = None
    gen_config = None
    if model is not None:
        width = max(int(model.config.vocab_size), len(tokenizer))
        gen_config = getattr(model, "generation_config", None)
    eos = getattr(gen_config, "eos_token_id", None)
    key = (width, tuple(eos) if isinstance(eos, list) else eos, len(tokenizer))
    per_tokenizer = _vocabularies.setdefault(tokenizer, {})
    if key not in per_tokenizer:
        per_tokenizer[key] = vocabulary_from_hf(tokenizer, logits_width=width,
                                                generation_config=gen_config)
    return per_tokenizer[key]


def forward_outputs(model, ids: torch.Tensor, cache, **kwargs):
    """The forward outputs of ``model`` on ``ids``, appending to the KV ``cache`` (``cache=`` keyword
    of transformers 5, ``past_key_values=`` before it); ``kwargs`` go to the forward."""
    try:
        return model(ids, cache=cache, use_cache=True, **kwargs)
    except TypeError:  # transformers before the ``cache`` keyword
        return model(ids, past_key_values=cache, use_cache=True, **kwargs)


def forward_with_cache(model, ids: torch.Tensor, cache, **kwargs) -> torch.Tensor:
    """The logits of :func:`forward_outputs`."""
    return forward_outputs(model, ids, cache, **kwargs).logits


def apply_bitmask(scores: torch.Tensor, bitmask: np.ndarray, rows: list[int]) -> None:
    """Set to -inf, in place, the scores of ``rows`` whose bit is 0 in the matching bitmask row."""
    if scores.device.type == "cpu" and scores.dtype == torch.float32 and scores.is_contiguous():
        apply_token_bitmask_inplace(scores.numpy(), bitmask, rows)
        return
    width = scores.shape[-1]
    bits = torch.from_numpy(bitmask).to(scores.device)
    shifts = torch.arange(32, device=scores.device, dtype=torch.int32)
    allowed = ((bits.unsqueeze(-1) >> shifts) & 1).bool().reshape(len(rows), -1)
    if allowed.shape[1] < width:
        pad = torch.zeros(len(rows), width - allowed.shape[1], dtype=torch.bool, device=scores.device)
        allowed = torch.cat([allowed, pad], dim=1)
    idx = torch.tensor(rows, device=scores.device)
    scores[idx] = scores[idx].masked_fill(~allowed[:, :width], float("-inf"))


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks every token that cannot lead to a string of the grammar; end-of-sequence ids are
    allowed only where the text so far is complete.

    Args:
        compiled: a grammar compiled for the model's tokenizer (see :func:`compile_for_tokenizer`).

    Works with batches, beam search, sampling and prompt lookup, and can be reused across
    ``generate`` calls. Rows are told apart by their content: a row the processor has not seen
    before is taken as a new prompt, and the grammar starts after it.

    Example:
        >>> from decoding.models import load_test_model
        >>> model, tok = load_test_model()
        >>> proc = GrammarLogitsProcessor(compile_for_tokenizer("choices", tok, model=model))
        >>> ids = tok.apply_chat_template([{"role": "user", "content": "Is 'I love it' positive?"}],
        ...                               add_generation_prompt=True, return_tensors="pt")
        >>> out = model.generate(ids, logits_processor=[proc], max_new_tokens=8, do_sample=False)
        >>> tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True) in {"positive", "negative",
        ...     "neutral", "mixed", "unknown"}
        True
    """

    def __init__(self, compiled: CompiledGrammar):
        self.compiled = compiled
        self._states: dict[bytes, GrammarMatcher | None] = {}
        self._newest = 0

    def reset(self) -> None:
        """Forget every prefix seen so far."""
        self._states.clear()
        self._newest = 0

    def matcher_for(self, row: torch.Tensor | np.ndarray) -> GrammarMatcher | None:
        """The matcher after the given row of token ids (None if the row left the grammar)."""
        ids = np.ascontiguousarray(np.asarray(row.cpu() if isinstance(row, torch.Tensor) else row),
                                   dtype=np.int64)
        key = ids.tobytes()
        if key in self._states:
            return self._states[key]
        parent_key = key[:-8]
        if len(ids) > 1 and parent_key in self._states:
            parent = self._states[parent_key]
            matcher = None
            if parent is not None:
                matcher = parent.fork()
                if not matcher.is_finished():
                    try:
                        matcher.advance(int(ids[-1]))
                    except TokenRejectedError:
                        matcher = None  # a rejected draft token, or another processor's choice
        else:
            matcher = GrammarMatcher(self.compiled)  # a new prompt: the grammar starts here
        self._states[key] = matcher
        return matcher

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        length = input_ids.shape[1]
        if length > self._newest:
            self._newest = length
            self._forget_older_than(length - _KEEP_BEHIND)
        ids = input_ids.cpu().numpy()
        if not any(self._knows(row) for row in ids):
            self._states.clear()  # a new generate call: the old prefixes are done with
        rows: list[int] = []
        matchers: list[GrammarMatcher] = []
        for i in range(ids.shape[0]):
            m = self.matcher_for(ids[i])
            if m is not None and not m.is_finished():
                rows.append(i)
                matchers.append(m)
        if not rows:
            return scores
        bitmask = allocate_token_bitmask(len(rows), self.compiled.logits_width)
        for j, m in enumerate(matchers):
            m.fill_bitmask(bitmask, j)
        apply_bitmask(scores, bitmask, rows)
        return scores

    def _knows(self, row: np.ndarray) -> bool:
        """Whether the row or its parent prefix was seen (the row continues a known sequence)."""
        key = np.ascontiguousarray(row, dtype=np.int64).tobytes()
        return key in self._states or key[:-8] in self._states

    def _forget_older_than(self, length: int) -> None:
        if length <= 0:
            return
        limit = length * 8
        for key in [k for k in self._states if len(k) < limit]:
            del self._states[key]
