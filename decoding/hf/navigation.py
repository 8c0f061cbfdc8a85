"""In-context navigation (:mod:`samplers.navigation`) on a Hugging Face causal LM.

:class:`HFTextModel` gives a model and its tokenizer the two methods ICN needs: the ranking of
the next token (one forward pass) and batched completion (``generate`` with left padding, greedy
or sampled at temperature 1, each row stopped as soon as its decoded text holds the stop string).
Prompts are raw text by default, as in the reference code; ``chat=True`` puts the user part
through the tokenizer's chat template and starts the assistant turn with the response part.
The KV cache of the last prompt prefix is kept: a ranking or a batch of completions whose rows
share a prefix with it (the growing navigation list, the plain prompt) only runs the new tokens,
and a batch whose rows share a prefix runs it once, not once per row.

Example:
    >>> from decoding.models import load_test_model
    >>> model, tok = load_test_model()                                        # doctest: +SKIP
    >>> result = navigate_hf(model, tok, "Please name some planets of the solar system.",
    ...                      rounds=5, per_round=2)                           # doctest: +SKIP
    >>> result.items[:3]                                                      # doctest: +SKIP
    ['The Sun', 'Plan 9', 'Mars']
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache, StoppingCriteria, StoppingCriteriaList

from samplers.navigation import (
    NavigationResult,
    Prompt,
    ReasoningResult,
    navigate,
    navigate_reasoning,
    truncate_after,
)

__all__ = ["HFTextModel", "TextStoppingCriteria", "navigate_hf", "navigate_reasoning_hf"]


class TextStoppingCriteria(StoppingCriteria):
    """Stops each row once the text decoded from its tokens after ``prompt_length`` holds
    ``stop`` (anywhere: inside a longer token such as ``",`` or across several tokens).

    Example:
        >>> from decoding.models import load_test_model
        >>> _, tok = load_test_model()                                        # doctest: +SKIP
        >>> ids = torch.tensor([tok('1. "Mars",')["input_ids"]])              # doctest: +SKIP
        >>> TextStoppingCriteria(tok, '"', prompt_length=3)(ids, None)        # doctest: +SKIP
        tensor([True])
    """

    def __init__(self, tokenizer: Any, stop: str, prompt_length: int):
        self.tokenizer = tokenizer
        self.stop = stop
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_length:],
                                            skip_special_tokens=True,
                                            clean_up_tokenization_spaces=False)
        return torch.tensor([self.stop in text for text in texts], dtype=torch.bool,
                            device=input_ids.device)


class HFTextModel:
    """A Hugging Face causal LM and its tokenizer as a :class:`samplers.navigation.TextModel`.

    Args:
        model: a causal LM (eval mode).
        tokenizer: its tokenizer.
        chat: render prompts through the chat template (default: raw text, as the reference).
        top_k: how many next tokens :meth:`rank_first_tokens` looks at.

    Example:
        >>> from decoding.models import load_test_model
        >>> model, tok = load_test_model()                                    # doctest: +SKIP
        >>> lm = HFTextModel(model, tok)                                      # doctest: +SKIP
        >>> lm.rank_first_tokens(Prompt("Name a planet.", 'Answer:\\n1. "'))[:3]  # doctest: +SKIP
        ['The', 'Plan', 'M']
        >>> lm.complete([Prompt("Name a planet.", 'Answer:\\n1. "Mars')], '"', 16)  # doctest: +SKIP
        ['"']
    """

    def __init__(self, model: Any, tokenizer: Any, *, chat: bool = False, top_k: int = 200):
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        self.model = model
        self.tokenizer = tokenizer
        self.chat = chat
        self.top_k = top_k
        self._device = next(model.parameters()).device
        self._special = set(tokenizer.all_special_ids)
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else tokenizer.eos_token_id
        self._stop_ids: dict[str, list[int]] = {}
        self._stored: tuple[list[int], DynamicCache | None] = ([], None)

    def render(self, prompt: Prompt) -> str:
        """The text the model sees for ``prompt``."""
        if not self.chat:
            return prompt.text
        head = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt.user}],
                                                  add_generation_prompt=True, tokenize=False)
        return head + prompt.response

    def encode(self, prompts: Sequence[Prompt]) -> dict[str, torch.Tensor]:
        """Input ids and attention mask of ``prompts``, left-padded."""
        enc = self.tokenizer([self.render(p) for p in prompts], return_tensors="pt",
                             padding=True, padding_side="left", add_special_tokens=not self.chat)
        return {k: v.to(self._device) for k, v in enc.items()}

    def decode(self, ids: torch.Tensor) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True,
                                     clean_up_tokenization_spaces=False)

    def token_ids(self, prompt: Prompt) -> list[int]:
        """The token ids of ``prompt`` as rendered, without padding."""
        return self.tokenizer(self.render(prompt), add_special_tokens=not self.chat)["input_ids"]

    def _prefix_cache(self, ids: list[int]) -> DynamicCache | None:
        """A batch-1 KV cache holding exactly ``ids``, built from the stored one up to their
        common prefix (the caller may extend it: it gets a copy)."""
        if not ids:
            return None
        stored_ids, stored = self._stored
        common = 0
        for a, b in zip(stored_ids, ids):
            if a != b:
                break
            common += 1
        cache = DynamicCache()
        if common and stored is not None:
            cache = copy.deepcopy(stored)
            if common < len(stored_ids):
                cache.crop(common - len(stored_ids))  # a negative count: tokens to drop
        if common < len(ids):
            with torch.inference_mode():
                self.model(torch.tensor([ids[common:]], device=self._device), past_key_values=cache,
                           use_cache=True)
        self._stored = (list(ids), cache)
        return copy.deepcopy(cache)

    def rank_first_tokens(self, prompt: Prompt) -> list[str]:
        """The decoded strings of the ``top_k`` most likely next tokens, most likely first, without
        special tokens, whitespace-only strings, partial characters and repeats."""
        ids = self.token_ids(prompt)
        cache = self._prefix_cache(ids[:-1])
        with torch.inference_mode():
            logits = self.model(torch.tensor([ids[-1:]], device=self._device),
                                past_key_values=cache, use_cache=cache is not None).logits[0, -1]
        ranked: dict[str, None] = {}
        for token_id in torch.topk(logits.float(), self.top_k).indices.tolist():
            text = self.decode([token_id])
            if token_id not in self._special and text.strip() and "\ufffd" not in text:
                ranked.setdefault(text)
        return list(ranked)

    def complete(self, prompts: Sequence[Prompt], stop: str, max_new_tokens: int, *,
                 greedy: bool = True) -> list[str]:
        """Greedy (or temperature-1, untruncated) continuations of ``prompts`` in one batch, each
        ending right after the first ``stop`` in its decoded text, or where generation ended.
        Rows of one length run their shared prefix once (from the stored cache)."""
        if not prompts:
            return []
        rows = [self.token_ids(p) for p in prompts]
        if len({len(r) for r in rows}) == 1 and len(rows[0]) > 1:
            common = len(rows[0]) - 1
            for column in range(common):
                if any(r[column] != rows[0][column] for r in rows):
                    common = column
                    break
            cache = self._prefix_cache(rows[0][:common])
            if cache is not None:
                cache.batch_repeat_interleave(len(rows))
            ids = torch.tensor(rows, device=self._device)
            enc = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        else:
            cache, enc = None, self.encode(prompts)
        length = enc["input_ids"].shape[1]
        sampling = {} if greedy else {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=not greedy, past_key_values=cache,
                stopping_criteria=StoppingCriteriaList(
                    [TextStoppingCriteria(self.tokenizer, stop, length)]),
                pad_token_id=self._pad, **sampling)
        return [truncate_after(self.decode(row[length:]), stop) for row in out]

    def beam_search(self, prompt: Prompt, n: int, stop: str, max_new_tokens: int) -> list[str]:
        """The continuations of the ``n`` best beams of ``prompt`` (``n`` beams, no length
        penalty: the most likely texts), where a beam ends at the end of sequence or at any
        token whose text holds ``stop``; each is cut right after its first ``stop``."""
        enc = self.encode([prompt])
        length = enc["input_ids"].shape[1]
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=n,
                num_return_sequences=n, length_penalty=0.0, early_stopping=True,
                eos_token_id=eos + self._tokens_holding(stop), pad_token_id=self._pad)
        return [truncate_after(self.decode(row[length:]), stop) for row in out]

    def _tokens_holding(self, stop: str) -> list[int]:
        if stop not in self._stop_ids:
            texts = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))],
                                                clean_up_tokenization_spaces=False)
            self._stop_ids[stop] = [i for i, text in enumerate(texts)
                                    if stop in text and i not in self._special]
        return self._stop_ids[stop]


def navigate_hf(model: Any, tokenizer: Any, instruction: str, rounds: int = 10,
                per_round: int = 10, *, chat: bool = False, **options: Any) -> NavigationResult:
    """:func:`samplers.navigation.navigate` on a Hugging Face model (``options`` go there).

    Example:
        >>> from decoding.models import load_test_model
        >>> model, tok = load_test_model()                                    # doctest: +SKIP
        >>> navigate_hf(model, tok, "Please name some planets of the solar system.",
        ...             rounds=10, per_round=1).items                         # doctest: +SKIP
    """
    return navigate(HFTextModel(model, tokenizer, chat=chat), instruction, rounds, per_round,
                    **options)


def navigate_reasoning_hf(model: Any, tokenizer: Any, question: str, n_paths: int = 4, *,
                          chat: bool = False, **options: Any) -> ReasoningResult:
    """:func:`samplers.navigation.navigate_reasoning` on a Hugging Face model.

    Example:
        >>> from decoding.models import load_test_model
        >>> model, tok = load_test_model()                                    # doctest: +SKIP
        >>> navigate_reasoning_hf(model, tok, "Tom has 3 apples and buys 4 more. How many "
        ...                       "apples does he have?", n_paths=2).vote     # doctest: +SKIP
    """
    return navigate_reasoning(HFTextModel(model, tokenizer, chat=chat), question, n_paths,
                              **options)
