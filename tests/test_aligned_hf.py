"""Grammar-aligned sampling on the real test model (SmolLM2-135M-Instruct, fp32)."""

from __future__ import annotations

import math

import lark
import numpy as np
import pytest
import torch

from decoding.aligned import (
    CausalLMScorer,
    GrammarAlignedLogitsProcessor,
    prompt_ids,
    sample_aligned,
)
from decoding.hf import compile_for_tokenizer
from grammars import Grammar
from samplers import AlignedSampler, TrieMismatchError, UnsatisfiableError, enumerate_language

BINARY = 'start: "00000" | "1" B B B B\nB: "0" | "1"'
BINARY_PROMPT = "Generate a random binary string of length 5. Directly show the string."
ARITH = 'start: D OP D\nD: "1".."9"\nOP: "+" | "-" | "*"'
ARITH_PROMPT = "Write one short arithmetic expression with two digits."


@pytest.fixture(scope="module")
def model_and_tokenizer():
    from decoding.models import load_test_model

    return load_test_model()


def parses(grammar_text: str, text: str) -> bool:
    try:
        lark.Lark(grammar_text, parser="earley").parse(text)
        return True
    except lark.exceptions.LarkError:
        return False


@pytest.mark.parametrize("mode", ["gcd", "asap", "exact"])
@pytest.mark.parametrize("grammar,prompt,max_new", [
    (Grammar.from_lark(BINARY), BINARY_PROMPT, 7),
    (Grammar.from_lark(ARITH), ARITH_PROMPT, 5),
    (Grammar.bundled("choices"), "Is 'I love it' positive?", 8),
], ids=["binary", "arithmetic", "choices"])
def test_every_sample_parses(model_and_tokenizer, mode, grammar, prompt, max_new):
    model, tok = model_and_tokenizer
    n = 12 if mode == "exact" else 25  # exact rejects most of its draws on arithmetic: sized for CI
    run = sample_aligned(model, tok, prompt, grammar, n, mode=mode, max_new_tokens=max_new,
                         seed=1, progress=False)
    eos = set(compile_for_tokenizer(grammar, tok, model=model).eos_token_ids.tolist())
    assert len(run.samples) == n
    for s in run.samples:
        assert parses(grammar.text, s.text), s
        assert s.token_ids[-1] in eos
        assert len(s.token_ids) <= max_new
        assert tok.decode(list(s.token_ids[:-1])) == s.text
        assert s.logprob < 0
    # The trie keeps what it learnt: fewer model calls than tokens sampled.
    assert run.forward_passes <= sum(s.steps for s in run.samples)


def test_logprob_is_the_models_probability_of_the_sample(model_and_tokenizer):
    model, tok = model_and_tokenizer
    ids = prompt_ids(tok, ARITH_PROMPT)
    run = sample_aligned(model, tok, ids, Grammar.from_lark(ARITH), 3, mode="asap", max_new_tokens=5,
                         seed=4, progress=False)
    for s in run.samples:
        full = torch.tensor([ids + list(s.token_ids)])
        with torch.inference_mode():
            logp = torch.log_softmax(model(full).logits[0].float(), dim=-1)
        expected = sum(float(logp[len(ids) - 1 + i, t]) for i, t in enumerate(s.token_ids))
        assert s.logprob == pytest.approx(expected, abs=1e-3)


def test_theta_never_increases_on_the_real_model(model_and_tokenizer):
    model, tok = model_and_tokenizer
    cg = compile_for_tokenizer(Grammar.from_lark(BINARY), tok, model=model)
    sampler = AlignedSampler(cg, CausalLMScorer(model, prompt_ids(tok, BINARY_PROMPT)), mode="asap",
                             max_new_tokens=7, seed=3)
    before = sampler.trie.logthetas()
    roots = [sampler.theta_root]
    for _ in range(40):
        sampler.sample()
        now = sampler.trie.logthetas()
        assert np.all(now[: len(before)] <= before + 1e-12)
        before = now
        roots.append(sampler.theta_root)
    assert roots[-1] < roots[0]
    # theta(root) is an upper bound on Z_G, the model's probability of a grammatical output.
    table = enumerate_language(cg, CausalLMScorer(model, prompt_ids(tok, BINARY_PROMPT)),
                               max_new_tokens=7)
    assert roots[-1] >= math.exp(table.log_z) * (1 - 1e-4)


