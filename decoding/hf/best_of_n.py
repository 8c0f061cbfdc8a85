"""Inference-aware best-of-N on a Hugging Face causal LM (InfAlign's inference side): draw ``N``
candidates, score them with a reward, calibrate the rewards against ``m`` samples of the reference
policy for the same prompt, and select (``best``, ``worst`` or ``tilted``) with
:func:`samplers.best_of_n.select`.

Rewards are called as ``reward(prompt, text) -> float`` (higher is better; ``prompt`` is the user's
message before the chat template, ``text`` the decoded answer without special tokens). A reward
object may also have ``score_batch(prompt, texts) -> sequence of floats``, which is then used
instead of one call per text (see :mod:`decoding.rewards`). Every reward value is checked: a
reward that raises, or returns NaN, an infinity or something that is not a number, stops the run
with an error naming the candidate.

The reference policy is the model itself with the same decoding settings unless
``reference_model`` is given (design notes, section 5.8, pitfall 4: calibrating against other
settings breaks the uniformity the win-rate formulas rely on). Reference samples are cached per
prompt in a :class:`CalibrationCache`. Within one prompt, ``best`` picks the same candidate as
raw-reward best-of-N (calibration is monotone); calibration matters for ``tilted`` selection,
for comparing prompts, and for the win-rate / KL report.

Example:
    >>> from decoding.models import load_test_model
    >>> from decoding.rewards import ArithmeticVerifier
    >>> model, tok = load_test_model()                                     # doctest: +SKIP
    >>> result = best_of_n(model, tok, "What is 17 + 25? Answer with the number only.",
    ...                    ArithmeticVerifier(graded=True), n=8, m=16, max_new_tokens=12,
    ...                    seed=0)                                         # doctest: +SKIP
    >>> len(result.texts), result.selection.n, result.selection.m         # doctest: +SKIP
    (8, 8, 16)
"""

from __future__ import annotations

import copy
import json
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from transformers import DynamicCache

from samplers.best_of_n import Selection, Transform, calibrate, calibrate_leave_one_out, select

from .aligned import prompt_ids

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["BestOfN", "BestOfNResult", "CalibrationCache", "CalibrationEntry", "CalibrationKey",
           "DecodingConfig", "Reward", "RewardError", "best_of_n", "sample_texts", "score_texts"]

Reward = Callable[[str, str], Any]
"""``reward(prompt, text) -> float``; higher is better."""

_SNIPPET = 60  # characters of a candidate's text quoted in error messages
_CACHE_FORMAT = 1


class RewardError(RuntimeError):
    """The reward raised on one text; the original exception is chained (``__cause__``)."""


@dataclass(frozen=True)
class DecodingConfig:
    """How samples are drawn: pure sampling at ``temperature``, optionally truncated (``top_k``,
    ``top_p``; ``None`` for none), at most ``max_new_tokens`` new tokens.

    Example:
        >>> DecodingConfig(temperature=0.7).generate_kwargs()["top_k"]    # 0: no top-k
        0
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    max_new_tokens: int = 64

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive for sampling (got {self.temperature})")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1 (got {self.max_new_tokens})")

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.generate`` (explicit, so that no default top-k applies)."""
        return {"do_sample": True, "temperature": self.temperature, "top_k": self.top_k or 0,
                "top_p": 1.0 if self.top_p is None else self.top_p,
                "max_new_tokens": self.max_new_tokens}


@dataclass(frozen=True)
class CalibrationKey:
    """What a set of reference rewards depends on: the prompt's token ids, the decoding settings,
    ``m``, the reference model's name and the reward's name. Entries are reused only when all
    of them match."""

    prompt_ids: tuple[int, ...]
    config: DecodingConfig
    m: int
    reference: str
    reward: str


@dataclass(frozen=True)
class CalibrationEntry:
    """Reference rewards of one prompt, sorted ascending (float64), and their texts in that
    order."""

    rewards: np.ndarray
    texts: tuple[str, ...]


