"""Conditional beam search on the real test model: exact attributes are never violated, the plain
mode shows the degenerate (empty) mode on raw prompts, batching changes nothing, a large beam with a
grammar attribute finds the exact conditional mode, and the learned classifier is trained, used,
saved and refused for another model or attribute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from decoding.aligned import CausalLMScorer, prompt_ids
from decoding.beam import (
    BeamSearchError,
    conditional_beam_search,
    fit_attribute_classifier,
    load_attribute_classifier,
    save_attribute_classifier,
)
from decoding.hf import compile_for_tokenizer
from grammars import Grammar
from samplers import enumerate_language
from samplers.attribute_classifier import AttributeClassifier, ClassifierMismatchError
from samplers.attributes import (
    AllOf,
    Finished,
    Hypothesis,
    Matches,
    MaxTokens,
    MinTokens,
    NoRepeatedNgram,
    NotEmpty,
    non_degenerate,
)

RAW_PROMPTS = ["Tell me a fact about cats.", "Give me a name for a dog.", "What is your favourite colour?"]


def test_plain_beam_search_finds_the_empty_mode_on_raw_prompts(test_model, test_tokenizer):
    results = conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS, num_beams=5,
                                      max_new_tokens=16)
    assert [r.text for r in results] == ["", "", ""]
    assert all(-3.0 < r.logprob < 0 for r in results)


@pytest.mark.parametrize("attribute", [
    non_degenerate(),
    AllOf(MinTokens(6), Finished(), NotEmpty()),
    AllOf(NoRepeatedNgram(2, max_count=1), Finished(), MaxTokens(20), NotEmpty()),
], ids=["non_degenerate", "min_tokens", "no_repeated_bigram"])
def test_conditional_outputs_satisfy_exact_attributes(test_model, test_tokenizer, attribute):
    results = conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS, attribute,
                                      num_beams=4, max_new_tokens=32, num_return_sequences=2)
    for prompt, r in zip(RAW_PROMPTS, results):
        assert r.text and r.text.strip()
        assert test_tokenizer.decode(r.tokens, skip_special_tokens=True) == r.text
        state = attribute.initial_state(prompt)
        for t in r.tokens:
            state = attribute.advance(state, t)
        assert attribute.holds(state, Hypothesis(tuple(r.tokens), r.text, True))
        assert len(r.outputs) == 2 and r.outputs[0][1] >= r.outputs[1][1]


def test_logprob_is_the_models_own(test_model, test_tokenizer):
    prompt = RAW_PROMPTS[0]
    r, = conditional_beam_search(test_model, test_tokenizer, prompt, non_degenerate(), num_beams=3,
                                 max_new_tokens=24)
    scorer = CausalLMScorer(test_model, prompt_ids(test_tokenizer, prompt, chat=False))
    eos = test_tokenizer.eos_token_id
    seq = r.tokens + [eos]
    expected = sum(float(scorer.logprobs(seq[:i])[t]) for i, t in enumerate(seq))
    assert r.logprob == pytest.approx(expected, abs=2e-3)


def test_batching_equals_one_prompt_at_a_time(test_model, test_tokenizer):
    attribute = non_degenerate()
    batched = conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS, attribute, num_beams=3,
                                      max_new_tokens=20)
    for prompt, b in zip(RAW_PROMPTS, batched):
        alone, = conditional_beam_search(test_model, test_tokenizer, prompt, attribute, num_beams=3,
                                         max_new_tokens=20)
        assert alone.tokens == b.tokens
        assert alone.logprob == pytest.approx(b.logprob, abs=1e-3)


def test_large_beam_with_a_grammar_finds_the_exact_conditional_mode(test_model, test_tokenizer):
    grammar = Grammar.from_lark('start: ("red" | "blue") " " ("cat" | "dog")')
    compiled = compile_for_tokenizer(grammar, test_tokenizer, model=test_model)
    prompt = "Name a colour and an animal."
    table = enumerate_language(compiled, CausalLMScorer(test_model, prompt_ids(test_tokenizer, prompt)),
                               max_new_tokens=3)
    assert len(table.sequences) >= 4
    best = table.sequences[int(np.argmax(table.logprobs))]
    r, = conditional_beam_search(test_model, test_tokenizer, prompt, Matches(compiled), num_beams=64,
                                 candidates_per_beam=64, max_new_tokens=3, chat=True)
    assert tuple(r.tokens) + (best[-1],) == best
    assert r.logprob == pytest.approx(float(table.logprobs.max()), abs=2e-3)


def test_unsatisfiable_attribute_raises_with_the_reasons(test_model, test_tokenizer):
    attribute = AllOf(MinTokens(10), MaxTokens(5), Finished())
    with pytest.raises(BeamSearchError, match=r"unsatisfiable under beam width 2.*prompt 0"):
        conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS[0], attribute, num_beams=2,
                                max_new_tokens=12)
    r, = conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS[0], attribute, num_beams=2,
                                 max_new_tokens=12, strict=False)
    assert r.text is None and r.rejected  # says which members failed
    ok, = conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS[0], non_degenerate(),
                                  num_beams=2, max_new_tokens=12, strict=False)  # still usable
    assert ok.text


def test_bad_arguments(test_model, test_tokenizer):
    with pytest.raises(ValueError, match="num_beams"):
        conditional_beam_search(test_model, test_tokenizer, "x", num_beams=0)
    with pytest.raises(ValueError, match="no prompts"):
        conditional_beam_search(test_model, test_tokenizer, [])


def test_classifier_trains_steers_saves_and_refuses_another_model(test_model, test_tokenizer, tmp_path):
    attribute = AllOf(MinTokens(4), Finished(), NotEmpty())
    prompts = ["Say hello.", "Name a fruit.", "The weather today is", "My favourite food is",
               "Describe a tree.", "Count to three."]
    clf, report = fit_attribute_classifier(test_model, test_tokenizer, prompts, attribute,
                                           samples_per_prompt=6, max_new_tokens=24,
                                           progress=False)
    assert 0 < report.base_rate < 1 and report.examples > 50
    steered, = conditional_beam_search(test_model, test_tokenizer, RAW_PROMPTS[1], attribute,
                                       classifier=clf, num_beams=3, max_new_tokens=32)
    assert len(steered.tokens) >= 4 and steered.text.strip()

    path = tmp_path / "clf.pt"
    save_attribute_classifier(clf, path, test_model, attribute)
    again = load_attribute_classifier(path, test_model, attribute)
    h = clf.features([torch.randn(2, test_model.config.hidden_size) for _ in clf.layers],
                     torch.tensor([0, 3]))
    v = torch.tensor([[1, 2], [3, 4]])
    assert torch.allclose(again.log_prob(h, v), clf.log_prob(h, v))
    with pytest.raises(ClassifierMismatchError, match="attribute"):
        load_attribute_classifier(path, test_model, non_degenerate())
    from transformers import LlamaConfig, LlamaForCausalLM

    other = LlamaForCausalLM(LlamaConfig(vocab_size=test_model.config.vocab_size, hidden_size=64,
                                         intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2))
    with pytest.raises(ClassifierMismatchError, match="embedding_checksum"):
        load_attribute_classifier(path, other, attribute)


def _toy_examples(signal: float, seed: int):
    """Prefix features of 40 prompts x 30 positions; labels depend on feature 0 with ``signal``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1200, 16, generator=gen)
    groups = torch.arange(1200) // 30
    p = torch.sigmoid(signal * x[:, 0] - 0.5)
    z = (torch.rand(1200, generator=gen) < p).float()
    return x, torch.randint(0, 50, (1200,), generator=gen), z, groups


def test_calibrated_classifier_beats_the_base_rate_on_held_out_groups():
    x, v, z, groups = _toy_examples(3.0, 0)
    clf = AttributeClassifier(torch.randn(50, 8, generator=torch.Generator().manual_seed(1)), rank=2,
                              hidden_size=16)
    report = clf.fit(x, v, z, groups=groups, progress=False)
    assert report.holdout_groups == 10 and report.holdout_examples == 300
    assert report.brier_skill_low > 0.2 and report.holdout_brier < report.holdout_constant_brier
    assert report.l2 in (10.0, 100.0, 1000.0, 10000.0)


def test_on_pure_noise_calibration_keeps_the_classifier_near_the_base_rate():
    x, v, z, groups = _toy_examples(0.0, 2)
    clf = AttributeClassifier(torch.randn(50, 8, generator=torch.Generator().manual_seed(3)), rank=2,
                              hidden_size=16)
    report = clf.fit(x, v, z, groups=groups, progress=False)
    assert report.brier_skill > -0.05 and report.brier_skill_low < 0 < report.brier_skill_high + 0.05
    with pytest.raises(ValueError, match="cannot be split"):
        clf.fit(x[:60], v[:60], z[:60], groups=groups[:60], progress=False)
