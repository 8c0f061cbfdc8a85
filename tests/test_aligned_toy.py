"""GCD, ASAp and exact sampling on a toy model whose distribution is known exactly (fractions)."""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np
import pytest
from scipy import stats

from grammars import Grammar, Vocabulary, compile_grammar
from samplers import AlignedSampler, SampleTrie, TrieMismatchError, UnsatisfiableError

A, B, EOS = 0, 1, 2
VOCAB = Vocabulary([b"a", b"b", None], eos_token_ids=(EOS,))


def compiled(lark: str):
    return compile_grammar(Grammar.from_lark(lark), VOCAB, use_disk_cache=False)


class TableModel:
    """p(next | prefix) from a rule on the prefix; exact fractions kept for the expected values."""

    def __init__(self, rule):
        self.rule = rule
        self.calls = 0

    def probs(self, prefix) -> list[F]:
        return self.rule(tuple(prefix))

    def logprobs(self, prefix):
        self.calls += 1
        return np.log(np.array([float(p) for p in self.probs(prefix)], dtype=np.float64)).astype(np.float32)


def uniform(prefix):
    return [F(1, 3)] * 3


def skewed(prefix):
    # Likes "a" first, then mostly wants to stop; after "b" it prefers to go on.
    if not prefix:
        return [F(6, 10), F(3, 10), F(1, 10)]
    if prefix[-1] == A:
        return [F(1, 10), F(1, 10), F(8, 10)]
    return [F(5, 10), F(4, 10), F(1, 10)]


TWO_LETTERS = 'start: ("a" | "b") ("a" | "b")'  # exactly two letters: 4 strings
UP_TO_TWO = 'start: ("a" | "b") ("a" | "b")?'


def language(model: TableModel, strings: list[tuple[int, ...]]):
    """Exact P(y) of each token sequence (EOS appended)."""
    out = {}
    for s in strings:
        p = F(1)
        for i, t in enumerate(s + (EOS,)):
            p *= model.probs(s[:i])[t]
        out[s + (EOS,)] = p
    return out


def gad(model, strings):
    lang = language(model, strings)
    z = sum(lang.values())
    return {y: p / z for y, p in lang.items()}


def gcd(model, strings, allowed):
    """GCD's distribution: each step renormalised over the allowed tokens."""
    out = {}
    for s in strings:
        y = s + (EOS,)
        q = F(1)
        for i, t in enumerate(y):
            probs = model.probs(y[:i])
            q *= probs[t] / sum(probs[v] for v in allowed(y[:i]))
        out[y] = q
    return out


def two_letter_allowed(prefix):
    return [A, B] if len(prefix) < 2 else [EOS]


STRINGS2 = [(x, y) for x in (A, B) for y in (A, B)]


def chi2_pvalue(samples, target):
    keys = sorted(target)
    counts = [sum(1 for s in samples if s.token_ids == k) for k in keys]
    assert sum(counts) == len(samples)  # no sample outside the language
    expected = [float(target[k]) * len(samples) for k in keys]
    return stats.chisquare(counts, expected).pvalue


def test_asap_next_token_rule_matches_hand_computed_values():
    # Language {"a", "ab"} under the uniform model: Z_G = 1/9 + 1/27 = 4/27.
    model = TableModel(uniform)
    trie = SampleTrie()
    lp = math.log(1 / 3)
    trie.expand(0, np.array([A]), np.array([lp], dtype=np.float32))
    assert trie.theta(0) == pytest.approx(1 / 3)
    a = trie.add_child(0, A, lp)
    trie.expand(a, np.array([A, B, EOS])[[1, 2]], np.array([lp, lp], dtype=np.float32))
    assert trie.theta(0) == pytest.approx(1 / 3 * 2 / 3)
    ab = trie.add_child(a, B, lp)
    trie.expand(ab, np.array([EOS]), np.array([lp], dtype=np.float32))
    assert trie.theta(ab) == pytest.approx(1 / 3)
    assert trie.theta(a) == pytest.approx(1 / 3 + 1 / 9)
    assert trie.theta(0) == pytest.approx(4 / 27)
    scores = trie.proposal_logits(a, np.array([B, EOS]), np.array([lp, lp], dtype=np.float32))
    probs = np.exp(scores) / np.exp(scores).sum()
    # The exact GAD rule: P(EOS | "a") = (1/9) / (4/27) = 3/4; GCD would say 1/2.
    assert probs == pytest.approx([1 / 4, 3 / 4])
    del model


