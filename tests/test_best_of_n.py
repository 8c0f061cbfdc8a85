"""Inference-aware best-of-N: calibration, selection, and the win-rate / KL formulas against
Monte-Carlo simulation with synthetic rewards."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from samplers.best_of_n import (
    Transform,
    calibrate,
    calibrate_leave_one_out,
    check_orientation,
    select,
    tilted_mean_and_kl,
)

RNG = np.random.default_rng(0)
REFERENCE = RNG.normal(0.0, 1.0, 20_000)  # the reference policy's rewards for one prompt


def test_calibrated_reference_samples_are_uniform():
    z = RNG.normal(0.0, 1.0, 2000)
    assert stats.kstest(calibrate(z, REFERENCE), "uniform").pvalue > 1e-3
    assert stats.kstest(calibrate_leave_one_out(z), "uniform").pvalue > 1e-3
    # invariant to a strictly increasing transformation of the reward
    assert np.array_equal(calibrate(z, REFERENCE), calibrate(np.exp(z), np.exp(REFERENCE)))


def test_best_is_raw_best_of_n_and_worst_is_raw_worst():
    rng = np.random.default_rng(1)
    for _ in range(200):
        r = rng.normal(size=8)
        assert select(r, REFERENCE, rng=rng).index == int(np.argmax(r))
        assert select(r, REFERENCE, mode="worst", rng=rng).index == int(np.argmin(r))


@pytest.mark.parametrize("mode", ["best", "worst"])
def test_inference_win_rate_matches_monte_carlo(mode):
    n, trials = 4, 6000
    rng = np.random.default_rng(2)
    policy = rng.normal(0.5, 1.0, (trials, n))
    ref = rng.normal(0.0, 1.0, (trials, n))
    estimates = [select(row, REFERENCE, mode=mode, rng=rng).inference_win_rate for row in policy]
    if mode == "best":
        simulated = np.mean(policy.max(axis=1) > ref.max(axis=1))
    else:
        simulated = np.mean(policy.min(axis=1) > ref.min(axis=1))
    assert np.mean(estimates) == pytest.approx(simulated, abs=0.02)
    # and the policy does beat the reference at its own procedure
    assert simulated > 0.6


def test_tilted_selection_matches_the_integrals():
    transform = Transform("exp", t=3.0)
    mean, kl = tilted_mean_and_kl(transform, beta=1.0)
    assert mean > 0.5 and kl > 0
    rng = np.random.default_rng(3)
    chosen, kls = [], []
    for _ in range(1500):
        candidates = rng.normal(0.0, 1.0, 500)  # drawn from the reference policy itself
        s = select(candidates, REFERENCE, mode="tilted", transform=transform, rng=rng)
        chosen.append(s.calibrated)
        kls.append(s.kl_estimate)
    assert np.mean(chosen) == pytest.approx(mean, abs=0.02)
    assert np.mean(kls) == pytest.approx(kl, abs=0.05)


def test_ties_are_mid_ranked_and_counted():
    s = select([1.0, 1.0, 0.0], reference=[0.0, 1.0, 1.0, 2.0], rng=np.random.default_rng(0))
    assert s.index in (0, 1) and s.calibrated == 0.5 and s.tied_calibration == 2
    loo = select([1.0, 2.0, 2.0], rng=np.random.default_rng(0))  # candidates are the references
    assert loo.index in (1, 2) and loo.calibrated == 0.75 and loo.m == 3


def test_kl_bound_for_best_of_n():
    assert select([0.0, 1.0, 2.0, 3.0], REFERENCE).kl_estimate == pytest.approx(np.log(4) - 3 / 4)


def test_errors_are_named():
    with pytest.raises(ValueError, match="wrong way"):
        check_orientation(lambda text: -len(text), "a long safe answer", "bad")
    check_orientation(len, "a long safe answer", "bad")
    with pytest.raises(ValueError, match="unknown mode"):
        select([1.0], REFERENCE, mode="median")
    with pytest.raises(ValueError, match="unknown transform"):
        Transform("square")
    with pytest.raises(ValueError, match="no candidates"):
        select([], REFERENCE)
