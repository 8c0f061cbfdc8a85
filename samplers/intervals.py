"""Bootstrap confidence intervals over independent units (prompts, questions): the percentile
interval of the mean, resampling whole rows so that everything measured on one unit moves
together (a difference of two methods on the same prompts is paired by construction).

Example:
    >>> import numpy as np
    >>> x = np.r_[np.zeros(50), np.ones(50)]
    >>> mean, low, high = bootstrap_mean(x, seed=0)
    >>> float(mean), bool(0.39 < low < 0.5 < high < 0.61)
    (0.5, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "bootstrap_mean"]


@dataclass(frozen=True)
class Interval:
    """A mean and its percentile bootstrap interval (arrays when the rows held vectors)."""

    mean: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float

    def __iter__(self):
        return iter((self.mean, self.low, self.high))


def bootstrap_mean(rows, *, reps: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """The mean over axis 0 of ``rows`` (one row per unit; a row may be a vector, e.g. one value
    per KL grid point) and the ``level`` percentile interval of that mean over ``reps`` resamples
    of the rows with replacement. One row gives a zero-width interval; none is an error."""
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError("bootstrap_mean needs at least one row")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1 (got {level})")
    if not np.isfinite(x).all():
        raise ValueError("bootstrap_mean got a NaN or an infinity")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(x), size=(reps, len(x)))
    means = x[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], axis=0)
    mean = x.mean(axis=0)
    if x.ndim == 1:
        return Interval(float(mean), float(low), float(high))
    return Interval(mean, low, high)
