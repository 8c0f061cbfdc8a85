"""The win-rate / KL frontier on fixed samples (samplers.frontier) and the bootstrap intervals
(samplers.intervals), against Monte-Carlo simulation on toy distributions."""

from __future__ import annotations

import numpy as np
import pytest

from samplers.best_of_n import Transform
from samplers.frontier import (beta_for_kl, inference_win_rate, pool_kl, tilt_weights,
                               uniform_model_transform)
from samplers.intervals import bootstrap_mean


@pytest.mark.parametrize("mode", ["best", "worst"])
def test_exact_win_rate_matches_simulated_draws(mode):
    rng = np.random.default_rng(0)
    rewards = rng.integers(0, 4, 9).astype(float)  # ties on purpose
    w = rng.dirichlet(np.ones(9))
    n, trials = 3, 200_000
    mine = rewards[rng.choice(9, size=(trials, n), p=w)]
    ref = rewards[rng.integers(0, 9, size=(trials, n))]
    a, b = (mine.max(1), ref.max(1)) if mode == "best" else (mine.min(1), ref.min(1))
    simulated = np.mean((a > b) + 0.5 * (a == b))
    assert inference_win_rate(w, rewards, n, mode) == pytest.approx(simulated, abs=0.005)


def test_reference_against_itself_is_a_draw_and_tilting_up_wins():
    rewards = np.array([0.1, 0.4, 0.4, 0.9, 0.3])
    uniform = np.full(5, 0.2)
    assert inference_win_rate(uniform, rewards, 4) == pytest.approx(0.5)
    assert inference_win_rate(uniform, rewards, 4, "worst") == pytest.approx(0.5)
    up = tilt_weights(rewards, beta=0.2)
    assert inference_win_rate(up, rewards, 4) > 0.5
    assert inference_win_rate(tilt_weights(-rewards, 0.2), rewards, 4) < 0.5
    assert pool_kl(uniform) == pytest.approx(0.0, abs=1e-12)
    assert pool_kl(np.eye(5)[3]) == pytest.approx(np.log(5))


def test_beta_for_kl_hits_the_mean_kl_and_refuses_the_unreachable():
    rng = np.random.default_rng(1)
    scores = [rng.normal(size=12) * s for s in (0.1, 1.0, 5.0)]
    beta = beta_for_kl(scores, 0.4)
    assert np.mean([pool_kl(tilt_weights(s, beta)) for s in scores]) == pytest.approx(0.4, abs=1e-6)
    with pytest.raises(ValueError, match="out of reach"):
        beta_for_kl(scores, np.log(12) + 0.1)   # more than all mass on one sample
    with pytest.raises(ValueError, match="beta must be positive"):
        tilt_weights(scores[0], 0.0)


def test_uniform_model_prefers_a_convex_transform_for_best_of_n():
    """Under the continuous model the exp transform's optimum has t > 0 and beats identity's
    win rate at the same KL (the paper's premise), estimated here on a large synthetic pool."""
    rng = np.random.default_rng(2)
    u = np.sort(rng.random(4000))
    rewards = u[None, :]
    t = uniform_model_transform("exp", n=4, kl=0.3)
    exp_w = tilt_weights(t(u)[None], beta_for_kl([t(u)], 0.3))[0]
    id_w = tilt_weights(u[None], beta_for_kl([u], 0.3))[0]
    assert inference_win_rate(exp_w, rewards[0], 4) > inference_win_rate(id_w, rewards[0], 4) + 0.005
    assert uniform_model_transform("neg_exp", n=4, kl=0.3).name == "neg_exp"


def test_bootstrap_interval_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(3)
    covered = 0
    for i in range(200):
        x = rng.exponential(1.0, 60)
        _, low, high = bootstrap_mean(x, reps=500, seed=i)
        covered += low <= 1.0 <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_bootstrap_rows_move_together_and_bad_input_is_named():
    x = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    interval = bootstrap_mean(x, reps=300)
    assert np.allclose(interval.high - interval.low, (interval.high - interval.low)[0])
    assert bootstrap_mean([2.0]).low == 2.0
    with pytest.raises(ValueError, match="at least one row"):
        bootstrap_mean([])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_mean([1.0, float("nan")])
