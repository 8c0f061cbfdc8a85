"""A learned estimate of ``p(a | x, y<=t . v)``: the probability that a model continuation of a prefix
extended by token ``v`` satisfies an attribute, for every candidate ``v`` at once.

The head reads the model's hidden state ``h`` after the prefix and the model's own (frozen) input
embedding ``e_v`` of each candidate token::

    logit(h, v) = w . h' + (U h') . (W e_v) + c        (h' = standardised h; U, W of rank r)

a vocabulary-sized head ``sigma(W h + b)[v]`` made low-rank through the token embeddings, so tokens
never seen in training still get a sensible estimate. It is trained on the model's own samples,
labelled by the exact attribute: every prefix position of a sample is one example (unbiased Monte
Carlo target), with the observed next token as ``v``.

Example:
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> emb = torch.randn(10, 4)
    >>> h = torch.randn(400, 4); v = torch.randint(0, 10, (400,)); z = (h[:, 0] > 0).float()
    >>> clf = AttributeClassifier(emb, rank=2)
    >>> report = clf.fit(h, v, z, progress=False)
    >>> report.holdout_brier < report.holdout_constant_brier   # beats the constant
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

__all__ = ["AttributeClassifier", "ClassifierMismatchError", "FitReport"]

LOG_FLOOR = math.log(1e-6)  # log h-hat is clipped to [log 1e-6, 0]


class ClassifierMismatchError(ValueError):
    """A saved classifier was trained for another model or attribute."""


@dataclass(frozen=True)
class FitReport:
    """What training measured: sizes, the positive share, and the held-out Brier score beside that of
    the constant predictor (the training positive share) on the same held-out examples."""

    examples: int
    holdout_examples: int
    base_rate: float
    train_loss: float
    holdout_brier: float
    holdout_constant_brier: float


class AttributeClassifier(torch.nn.Module):
    """Estimates ``log p(a | prefix . v)`` from the hidden state after ``prefix`` and the candidate
    tokens ``v`` (see the module docstring). ``token_embeddings`` (``V x H``) are the model's input
    embeddings; they are not trained and not saved."""

    def __init__(self, token_embeddings: torch.Tensor, rank: int = 4, hidden_size: int | None = None):
        super().__init__()
        hidden = int(hidden_size or token_embeddings.shape[1])
        self.embeddings = token_embeddings.detach().float()
        self.rank = int(rank)
        self.state_weight = torch.nn.Linear(hidden, 1)
        self.state_factor = torch.nn.Linear(hidden, self.rank, bias=False)
        self.token_factor = torch.nn.Linear(self.embeddings.shape[1], self.rank, bias=False)
        self.register_buffer("mean", torch.zeros(hidden))
        self.register_buffer("scale", torch.ones(hidden))
        self._token_table: torch.Tensor | None = None

    def _standardise(self, hidden: torch.Tensor) -> torch.Tensor:
        return (hidden.float() - self.mean) / self.scale

    def _logits(self, hidden: torch.Tensor, token_factors: torch.Tensor) -> torch.Tensor:
        """Logits for ``hidden`` ``(N, H)`` and the factors ``W e_v`` of one candidate ``(N, r)`` or
        of ``K`` candidates ``(N, K, r)`` per row."""
        h = self._standardise(hidden)
        state = self.state_weight(h)                       # (N, 1)
        factor = self.state_factor(h)                      # (N, r)
        if token_factors.dim() == 2:
            return state[:, 0] + (factor * token_factors).sum(-1)
        return state + torch.einsum("nr,nkr->nk", factor, token_factors)

    @torch.no_grad()
    def log_prob(self, hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``log p(a | prefix . v)`` clipped to ``[log 1e-6, 0]``: ``hidden`` ``(N, H)``, ``tokens``
        ``(N, K)`` candidate ids per row; returns ``(N, K)``."""
        if self._token_table is None:
            self._token_table = self.token_factor(self.embeddings)
        logits = self._logits(hidden, self._token_table[tokens.to(self.embeddings.device)])
        return torch.nn.functional.logsigmoid(logits).clamp(min=LOG_FLOOR)

    def fit(self, hidden: torch.Tensor, tokens: torch.Tensor, labels: torch.Tensor, *,
            groups: torch.Tensor | None = None, l2: float = 1000.0, iterations: int = 100,
            holdout: float = 0.2, seed: int = 0, progress: bool = True) -> FitReport:
        """Train on examples ``(hidden state before token, token, label 0/1)``: full-batch L-BFGS on
        the cross-entropy plus ``l2`` times the squared weights, from the constant predictor (the
        positive share). ``groups`` (one id per example, e.g. the sample it came from) keeps whole
        samples on one side of the held-out split, so the Brier score is not flattered by
        near-duplicate prefixes of one sample."""
        n = len(labels)
        if n < 10:
            raise ValueError(f"too few training examples ({n}); draw more samples")
        labels = labels.float()
        rate = float(labels.mean())
        if rate in (0.0, 1.0):
            raise ValueError(f"every training label is {int(rate)}: the attribute never "
                             f"{'fails' if rate else 'holds'} on these samples; change the prompts or "
                             "the attribute")
        gen = torch.Generator().manual_seed(seed)
        ids = groups if groups is not None else torch.arange(n)
        unique = torch.unique(ids)
        held_groups = unique[torch.randperm(len(unique), generator=gen)[: max(1, int(len(unique) * holdout))]]
        held = torch.isin(ids, held_groups)
        train = ~held if (~held).any() else held
        hidden = hidden.float()
        self.mean.copy_(hidden[train].mean(0))
        self.scale.copy_(hidden[train].std(0).clamp(min=1e-4))
        train_rate = min(max(float(labels[train].mean()), 1e-4), 1 - 1e-4)
        with torch.no_grad():
            self.state_weight.weight.zero_()
            self.state_weight.bias.fill_(math.log(train_rate / (1 - train_rate)))
        xs, zs = hidden[train], labels[train]
        embedded = self.embeddings[tokens[train]]
        weights = [self.state_weight.weight, self.state_factor.weight, self.token_factor.weight]
        opt = torch.optim.LBFGS(list(self.parameters()), max_iter=10, line_search_fn="strong_wolfe")
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = loss_fn(self._logits(xs, self.token_factor(embedded)), zs) + l2 * sum((w ** 2).sum() for w in weights) / len(zs)
            loss.backward()
            return loss

        last = float("nan")
        for _ in tqdm(range(max(1, iterations // 10)), desc="fit attribute classifier", disable=not progress):
            last = float(opt.step(closure).detach())
        self._token_table = None
        p = self.log_prob(hidden[held], tokens[held][:, None])[:, 0].exp()
        brier = float(((p - labels[held]) ** 2).mean())
        constant = float(((train_rate - labels[held]) ** 2).mean())
        return FitReport(int(train.sum()), int(held.sum()), rate, last, brier, constant)

    def save(self, path: str | Path, header: dict[str, Any]) -> None:
        """Write the head's weights and ``header`` (what it was trained for)."""
        state = {k: v for k, v in self.state_dict().items()}
        torch.save({"header": dict(header), "rank": self.rank, "hidden": self.mean.shape[0],
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
        clf = cls(token_embeddings, rank=saved["rank"], hidden_size=saved["hidden"])
        clf.load_state_dict(saved["state"])
        return clf
