"""A learned estimate of ``p(a | x, y<=t . v)``: the probability that a model continuation of a prefix
extended by token ``v`` satisfies an attribute, for every candidate ``v`` at once.

The head reads features of the prefix ``x`` (the model's hidden states at several layers after the
prefix, concatenated, and, when trained for a token budget, how much of it the prefix used) and the
model's own (frozen) input embedding ``e_v`` of each candidate token::

    logit(x, v) = w . x' + (U x') . (W e_v) + c        (x' = standardised x; U, W of rank r)
    p(a | x . v) = sigmoid(a * logit + b)                (temperature and bias fitted afterwards)

a vocabulary-sized head made low-rank through the token embeddings, so tokens never seen in
training still get a sensible estimate. It is trained on the model's own samples, labelled by the
exact attribute: every prefix position of a sample is one example (unbiased Monte Carlo target),
with the observed next token as ``v``. Examples are split by group (the prompt they came from):
held-out prompts measure the Brier score, a calibration split picks the L2 strength and fits the
temperature (Platt scaling), the rest trains.

Example:
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> emb = torch.randn(10, 4)
    >>> h = torch.randn(400, 4); v = torch.randint(0, 10, (400,)); z = (h[:, 0] > 0).float()
    >>> clf = AttributeClassifier(emb, rank=2)
    >>> report = clf.fit(h, v, z, progress=False)
    >>> report.brier_skill > 0.3 and report.brier_skill_low > 0   # beats the constant
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

__all__ = ["AttributeClassifier", "ClassifierMismatchError", "FitReport", "brier_skill_interval"]

LOG_FLOOR = math.log(1e-6)  # log h-hat is clipped to [log 1e-6, 0]


class ClassifierMismatchError(ValueError):
    """A saved classifier was trained for another model or attribute."""


@dataclass(frozen=True)
class FitReport:
    """What training measured: sizes, the positive share, the held-out Brier score beside that of
    the constant predictor (the training positive share) on the same held-out examples, the Brier
    skill score ``1 - brier / constant`` with its 95% bootstrap interval over held-out groups, the
    chosen L2 strength and the calibration (``p = sigmoid(temperature * logit + bias)``)."""

    examples: int
    holdout_examples: int
    base_rate: float
    train_loss: float
    holdout_brier: float
    holdout_constant_brier: float
    brier_skill: float = float("nan")
    brier_skill_low: float = float("nan")
    brier_skill_high: float = float("nan")
    holdout_groups: int = 0
    l2: float = float("nan")
    temperature: float = 1.0
    bias: float = 0.0


def brier_skill_interval(errors: torch.Tensor, constant_errors: torch.Tensor, groups: torch.Tensor,
                         *, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``1 - sum(errors) / sum(constant_errors)`` (squared errors of the model and of the constant
    predictor on the same examples) and its 95% percentile interval, resampling whole groups.

    Example:
        >>> e, c = torch.full((40,), 0.1), torch.full((40,), 0.2)
        >>> [round(x, 3) for x in brier_skill_interval(e, c, torch.arange(40) // 4)]
        [0.5, 0.5, 0.5]
    """
    _, index = torch.unique(groups, return_inverse=True)
    count = int(index.max()) + 1
    model = torch.zeros(count, dtype=torch.float64).index_add_(0, index, errors.double())
    const = torch.zeros(count, dtype=torch.float64).index_add_(0, index, constant_errors.double())
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, count, (reps, count), generator=gen)
    skills = 1.0 - model[picks].sum(1) / const[picks].sum(1).clamp(min=1e-12)
    low, high = torch.quantile(skills, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return float(1.0 - model.sum() / const.sum().clamp(min=1e-12)), low, high


class AttributeClassifier(torch.nn.Module):
    """Estimates ``log p(a | prefix . v)`` from features of ``prefix`` (:meth:`features`) and the
    candidate tokens ``v`` (see the module docstring). ``token_embeddings`` (``V x H``) are the
    model's input embeddings; they are not trained and not saved. ``layers``: which entries of
    the model's ``hidden_states`` the features read; ``max_new_tokens``: the token budget the
    attribute is judged under (``None``: no position features)."""

    def __init__(self, token_embeddings: torch.Tensor, rank: int = 4, hidden_size: int | None = None,
                 *, layers: tuple[int, ...] = (-1,), max_new_tokens: int | None = None):
        super().__init__()
        width = int(hidden_size or token_embeddings.shape[1])
        self.layers = tuple(int(layer) for layer in layers)
        self.max_new_tokens = None if max_new_tokens is None else int(max_new_tokens)
        features = width * len(self.layers) + (2 if self.max_new_tokens else 0)
        self.embeddings = token_embeddings.detach().float()
        self.rank = int(rank)
        self.width = width
        self.state_weight = torch.nn.Linear(features, 1)
        self.state_factor = torch.nn.Linear(features, self.rank, bias=False)
        self.token_factor = torch.nn.Linear(self.embeddings.shape[1], self.rank, bias=False)
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))  # temperature, bias
        self._token_table: torch.Tensor | None = None

    def features(self, layer_states: list[torch.Tensor], generated: torch.Tensor | int) -> torch.Tensor:
        """The feature rows ``(N, F)``: the hidden states after each prefix at :attr:`layers`
        (``layer_states``, one ``(N, H)`` tensor per layer, in that order) and, with a token
        budget, the share of it the prefix used (``generated`` tokens so far) and its square."""
        if len(layer_states) != len(self.layers):
            raise ValueError(f"the classifier reads {len(self.layers)} layers {self.layers}, "
                             f"got {len(layer_states)} hidden states")
        parts = [h.float() for h in layer_states]
        if self.max_new_tokens:
            used = torch.as_tensor(generated, dtype=torch.float32).reshape(-1, 1)
            used = used.expand(parts[0].shape[0], 1) / self.max_new_tokens
            parts += [used, used ** 2]
        return torch.cat(parts, dim=1)

    def _standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.scale

    def _logits(self, x: torch.Tensor, token_factors: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits for features ``(N, F)`` and the factors ``W e_v`` of one candidate
        ``(N, r)`` or of ``K`` candidates ``(N, K, r)`` per row."""
        h = self._standardise(x)
        state = self.state_weight(h)                       # (N, 1)
        factor = self.state_factor(h)                      # (N, r)
        if token_factors.dim() == 2:
            return state[:, 0] + (factor * token_factors).sum(-1)
        return state + torch.einsum("nr,nkr->nk", factor, token_factors)

    @torch.no_grad()
    def log_prob(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``log p(a | prefix . v)`` clipped to ``[log 1e-6, 0]``: ``features`` ``(N, F)`` (from
        :meth:`features`), ``tokens`` ``(N, K)`` candidate ids per row; returns ``(N, K)``."""
        if self._token_table is None:
            self._token_table = self.token_factor(self.embeddings)
        logits = self._logits(features, self._token_table[tokens.to(self.embeddings.device)])
        temperature, bias = self.calibration.tolist()
        return torch.nn.functional.logsigmoid(temperature * logits + bias).clamp(min=LOG_FLOOR)

    def _train(self, xs: torch.Tensor, tokens: torch.Tensor, zs: torch.Tensor, l2: float,
               iterations: int, progress: bool) -> float:
        """Full-batch L-BFGS on the cross-entropy plus ``l2`` times the squared weights, from the
        constant predictor (the positive share)."""
        self.mean.copy_(xs.mean(0))
        self.scale.copy_(xs.std(0).clamp(min=1e-4))
        rate = min(max(float(zs.mean()), 1e-4), 1 - 1e-4)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.state_weight.weight.zero_()
            self.state_weight.bias.fill_(math.log(rate / (1 - rate)))
            for layer in (self.state_factor, self.token_factor):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.01)
            self.calibration.copy_(torch.tensor([1.0, 0.0]))
        embedded = self.embeddings[tokens]
        weights = [self.state_weight.weight, self.state_factor.weight, self.token_factor.weight]
        opt = torch.optim.LBFGS(weights + [self.state_weight.bias], max_iter=10,
                                line_search_fn="strong_wolfe")
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = (loss_fn(self._logits(xs, self.token_factor(embedded)), zs)
                    + l2 * sum((w ** 2).sum() for w in weights) / len(zs))
            loss.backward()
            return loss

        last = float("nan")
        for _ in tqdm(range(max(1, iterations // 10)), desc="fit attribute classifier",
                      disable=not progress):
            last = float(opt.step(closure).detach())
        self._token_table = None
        return last

    def _raw_logits(self, xs: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._logits(xs, self.token_factor(self.embeddings[tokens]))

    def _fit_calibration(self, logits: torch.Tensor, zs: torch.Tensor) -> None:
        """Platt scaling: the temperature and bias minimising the cross-entropy of
        ``sigmoid(a * logit + b)`` on the calibration split."""
        ab = torch.tensor([1.0, 0.0], requires_grad=True)
        opt = torch.optim.LBFGS([ab], max_iter=50, line_search_fn="strong_wolfe")
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = loss_fn(ab[0] * logits + ab[1], zs)
            loss.backward()
            return loss

        opt.step(closure)
        self.calibration.copy_(ab.detach())

    def fit(self, features: torch.Tensor, tokens: torch.Tensor, labels: torch.Tensor, *,
            groups: torch.Tensor | None = None, l2: float | tuple[float, ...] = (10.0, 100.0, 1000.0, 10000.0),
            iterations: int = 100, holdout: float = 0.25, calibration: float = 0.25,
            train_fraction: float = 1.0, seed: int = 0, progress: bool = True) -> FitReport:
        """Train on examples ``(features before the token, token, label 0/1)``. ``groups`` (one id
        per example, e.g. the prompt it came from) keeps whole groups on one side of every split,
        so the held-out Brier score is measured on unseen groups. A ``calibration`` share of the
        other groups picks ``l2`` (the value, or the best of several, by calibration-split
        cross-entropy) and fits the temperature; ``train_fraction`` of the rest trains (for
        learning curves: the held-out groups do not depend on it)."""
        n = len(labels)
        if n < 10:
            raise ValueError(f"too few training examples ({n}); draw more samples")
        labels = labels.float()
        rate = float(labels.mean())
        if rate in (0.0, 1.0):
            raise ValueError(f"every training label is {int(rate)}: the attribute never "
                             f"{'fails' if rate else 'holds'} on these samples; change the prompts or "
                             "the attribute")
        if not 0.0 < train_fraction <= 1.0:
            raise ValueError(f"train_fraction must lie in (0, 1] (got {train_fraction})")
        gen = torch.Generator().manual_seed(seed)
        ids = groups if groups is not None else torch.arange(n)
        unique = torch.unique(ids)
        n_held = max(1, int(len(unique) * holdout))
        n_cal = max(1, int(len(unique) * calibration))
        if len(unique) < n_held + n_cal + 1:
            raise ValueError(f"{len(unique)} groups cannot be split into held-out, calibration "
                             f"and training groups; give more prompts")
        # Draw group orders until the training groups hold both labels (few groups of one
        # label each can all land on the training side of one draw).
        for _ in range(32):
            order = unique[torch.randperm(len(unique), generator=gen)]
            rest = order[n_held + n_cal:]
            rest = rest[:max(1, round(len(rest) * train_fraction))]
            held, cal, train = (torch.isin(ids, part) for part in
                                (order[:n_held], order[n_held:n_held + n_cal], rest))
            if float(labels[train].mean()) not in (0.0, 1.0):
                break
        else:
            raise ValueError("in 32 random splits of the groups, every training label was the "
                             "same; give more prompts whose samples differ in the attribute")
        features = features.float()
        xs, ts, zs = features[train], tokens[train], labels[train]
        loss_fn = torch.nn.BCEWithLogitsLoss()
        best = None
        for strength in (l2,) if isinstance(l2, (int, float)) else tuple(l2):
            last = self._train(xs, ts, zs, float(strength), iterations, progress)
            cal_logits = self._raw_logits(features[cal], tokens[cal])
            score = float(loss_fn(cal_logits, labels[cal]))
            if best is None or score < best[0]:
                best = (score, float(strength), last,
                        {k: v.clone() for k, v in self.state_dict().items()})
        _, strength, last, state = best
        self.load_state_dict(state)
        self._fit_calibration(self._raw_logits(features[cal], tokens[cal]), labels[cal])
        self._token_table = None
        p = self.log_prob(features[held], tokens[held][:, None])[:, 0].exp()
        train_rate = float(zs.mean())
        errors, constant = (p - labels[held]) ** 2, (train_rate - labels[held]) ** 2
        skill, low, high = brier_skill_interval(errors, constant, ids[held], seed=seed)
        temperature, bias = self.calibration.tolist()
        return FitReport(int(train.sum()), int(held.sum()), rate, last, float(errors.mean()),
                         float(constant.mean()), skill, low, high, n_held, strength, temperature,
                         bias)

    def save(self, path: str | Path, header: dict[str, Any]) -> None:
        """Write the head's weights and ``header`` (what it was trained for)."""
        state = {k: v for k, v in self.state_dict().items()}
        torch.save({"header": dict(header), "rank": self.rank, "hidden": self.width,
                    "layers": list(self.layers), "max_new_tokens": self.max_new_tokens,
                    "state": state}, Path(path))

    @classmethod
    def load(cls, path: str | Path, token_embeddings: torch.Tensor,
             header: dict[str, Any]) -> AttributeClassifier:
        """Read a saved head; :class:`ClassifierMismatchError` names the first ``header`` field that
        differs from what it was trained for."""
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)
        for key in sorted(set(header) | set(saved["header"])):
            if saved["header"].get(key) != header.get(key):
                raise ClassifierMismatchError(
                    f"{path}: the classifier was trained for {key} = {saved['header'].get(key)!r}, "
                    f"not {header.get(key)!r}; train one for this model and attribute")
        clf = cls(token_embeddings, rank=saved["rank"], hidden_size=saved["hidden"],
                  layers=tuple(saved["layers"]), max_new_tokens=saved["max_new_tokens"])
        clf.load_state_dict(saved["state"])
        return clf
