"""Win rate against KL for reward-tilted policies on fixed samples (InfAlign's evaluation,
inference side): per prompt, a pool of samples of the reference policy ``pi_ref`` stands for
``pi_ref`` (uniform over the pool), and a tilted policy is the pool reweighted by
``w ∝ exp(score / beta)`` (self-normalised importance sampling toward
``pi_ref * exp(score / beta)``). Its KL to ``pi_ref`` is ``sum w log(P w)`` and its
inference-time win rate is exact over the pool: best-of-``n`` of the tilted policy against
best-of-``n`` of ``pi_ref`` (``mode="best"``), or the worst of ``n`` against the worst of ``n``
(``mode="worst"``, best-of-N jailbreaking: the adversary keeps the lowest reward), ties half.

Every sweep is arithmetic over the same samples, so a whole frontier costs no model calls.

Example:
    >>> import numpy as np
    >>> r = np.array([0.0, 1.0])
    >>> float(inference_win_rate(np.array([0.5, 0.5]), r, n=4))   # pi = pi_ref: a draw
    0.5
    >>> float(inference_win_rate(np.array([0.0, 1.0]), r, n=1))   # always the better sample
    0.75
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from .best_of_n import Transform

__all__ = ["beta_for_kl", "inference_win_rate", "pool_kl", "tilt_weights",
           "uniform_model_transform"]

Mode = Literal["best", "worst"]


def tilt_weights(scores: np.ndarray, beta: float) -> np.ndarray:
    """``softmax(scores / beta)`` over the last axis (``beta`` > 0; ``inf`` scores excluded)."""
    if not beta > 0:
        raise ValueError(f"beta must be positive (got {beta})")
    z = np.asarray(scores, dtype=np.float64) / beta
    z = np.where(np.isfinite(z), z, -np.inf)
    w = np.exp(z - z.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def pool_kl(weights: np.ndarray) -> np.ndarray:
    """``KL(pi || uniform)`` over the last axis: ``sum w log(P w)``."""
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w > 0, w * np.log(w.shape[-1] * w), 0.0).sum(axis=-1)


def inference_win_rate(weights: np.ndarray, rewards: np.ndarray, n: int,
                       mode: Mode = "best") -> float:
    """Exact win rate of ``T_n(pi)`` against ``T_n(pi_ref)`` for one pool: ``pi`` puts ``weights``
    on the samples with ``rewards``, ``pi_ref`` is uniform over them, and ``T_n`` keeps the best
    (``mode="best"``) or the worst (``"worst"``) reward of ``n`` independent draws; a tie counts
    one half."""
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    if mode not in ("best", "worst"):
        raise ValueError(f"unknown mode {mode!r}; choose best or worst")
    r = np.asarray(rewards, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if r.shape != w.shape or r.ndim != 1:
        raise ValueError(f"weights {w.shape} and rewards {r.shape} must be one pool each")
    values, inverse = np.unique(r, return_inverse=True)
    p = np.bincount(inverse, weights=w, minlength=len(values))
    q = np.bincount(inverse, minlength=len(values)) / len(r)
    if mode == "worst":  # the worst of n under r is the best of n under -r
        p, q = p[::-1], q[::-1]
    cp, cq = np.cumsum(p), np.cumsum(q)
    cp_before, cq_before = np.r_[0.0, cp[:-1]], np.r_[0.0, cq[:-1]]
    top = cp ** n - cp_before ** n           # P(best of n of pi is value k)
    below, equal = cq_before ** n, cq ** n - cq_before ** n
    beaten = below if mode == "best" else 1.0 - cq ** n  # worst: a lower -r is a higher r
    return float(np.sum(top * (beaten + 0.5 * equal)))


def beta_for_kl(scores: Sequence[np.ndarray], target: float) -> float:
    """One ``beta`` for every pool such that the mean ``pool_kl`` of ``softmax(scores / beta)``
    is ``target`` (bisection on ``log beta``); ``ValueError`` when the target is out of reach."""
    def mean_kl(log_beta: float) -> float:
        return float(np.mean([pool_kl(tilt_weights(s, math.exp(log_beta))) for s in scores]))

    scale = max(float(np.max(np.abs(np.where(np.isfinite(s), s, 0.0)))) for s in scores) or 1.0
    lo, hi = math.log(1e-8 * scale), math.log(1e8 * scale)  # KL falls as beta grows
    if not mean_kl(hi) <= target <= mean_kl(lo):
        raise ValueError(f"mean KL {target} is out of reach (from {mean_kl(hi):.3g} to "
                         f"{mean_kl(lo):.3g})")
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_kl(mid) > target else (lo, mid)
    return math.exp((lo + hi) / 2)


def _uniform_win_and_kl(transform: Transform, beta: float, n: int, mode: Mode,
                        u: np.ndarray) -> tuple[float, float]:
    logf = transform(u) / beta
    f = np.exp(logf - logf.max())
    f /= np.trapezoid(f, u)
    cdf = np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * np.diff(u))])
    cdf = np.clip(cdf / cdf[-1], 0.0, 1.0)
    if mode == "best":
        density = n * cdf ** (n - 1) * f
        win = np.trapezoid(density * u ** n, u)
    else:
        density = n * (1.0 - cdf) ** (n - 1) * f
        win = np.trapezoid(density * (1.0 - (1.0 - u) ** n), u)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.trapezoid(np.where(f > 0, f * np.log(f), 0.0), u)
    return float(win), float(kl)


def uniform_model_transform(name: Literal["exp", "neg_exp"], n: int, kl: float,
                            ts: Sequence[float] = (0.5, 1, 2, 4, 8, 16, 32, 64)) -> Transform:
    """The ``t`` (of ``ts``) whose transform wins most at mean KL ``kl`` under the continuous
    model (calibrated rewards uniform under ``pi_ref``; design notes 5.2 item 6): chosen from
    theory alone, never from the samples it is then evaluated on.

    Example:
        >>> uniform_model_transform("exp", n=4, kl=0.3).t > 0
        True
    """
    mode: Mode = "best" if name == "exp" else "worst"
    u = np.linspace(0.0, 1.0, 4001)
    best_t, best_win = None, -1.0
    for t in ts:
        transform = Transform(name, t=float(t))
        lo, hi = math.log(1e-6), math.log(1e6) + float(t)
        for _ in range(60):
            mid = (lo + hi) / 2
            k = _uniform_win_and_kl(transform, math.exp(mid), n, mode, u)[1]
            lo, hi = (mid, hi) if k > kl else (lo, mid)
        win = _uniform_win_and_kl(transform, math.exp(hi), n, mode, u)[0]
        if win > best_win:
            best_t, best_win = float(t), win
    return Transform(name, t=best_t)