@dataclass
class CalibrationCache:
    """Reference samples and their rewards per :class:`CalibrationKey`, in memory; ``save`` and
    ``load`` keep them in a JSON file.

    Example:
        >>> cache = CalibrationCache()
        >>> key = CalibrationKey((1, 2, 3), DecodingConfig(), 2, "model", "reward")
        >>> cache.put(key, [0.5, 0.25], ["b", "a"]).texts
        ('a', 'b')
        >>> cache.get(key).rewards.tolist()
        [0.25, 0.5]
        >>> cache.get(CalibrationKey((1, 2, 3), DecodingConfig(temperature=0.7), 2, "model",
        ...                          "reward")) is None          # other settings: not reused
        True
    """

    entries: dict[CalibrationKey, CalibrationEntry] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: CalibrationKey) -> CalibrationEntry | None:
        """The entry for ``key``, or ``None``."""
        return self.entries.get(key)

    def put(self, key: CalibrationKey, rewards: Sequence[float],
            texts: Sequence[str]) -> CalibrationEntry:
        """Store reference rewards and their texts (sorted by reward) and return the entry."""
        r = np.asarray(rewards, dtype=np.float64)
        if len(r) != len(texts) or len(r) != key.m:
            raise ValueError(f"expected {key.m} rewards and texts, got {len(r)} and {len(texts)}")
        order = np.argsort(r, kind="stable")
        entry = CalibrationEntry(r[order], tuple(texts[i] for i in order))
        self.entries[key] = entry
        return entry

    def save(self, path: str | Path) -> None:
        """Write every entry to a JSON file (floats round-trip exactly)."""
        records = [{"prompt_ids": list(k.prompt_ids), "config": asdict(k.config), "m": k.m,
                    "reference": k.reference, "reward": k.reward,
                    "rewards": e.rewards.tolist(), "texts": list(e.texts)}
                   for k, e in self.entries.items()]
        Path(path).write_text(json.dumps({"format": _CACHE_FORMAT, "entries": records}))

    @classmethod
    def load(cls, path: str | Path) -> CalibrationCache:
        """Read a file written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        if data.get("format") != _CACHE_FORMAT:
            raise ValueError(f"{path}: not a calibration cache of format {_CACHE_FORMAT}")
        cache = cls()
        for rec in data["entries"]:
            key = CalibrationKey(tuple(rec["prompt_ids"]), DecodingConfig(**rec["config"]),
                                 rec["m"], rec["reference"], rec["reward"])
            cache.put(key, rec["rewards"], rec["texts"])
        return cache


@dataclass(frozen=True)
class BestOfNResult:
    """The chosen text, every candidate with its raw and calibrated reward, the sorted reference
    rewards they were calibrated against, and the selection report (index, win rates, KL)."""

    text: str
    texts: list[str]
    rewards: np.ndarray
    calibrated: np.ndarray
    reference_rewards: np.ndarray
    selection: Selection


class BestOfN:
    """Inference-aware best-of-N with a Hugging Face model: ``BestOfN(...)(prompt)``.

    ``n`` candidates are sampled (in ``model.generate`` calls of at most ``batch_size``
    sequences) and calibrated against ``m`` reference samples of the same prompt (default 32),
    drawn once per prompt and cached in ``cache``. With ``reuse_reference`` the reference samples
    are the candidates (``m`` is then ``n``, calibrated leave-one-out). ``mode``, ``transform``
    and ``beta`` go to :func:`samplers.best_of_n.select`; for ``worst`` (best-of-N jailbreak
    evaluation) the reward must be low for unsafe texts (check with
    :func:`samplers.best_of_n.check_orientation`). A ``seed`` makes a fresh instance reproduce
    the same samples and choices for the same sequence of calls.

    ``reward_name`` names the reward in cache keys (default ``repr(reward)``, which for a plain
    function holds its address: give a name to reuse a saved cache in another process).

    Example:
        >>> from decoding.models import load_test_model
        >>> from decoding.rewards import EmbeddingSimilarity
        >>> model, tok = load_test_model()                                   # doctest: +SKIP
        >>> bon = BestOfN(model, tok, EmbeddingSimilarity("The capital of France is Paris."),
        ...               n=4, m=16, mode="tilted", transform=Transform("exp", t=4.0), seed=0,
        ...               max_new_tokens=24)                                 # doctest: +SKIP
        >>> result = bon("What is the capital of France?")                  # doctest: +SKIP
        >>> result.text in result.texts, len(bon.cache)                     # doctest: +SKIP
        (True, 1)
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 reward: Reward, *, n: int, m: int | None = None,
                 mode: Literal["best", "worst", "tilted"] = "best",
                 transform: Transform = Transform(), beta: float = 1.0, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, max_new_tokens: int = 64,
                 batch_size: int = 32, seed: int | None = None,
                 reference_model: PreTrainedModel | None = None, reuse_reference: bool = False,
                 cache: CalibrationCache | None = None, reward_name: str | None = None):
        m = _check_sizes(n, m, reuse_reference, reference_model is not None)
        if mode not in ("best", "worst", "tilted"):
            raise ValueError(f"unknown mode {mode!r}; choose best, worst or tilted")
        if not beta > 0:
            raise ValueError(f"beta must be positive (got {beta})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        self.model, self.tokenizer, self.reward = model, tokenizer, reward
        self.reference_model = reference_model if reference_model is not None else model
        self.n, self.m, self.mode, self.transform, self.beta = n, m, mode, transform, beta
        self.config = DecodingConfig(temperature, top_k, top_p, max_new_tokens)
        self.batch_size = batch_size
        self.reuse_reference = reuse_reference
        self.cache = cache if cache is not None else CalibrationCache()
        self.reward_name = reward_name if reward_name is not None else repr(reward)
        self.seeded = seed is not None
        self._rng = np.random.default_rng(seed)

    def __call__(self, prompt: str) -> BestOfNResult:
        ids = prompt_ids(self.tokenizer, prompt)
        reference = self.calibration(prompt, ids)
        if self.reuse_reference:
            texts, rewards = list(reference.texts), reference.rewards
            calibrated = calibrate_leave_one_out(rewards)
            selection = self._select(rewards, None)
        else:
            texts = sample_texts(self.model, self.tokenizer, ids, self.n, self.config,
                                 batch_size=self.batch_size, seed=self._next_seed())
            rewards = score_texts(self.reward, prompt, texts, what="candidate")
            calibrated = calibrate(rewards, reference.rewards)
            selection = self._select(rewards, reference.rewards)
        return BestOfNResult(texts[selection.index], texts, rewards, calibrated, reference.rewards,
                             selection)

    def calibration(self, prompt: str, ids: Sequence[int]) -> CalibrationEntry:
        """The prompt's reference samples and rewards: from the cache, or drawn and scored now."""
        key = CalibrationKey(tuple(ids), self.config, self.m, _model_name(self.reference_model),
                             self.reward_name)
        entry = self.cache.get(key)
        if entry is None:
            texts = sample_texts(self.reference_model, self.tokenizer, ids, self.m, self.config,
                                 batch_size=self.batch_size, seed=self._next_seed())
            entry = self.cache.put(key, score_texts(self.reward, prompt, texts,
                                                    what="reference sample"), texts)
        return entry

    def _select(self, rewards: np.ndarray, reference: np.ndarray | None) -> Selection:
        return select(rewards, reference, mode=self.mode, transform=self.transform, beta=self.beta,
                      rng=self._rng)

    def _next_seed(self) -> int | None:
        return int(self._rng.integers(2**63)) if self.seeded else None


def best_of_n(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt: str,
              reward: Reward, n: int, **options: Any) -> BestOfNResult:
    """One call of :class:`BestOfN` (``options`` are its keyword arguments).

    Example:
        >>> from decoding.rewards import ArithmeticVerifier
        >>> r = best_of_n(model, tok, "What is 2 + 3? Answer with the number only.",
        ...               ArithmeticVerifier(), n=4, m=8, max_new_tokens=8)  # doctest: +SKIP
        >>> r.rewards.max() == r.selection.raw_reward                      # doctest: +SKIP
        True
    """
    return BestOfN(model, tokenizer, reward, n=n, **options)(prompt)


def sample_texts(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, ids: Sequence[int],
                 n: int, config: DecodingConfig, *, batch_size: int = 32,
                 seed: int | None = None) -> list[str]:
    """``n`` sampled continuations of the prompt token ids ``ids``, decoded without special tokens,
    in ``generate`` calls of at most ``batch_size`` sequences (``seed``: reproducible; the global
    torch RNG is restored afterwards).

    Example:
        >>> texts = sample_texts(model, tok, prompt_ids(tok, "Hi!"), 3, DecodingConfig(
        ...     max_new_tokens=8), seed=0)                                    # doctest: +SKIP
        >>> len(texts)                                                         # doctest: +SKIP
        3
    """
    inputs = torch.tensor([list(ids)], device=model.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    cuda = [model.device.index or 0] if model.device.type == "cuda" else []
    texts: list[str] = []
    with torch.random.fork_rng(devices=cuda, enabled=seed is not None), torch.inference_mode():
        if seed is not None:
            torch.manual_seed(seed)
        prefix = _prompt_cache(model, inputs)
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            rows = inputs.expand(count, -1)
            cache = copy.deepcopy(prefix)
            if cache is not None:
                cache.batch_repeat_interleave(count)
            out = model.generate(rows, attention_mask=torch.ones_like(rows), past_key_values=cache,
                                 pad_token_id=pad, **config.generate_kwargs())
            texts += tokenizer.batch_decode(out[:, inputs.shape[1]:], skip_special_tokens=True)
    return texts


def _prompt_cache(model: PreTrainedModel, inputs: torch.Tensor) -> DynamicCache | None:
    """The KV cache of the prompt without its last token, computed once and copied into every
    batch (``generate`` with ``num_return_sequences`` would run the prompt once per sample)."""
    if inputs.shape[1] < 2:
        return None
    cache = DynamicCache()
    model(inputs[:, :-1], past_key_values=cache, use_cache=True)
    return cache


def score_texts(reward: Reward, prompt: str, texts: Sequence[str], *,
                what: str = "candidate") -> np.ndarray:
    """Rewards of ``texts`` as float64, checked: a reward that raises gives a :class:`RewardError`
    naming the text (``what`` and its index), and a value that is not a finite number a
    ``ValueError`` naming it. Uses ``reward.score_batch`` when the reward has one.

    Example:
        >>> score_texts(lambda prompt, text: len(text), "p", ["a", "bcd"]).tolist()
        [1.0, 3.0]
        >>> score_texts(lambda prompt, text: float("nan"), "p", ["a"])
        Traceback (most recent call last):
        ...
        ValueError: the reward returned nan for candidate 0 ('a'); it must return a finite number
    """
    batch = getattr(reward, "score_batch", None)
    if batch is not None:
        values = list(_scored_batch(batch, prompt, texts, what))
        if len(values) != len(texts):
            raise ValueError(f"score_batch returned {len(values)} rewards for {len(texts)} texts")
    else:
        values = [_scored(reward, prompt, text, i, what) for i, text in enumerate(texts)]
    return np.array([_checked(v, i, texts[i], what) for i, v in enumerate(values)],
                    dtype=np.float64)


def _scored(reward: Reward, prompt: str, text: str, index: int, what: str) -> Any:
    try:
        return reward(prompt, text)
    except Exception as exc:
        raise RewardError(f"the reward raised on {what} {index} ({_snippet(text)}): "
                          f"{type(exc).__name__}: {exc}") from exc


def _scored_batch(batch: Callable[[str, Sequence[str]], Any], prompt: str, texts: Sequence[str],
                  what: str) -> Any:
    try:
        return batch(prompt, list(texts))
    except Exception as exc:
        raise RewardError(f"the reward's score_batch raised on the {len(texts)} {what}s "
                          f"(the first: {_snippet(texts[0]) if texts else 'none'}): "
                          f"{type(exc).__name__}: {exc}") from exc


def _checked(value: Any, index: int, text: str, what: str) -> float:
    number = _as_number(value)
    if not isinstance(number, numbers.Real) or not math.isfinite(number):
        raise ValueError(f"the reward returned {value!r} for {what} {index} ({_snippet(text)}); "
                         "it must return a finite number")
    return float(number)


def _as_number(value: Any) -> Any:
    """A one-element numpy or torch value as a Python number; anything else unchanged."""
    item = getattr(value, "item", None)
    if isinstance(value, numbers.Real) or not callable(item):
        return value
    try:
        return item()
    except (ValueError, RuntimeError):  # more than one element
        return value


def _snippet(text: str) -> str:
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


def _check_sizes(n: int, m: int | None, reuse_reference: bool, separate_reference: bool) -> int:
    """Validate ``n`` and ``m`` and return ``m`` (default 32; ``n`` when reusing references)."""
    if n < 1:
        raise ValueError(f"n (the number of candidates) must be at least 1 (got {n})")
    if not reuse_reference:
        m = 32 if m is None else m
        if m < 1:
            raise ValueError(f"m (the number of reference samples) must be at least 1 (got {m})")
        return m
    if separate_reference:
        raise ValueError("reuse_reference needs the candidates to come from the reference "
                         "policy: do not give a separate reference_model")
    if m is not None and m != n:
        raise ValueError(f"with reuse_reference the {n} candidates are the reference samples: "
                         f"leave m out or set it to n (got m={m})")
    if n < 2:
        raise ValueError(f"leave-one-out calibration (reuse_reference) needs n >= 2 (got {n})")
    return n


def _model_name(model: PreTrainedModel) -> str:
    return f"{type(model).__name__}:{getattr(model.config, 'name_or_path', '')}"