def test_saved_trie_reloads_continues_and_refuses_a_mismatch(model_and_tokenizer, tmp_path):
    model, tok = model_and_tokenizer
    path = tmp_path / "binary.trie.npz"
    grammar = Grammar.from_lark(BINARY)
    first = sample_aligned(model, tok, BINARY_PROMPT, grammar, 15, mode="asap", max_new_tokens=7,
                           seed=0, trie_path=path, progress=False)
    assert path.exists()
    second = sample_aligned(model, tok, BINARY_PROMPT, grammar, 15, mode="asap", max_new_tokens=7,
                            seed=1, trie_path=path, progress=False)
    assert len(second.sampler.trie) >= len(first.sampler.trie)
    assert second.theta_root <= first.theta_root
    assert second.forward_passes < first.forward_passes  # known prefixes are not scored again
    with pytest.raises(TrieMismatchError, match="decoding_config"):
        sample_aligned(model, tok, BINARY_PROMPT, grammar, 1, temperature=0.7, max_new_tokens=7,
                       trie_path=path, progress=False)
    with pytest.raises(TrieMismatchError, match="prompt_hash"):
        sample_aligned(model, tok, "Another prompt.", grammar, 1, max_new_tokens=7,
                       trie_path=path, progress=False)
    with pytest.raises(TrieMismatchError, match="grammar_hash"):
        sample_aligned(model, tok, BINARY_PROMPT, Grammar.from_lark('start: "0" | "1"'), 1,
                       max_new_tokens=7, trie_path=path, progress=False)


def test_unsatisfiable_length_raises_the_promised_message(model_and_tokenizer):
    model, tok = model_and_tokenizer
    for mode in ("asap", "exact", "gcd"):
        with pytest.raises(UnsatisfiableError, match="unsatisfiable within max_new_tokens = 5"):
            sample_aligned(model, tok, BINARY_PROMPT, Grammar.from_lark(BINARY), 1, mode=mode,
                           max_new_tokens=5, progress=False)


def test_scorer_kv_cache_and_temperature_match_a_full_forward(model_and_tokenizer):
    model, tok = model_and_tokenizer
    ids = prompt_ids(tok, ARITH_PROMPT)
    scorer = CausalLMScorer(model, ids, temperature=0.7)
    paths = [[16, 28], [16], [16, 28, 17], [19, 28], []]
    for prefix in paths:  # in an order that forces the cache to be cropped and re-extended
        got = scorer.logprobs(prefix)
        with torch.inference_mode():
            logits = model(torch.tensor([ids + prefix])).logits[0, -1].float()
        want = torch.log_softmax(logits / 0.7, dim=-1).numpy()
        assert np.allclose(got, want, atol=2e-4)
    assert scorer.forward_passes == len(paths)


def test_logits_processor_form_learns_across_generate_calls(model_and_tokenizer):
    model, tok = model_and_tokenizer
    cg = compile_for_tokenizer(Grammar.from_lark(BINARY), tok, model=model)
    proc = GrammarAlignedLogitsProcessor(cg, max_new_tokens=7)
    ids = torch.tensor([prompt_ids(tok, BINARY_PROMPT)] * 4)
    torch.manual_seed(0)
    thetas = []
    for _ in range(4):
        out = model.generate(ids, attention_mask=torch.ones_like(ids), logits_processor=[proc],
                             max_new_tokens=7, do_sample=True, top_k=0, top_p=1.0, temperature=1.0,
                             pad_token_id=tok.eos_token_id)
        for row in out:
            assert parses(BINARY, tok.decode(row[ids.shape[1]:], skip_special_tokens=True))
        (trie,) = proc.tries.values()
        thetas.append(trie.theta(0))
    assert thetas[-1] <= thetas[0] < 1.0
    with pytest.raises(ValueError, match="exact"):
        GrammarAlignedLogitsProcessor(cg, mode="exact")