def test_exact_first_attempt_acceptance_matches_hand_computed_rate():
    # Language {"a", "ab"}, uniform model: a fresh trie accepts with Z_G / theta(root) = (4/27)/(1/3).
    cg = compiled('start: "a" | "ab"')
    first_try = 0
    runs = 3000
    rng = np.random.default_rng(1)
    for _ in range(runs):
        sampler = AlignedSampler(cg, TableModel(uniform), mode="exact", max_new_tokens=5,
                                 seed=int(rng.integers(1 << 31)))
        first_try += sampler.sample().attempts == 1
    expected = 4 / 9
    assert stats.binomtest(first_try, runs, expected).pvalue > 1e-3
    # A learnt trie accepts more often: after many samples theta(root) is close to Z_G.
    sampler = AlignedSampler(cg, TableModel(uniform), mode="exact", max_new_tokens=5, seed=3)
    sampler.samples(200)
    assert sampler.theta_root == pytest.approx(4 / 27)
    late = sampler.samples(300)
    assert sum(s.attempts for s in late) == len(late)  # every attempt accepted once theta is exact


@pytest.mark.parametrize("grammar,strings,rule", [
    (TWO_LETTERS, STRINGS2, skewed),
    (UP_TO_TWO, [(A,), (B,)] + STRINGS2, skewed),
    (UP_TO_TWO, [(A,), (B,)] + STRINGS2, uniform),
])
def test_exact_samples_follow_the_conditioned_distribution(grammar, strings, rule):
    model = TableModel(rule)
    sampler = AlignedSampler(compiled(grammar), model, mode="exact", max_new_tokens=4, seed=7)
    samples = sampler.samples(4000)
    assert chi2_pvalue(samples, gad(model, strings)) > 1e-3
    assert all(s.log_weight == 0.0 for s in samples)


def test_gcd_is_biased_and_asap_converges():
    model = TableModel(skewed)
    cg = compiled(TWO_LETTERS)
    target = gad(model, STRINGS2)
    biased = gcd(model, STRINGS2, two_letter_allowed)
    assert biased != target
    gcd_samples = AlignedSampler(cg, model, mode="gcd", max_new_tokens=4, seed=11).samples(4000)
    assert chi2_pvalue(gcd_samples, biased) > 1e-3  # GCD follows its own (biased) law ...
    assert chi2_pvalue(gcd_samples, target) < 1e-6  # ... which is not the target
    asap = AlignedSampler(cg, model, mode="asap", max_new_tokens=4, seed=12)
    asap.samples(200)  # the trie fills in (4 strings: a few samples suffice)
    assert asap.theta_root == pytest.approx(float(sum(language(model, STRINGS2).values())))
    assert chi2_pvalue(asap.samples(4000), target) > 1e-3


def test_asap_importance_weights_estimate_target_expectations():
    model = TableModel(skewed)
    target = gad(model, STRINGS2)
    samples = AlignedSampler(compiled(TWO_LETTERS), model, mode="asap", max_new_tokens=4,
                             seed=5).samples(3000)
    w = np.exp([s.log_weight for s in samples])
    ends_in_b = np.array([s.token_ids[1] == B for s in samples], dtype=float)
    estimate = float((w * ends_in_b).sum() / w.sum())
    exact = float(sum(p for y, p in target.items() if y[1] == B))
    assert estimate == pytest.approx(exact, abs=0.02)
    # Log P(y) is the model's probability of the sampled sequence.
    for s in samples[:20]:
        assert s.logprob == pytest.approx(math.log(language(model, [s.token_ids[:-1]])[s.token_ids]), abs=1e-5)


