"""Inference-aware best-of-N on the real test model (SmolLM2-135M-Instruct): candidates, selection,
the calibration cache, reward validation, and the offline rewards (arithmetic verifier, MiniLM)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decoding.best_of_n import BestOfN, CalibrationCache, RewardError, best_of_n
from decoding.rewards import ArithmeticVerifier, EmbeddingSimilarity
from samplers.best_of_n import Transform

PROMPT = "What is 17 + 25? Answer with the number only."
SHORT = {"max_new_tokens": 6, "batch_size": 8}


class CountingReward:
    """Text length as the reward, counting calls; ``values`` (in call order) replace it if given."""

    def __init__(self, values=None):
        self.calls = 0
        self.values = list(values) if values is not None else None

    def __call__(self, prompt, text):
        self.calls += 1
        return float(len(text)) if self.values is None else self.values[self.calls - 1]


def test_candidates_come_from_the_model_and_are_reproducible(test_model, test_tokenizer):
    def run(seed):
        return best_of_n(test_model, test_tokenizer, PROMPT, CountingReward(), 5, m=3, seed=seed,
                         **SHORT)

    first, again, other = run(0), run(0), run(1)
    assert len(first.texts) == 5 and len(first.rewards) == 5 and len(first.calibrated) == 5
    for text in first.texts:
        assert text.strip()
        assert len(test_tokenizer(text, add_special_tokens=False)["input_ids"]) <= 7
    assert first.texts == again.texts and first.text == again.text
    assert other.texts != first.texts
    assert len(set(first.texts)) > 1  # sampled, not greedy


def test_best_and_worst_select_the_extreme_raw_rewards(test_model, test_tokenizer):
    cache = CalibrationCache()
    result = best_of_n(test_model, test_tokenizer, PROMPT, CountingReward(), 6, m=4, seed=2,
                       cache=cache, reward_name="length", **SHORT)
    assert result.selection.raw_reward == result.rewards.max()
    assert result.rewards[result.selection.index] == result.rewards.max()
    assert result.text == result.texts[result.selection.index]
    assert result.selection.n == 6 and result.selection.m == 4
    assert result.selection.kl_estimate == pytest.approx(math.log(6) - 5 / 6)
    worst = best_of_n(test_model, test_tokenizer, PROMPT, CountingReward(), 6, m=4, seed=3,
                      cache=cache, reward_name="length", mode="worst", **SHORT)
    assert worst.rewards[worst.selection.index] == worst.rewards.min()


def test_calibration_is_cached_per_prompt_and_decoding_config(test_model, test_tokenizer, tmp_path):
    reward, cache = CountingReward(), CalibrationCache()
    bon = BestOfN(test_model, test_tokenizer, reward, n=3, m=4, cache=cache, seed=0,
                  reward_name="length", **SHORT)
    first = bon(PROMPT)
    assert reward.calls == 4 + 3 and len(cache) == 1
    second = bon(PROMPT)
    assert reward.calls == 4 + 3 + 3  # only the new candidates
    assert np.array_equal(first.reference_rewards, second.reference_rewards)

    hotter = BestOfN(test_model, test_tokenizer, reward, n=3, m=4, cache=cache, seed=0,
                     temperature=1.5, reward_name="length", **SHORT)
    hotter(PROMPT)
    assert reward.calls == 10 + 4 + 3 and len(cache) == 2  # other settings: drawn again

    path = tmp_path / "calibration.json"
    cache.save(path)
    loaded = CalibrationCache.load(path)
    fresh = CountingReward()
    result = BestOfN(test_model, test_tokenizer, fresh, n=3, m=4, cache=loaded, seed=5,
                     reward_name="length", **SHORT)(PROMPT)
    assert fresh.calls == 3
    assert np.array_equal(result.reference_rewards, first.reference_rewards)


def test_calibration_of_a_known_reference_distribution(test_model, test_tokenizer):
    m = 8
    reference = [5, 2, 7, 0, 3, 6, 1, 4]  # the reference rewards are uniform on 0..7
    reward = CountingReward(reference + [-1.0, 2.5, 3.0, 99.0])
    result = best_of_n(test_model, test_tokenizer, PROMPT, reward, 4, m=m, seed=0, **SHORT)
    assert result.reference_rewards.tolist() == list(range(m))
    assert result.calibrated.tolist() == [0.0, 3 / m, 3.5 / m, 1.0]  # mid-rank CDF
    assert result.selection.index == 3 and result.selection.inference_win_rate == 1.0


def test_reused_reference_samples_are_calibrated_leave_one_out(test_model, test_tokenizer):
    reward = CountingReward([3.0, 1.0, 2.0, 2.0])
    result = best_of_n(test_model, test_tokenizer, PROMPT, reward, 4, reuse_reference=True,
                       seed=0, **SHORT)
    assert reward.calls == 4  # no other candidates were drawn
    assert result.rewards.tolist() == [1.0, 2.0, 2.0, 3.0]  # sorted with their texts
    assert result.calibrated.tolist() == [0.0, 0.5, 0.5, 1.0]
    assert result.selection.index == 3 and result.text == result.texts[3]


def test_tilted_selection_reports_its_kl(test_model, test_tokenizer):
    result = best_of_n(test_model, test_tokenizer, PROMPT, CountingReward(), 4, m=4, seed=0,
                       mode="tilted", transform=Transform("exp", t=3.0), **SHORT)
    assert result.selection.mode == "tilted"
    assert 0.0 <= result.selection.kl_estimate <= math.log(4)


def test_a_failing_reward_names_the_candidate(test_model, test_tokenizer):
    calls = []

    def flaky(prompt, text):
        calls.append(text)
        if len(calls) == 3 + 3:  # the third candidate, after 3 reference samples
            raise KeyError("boom")
        return 0.0

    with pytest.raises(RewardError, match=r"candidate 2 \('.*'\).*KeyError") as info:
        best_of_n(test_model, test_tokenizer, PROMPT, flaky, 4, m=3, seed=0, **SHORT)
    assert isinstance(info.value.__cause__, KeyError)

    reward = CountingReward([0.0, 0.0, 0.0, 1.0, float("nan"), 1.0])
    with pytest.raises(ValueError, match=r"returned nan for candidate 1 \("):
        best_of_n(test_model, test_tokenizer, PROMPT, reward, 3, m=3, seed=0, **SHORT)
    reward = CountingReward(["high", 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="returned 'high' for reference sample 0"):
        best_of_n(test_model, test_tokenizer, PROMPT, reward, 1, m=3, seed=0, **SHORT)


def test_sizes_are_checked(test_model, test_tokenizer):
    with pytest.raises(ValueError, match="n .* at least 1"):
        BestOfN(test_model, test_tokenizer, CountingReward(), n=0)
    with pytest.raises(ValueError, match="m .* at least 1"):
        BestOfN(test_model, test_tokenizer, CountingReward(), n=4, m=0)
    with pytest.raises(ValueError, match="n >= 2"):
        BestOfN(test_model, test_tokenizer, CountingReward(), n=1, reuse_reference=True)
    with pytest.raises(ValueError, match="unknown mode"):
        BestOfN(test_model, test_tokenizer, CountingReward(), n=4, mode="median")


def test_arithmetic_verifier():
    verifier, graded = ArithmeticVerifier(), ArithmeticVerifier(graded=True)
    assert verifier(PROMPT, "42") == 1.0
    assert verifier(PROMPT, "The answer is 42.") == 1.0
    assert verifier(PROMPT, "43") == 0.0
    assert verifier(PROMPT, "17 + 25 = 42") == 0.0  # the first integer is 17
    assert verifier(PROMPT, "forty-two") == 0.0
    assert verifier("What is 9 - 13?", "-4") == 1.0
    assert verifier("What is 6 * 7?", "It is 42") == 1.0
    assert graded(PROMPT, "42") == 1.0 and graded(PROMPT, "41") == 0.5
    assert graded(PROMPT, "no idea") == 0.0 < graded(PROMPT, "1000")
    with pytest.raises(ValueError, match="no arithmetic question"):
        verifier("Tell me a joke.", "42")


def test_embedding_similarity():
    reward = EmbeddingSimilarity("The capital of France is Paris.")
    paraphrase = reward("", "Paris is the capital city of France.")
    unrelated = reward("", "I enjoy playing the violin on weekends.")
    assert paraphrase > 0.8 and unrelated < 0.3
    assert reward("", "The capital of France is Paris.") == pytest.approx(1.0, abs=1e-5)
    batch = reward.score_batch("", ["Paris is the capital city of France.", "A violin."])
    assert batch[0] == pytest.approx(paraphrase, abs=1e-5)
