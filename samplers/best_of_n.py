"""Inference-aware best-of-N (InfAlign's inference side): calibrate rewards against the reference
policy's own samples, transform them, select, and report win rates and KL.

- Calibration: ``C(y) = P_ref[r(z) < r(y)] + 1/2 P_ref[r(z) = r(y)]`` (mid-ranks), estimated from
  ``m`` reference rewards of the same prompt; leave-one-out when the candidates are those samples.
- Selection: ``best`` (argmax, identical to raw-reward best-of-N within a prompt), ``worst``
  (argmin: best-of-N jailbreak evaluation, low reward = unsafe) or ``tilted`` (sample ``i`` with
  probability proportional to ``exp(phi(c_i) / beta)``).
- Report: the single-sample win rate against the reference (``c``), the inference-time win rate
  against the reference's own best-of-N (``c**N``) or worst-of-N (``1 - (1 - c)**N``), and a KL
  estimate (tilted: ``sum w log(N w)``; best/worst: the ``log N - (N - 1)/N`` bound).

Rewards and candidates come from the caller: any model, any reward callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Selection", "Transform", "calibrate", "calibrate_leave_one_out", "check_orientation",
           "select", "tilted_mean_and_kl"]


@dataclass(frozen=True)
class Transform:
    """``phi(u)`` for calibrated rewards ``u`` in [0, 1]: ``identity``, ``exp`` (``exp(t u)``, for
    best-of-N), ``neg_exp`` (``-exp(-t u)``, for worst-of-N) or ``log`` (``(n - 1) log u``, which
    reproduces the best-of-N policy with beta 1).

    Example:
        >>> Transform("exp", t=2.0)(np.array([0.0, 0.5]))
        array([1.        , 2.71828183])
    """

    name: Literal["identity", "exp", "neg_exp", "log"] = "identity"
    t: float = 1.0
    n: int = 2

    def __post_init__(self) -> None:
        if self.name not in ("identity", "exp", "neg_exp", "log"):
            raise ValueError(f"unknown transform {self.name!r}; choose identity, exp, neg_exp or log")

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        if self.name == "identity":
            return u
        if self.name == "exp":
            return np.exp(self.t * u)
        if self.name == "neg_exp":
            return -np.exp(-self.t * u)
        with np.errstate(divide="ignore"):
            return (self.n - 1) * np.log(u)


def calibrate(rewards: Sequence[float], reference: Sequence[float]) -> np.ndarray:
    """Mid-rank calibrated rewards: the share of reference rewards below each reward, ties half.

    Example:
        >>> calibrate([0.5, 2.0, 1.0], reference=[0.0, 1.0, 1.0, 3.0]).tolist()
        [0.25, 0.75, 0.5]
    """
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if len(ref) == 0:
        raise ValueError("calibration needs at least one reference reward")
    r = np.asarray(rewards, dtype=np.float64)
    below = np.searchsorted(ref, r, side="left")
    ties = np.searchsorted(ref, r, side="right") - below
    return (below + 0.5 * ties) / len(ref)


def calibrate_leave_one_out(rewards: Sequence[float]) -> np.ndarray:
    """Calibrate reference samples against the others (each is not compared with itself).

    Example:
        >>> calibrate_leave_one_out([1.0, 2.0, 2.0, 3.0]).tolist()
        [0.0, 0.5, 0.5, 1.0]
    """
    r = np.asarray(rewards, dtype=np.float64)
    if len(r) < 2:
        raise ValueError("leave-one-out calibration needs at least two samples")
    ref = np.sort(r)
    below = np.searchsorted(ref, r, side="left")
    ties = np.searchsorted(ref, r, side="right") - below - 1  # minus itself
    return (below + 0.5 * ties) / (len(r) - 1)


@dataclass(frozen=True)
class Selection:
    """The chosen candidate and what it is worth against the reference policy."""

    index: int
    raw_reward: float
    calibrated: float
    win_rate_vs_ref: float
    inference_win_rate: float
    kl_estimate: float
    n: int
    m: int
    tied_calibration: int  # reference rewards equal to the chosen reward (lumpy calibration)
    mode: str


def select(rewards: Sequence[float], reference: Sequence[float] | None = None, *,
           mode: Literal["best", "worst", "tilted"] = "best", transform: Transform = Transform(),
           beta: float = 1.0, rng: np.random.Generator | None = None) -> Selection:
    """Choose among ``N`` candidates by their rewards, calibrated against ``reference`` (rewards of
    samples of the reference policy for the same prompt; ``None``: the candidates *are* reference
    samples, calibrated leave-one-out).

    Example:
        >>> s = select([0.2, 0.9, 0.5], reference=[0.1, 0.3, 0.6, 0.8])
        >>> s.index, s.calibrated, round(s.inference_win_rate, 3)    # 1.0 ** 3
        (1, 1.0, 1.0)
    """
    r = np.asarray(rewards, dtype=np.float64)
    n = len(r)
    if n == 0:
        raise ValueError("no candidates to select from")
    if mode not in ("best", "worst", "tilted"):
        raise ValueError(f"unknown mode {mode!r}; choose best, worst or tilted")
    rng = rng if rng is not None else np.random.default_rng()
    if reference is None:
        c = calibrate_leave_one_out(r)
        ref = r
    else:
        c = calibrate(r, reference)
        ref = np.asarray(reference, dtype=np.float64)
    m = len(ref)
    if mode == "tilted":
        logits = transform(c) / beta
        logits = np.where(np.isfinite(logits), logits, -np.inf)
        w = np.exp(logits - logits.max())
        w /= w.sum()
        index = int(rng.choice(n, p=w))
        nz = w[w > 0]
        kl = float((nz * np.log(n * nz)).sum())
        inference = float(c[index])
    else:
        sign = 1.0 if mode == "best" else -1.0
        key = sign * c
        top = np.flatnonzero(key == key.max())
        top = top[sign * r[top] == (sign * r[top]).max()]  # ties by raw reward, then at random
        index = int(rng.choice(top))
        kl = math.log(n) - (n - 1) / n
        ci = float(c[index])
        inference = ci ** n if mode == "best" else 1.0 - (1.0 - ci) ** n
    tied = int(np.sum(ref == r[index])) - (1 if reference is None else 0)
    return Selection(index, float(r[index]), float(c[index]), float(c[index]), inference, kl, n, m,
                     tied, mode)


def tilted_mean_and_kl(transform: Transform, beta: float = 1.0, points: int = 200_001) -> tuple[float, float]:
    """For ``pi`` proportional to ``pi_ref * exp(phi(C) / beta)`` with continuous rewards: the mean
    calibrated reward ``E[C]`` (the single-sample win rate) and ``KL(pi || pi_ref)``, as integrals
    over ``u`` in [0, 1] (the tilt depends on ``y`` only through ``u = C(y)``).

    Example:
        >>> mean, kl = tilted_mean_and_kl(Transform("identity"), beta=1e9)   # no tilt
        >>> round(mean, 4), round(kl, 6)
        (0.5, 0.0)
    """
    u = np.linspace(0.0, 1.0, points)
    logf = transform(u) / beta
    logf = np.where(np.isfinite(logf), logf, -np.inf)
    top = logf[np.isfinite(logf)].max()
    f = np.exp(logf - top)
    z = np.trapezoid(f, u)
    f /= z
    mean = float(np.trapezoid(u * f, u))
    with np.errstate(divide="ignore", invalid="ignore"):
        integrand = np.where(f > 0, f * np.log(f), 0.0)
    return mean, float(np.trapezoid(integrand, u))


def check_orientation(reward: Callable[[str], float], better: str, worse: str) -> None:
    """Fail loudly unless ``reward`` scores ``better`` above ``worse`` (e.g. a safe answer above an
    unsafe one before worst-of-N evaluation, where low must mean unsafe)."""
    hi, lo = reward(better), reward(worse)
    if not hi > lo:
        raise ValueError(f"the reward is oriented the wrong way: {hi!r} for the better text and "
                         f"{lo!r} for the worse one; negate it")