def test_theta_never_increases_and_stays_an_upper_bound():
    model = TableModel(skewed)
    sampler = AlignedSampler(compiled(UP_TO_TWO), model, mode="asap", max_new_tokens=3, seed=2)
    previous = sampler.trie.logthetas()
    z = float(sum(language(model, [(A,), (B,)] + STRINGS2).values()))
    for _ in range(60):
        sampler.sample()
        now = sampler.trie.logthetas()
        assert np.all(now[: len(previous)] <= previous + 1e-12)
        assert sampler.theta_root >= z * (1 - 1e-6)  # float32 log-probabilities
        previous = now
    assert sampler.theta_root == pytest.approx(z)


def test_length_bound_is_part_of_the_constraint():
    model = TableModel(uniform)
    cg = compiled('start: "ab" | "aaaa"')
    # Within 3 tokens (EOS included) only "ab" fits: every mode returns it.
    for mode in ("gcd", "asap", "exact"):
        out = AlignedSampler(cg, model, mode=mode, max_new_tokens=3, seed=0).samples(30)
        assert {s.text for s in out} == {"ab"}
    with pytest.raises(UnsatisfiableError, match="unsatisfiable within max_new_tokens = 2"):
        AlignedSampler(cg, model, mode="asap", max_new_tokens=2, seed=0).sample()


def test_expanded_prefixes_need_no_model_call():
    model = TableModel(skewed)
    sampler = AlignedSampler(compiled(TWO_LETTERS), model, mode="asap", max_new_tokens=4, seed=0)
    sampler.samples(300)
    # Distinct prefixes: root, a, b, aa, ab, ba, bb -> 7 distributions at most.
    assert model.calls <= 7


def test_trie_round_trips_and_refuses_a_mismatch(tmp_path):
    model = TableModel(skewed)
    cg = compiled(UP_TO_TWO)
    header = {"grammar_hash": "g1", "prompt_hash": "p1", "decoding_config": {"temperature": 1.0}}
    first = AlignedSampler(cg, model, mode="asap", max_new_tokens=3, seed=0,
                           trie=SampleTrie(header=header))
    first.samples(5)
    path = tmp_path / "trie.npz"
    first.trie.save(path)
    loaded = SampleTrie.load(path, expect=header)
    assert len(loaded) == len(first.trie)
    assert np.array_equal(loaded.logthetas(), first.trie.logthetas())
    calls = model.calls
    known = sum(loaded.is_expanded(i) for i in range(len(loaded)))
    assert known == calls  # one model call per expanded prefix
    second = AlignedSampler(cg, model, mode="asap", max_new_tokens=3, seed=1, trie=loaded)
    second.samples(50)
    assert second.theta_root <= first.theta_root
    assert model.calls <= 7  # continues: the 7 prefixes (root, a, b, aa, ab, ba, bb) are scored once
    with pytest.raises(TrieMismatchError, match="decoding_config") as err:
        SampleTrie.load(path, expect={**header, "decoding_config": {"temperature": 0.7}})
    assert err.value.field == "decoding_config"
    with pytest.raises(TrieMismatchError, match="prompt_hash"):
        SampleTrie.load(path, expect={**header, "prompt_hash": "other"})


def test_full_trie_keeps_sampling_correctly():
    model = TableModel(skewed)
    sampler = AlignedSampler(compiled(TWO_LETTERS), model, mode="exact", max_new_tokens=4, seed=9,
                             trie=SampleTrie(max_nodes=2))
    with pytest.warns(RuntimeWarning, match="max_nodes"):
        samples = sampler.samples(3000)
    assert chi2_pvalue(samples, gad(model, STRINGS2)) > 1e-3


def test_bad_arguments_are_named():
    cg = compiled(TWO_LETTERS)
    with pytest.raises(ValueError, match="unknown mode 'greedy'"):
        AlignedSampler(cg, TableModel(uniform), mode="greedy")
    with pytest.raises(ValueError, match="max_new_tokens"):
        AlignedSampler(cg, TableModel(uniform), max_new_tokens=0)
