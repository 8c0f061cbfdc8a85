"""The plugin inside an offline ``vllm.LLM`` (in-process engine core): a mixed batch, greedy
choices the HF processor makes too, refused grammars, ASAp, and a structural tag."""

from __future__ import annotations

import gc
import json
import os

import pytest
import torch

from helpers import GRAMMARS, PROMPTS, chat, parses
from structural import MESSAGES, TAG, Reference, check


@pytest.fixture(scope="module")
def llm(model_folder):
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    from vllm import LLM

    from decoding.vllm_plugin import GuidedDecodingLogitsProcessor

    # Also installed through the entry point: the explicit registration must not act twice.
    engine = LLM(model=model_folder, dtype="bfloat16", max_model_len=2048, enforce_eager=True,
                 logits_processors=[GuidedDecodingLogitsProcessor], seed=0)
    yield engine
    del engine
    gc.collect()


def _params(extra=None, **kw):
    from vllm import SamplingParams

    kw.setdefault("temperature", 0.0)
    kw.setdefault("max_tokens", 32)
    return SamplingParams(extra_args=extra, **kw)


def test_mixed_batch(llm):
    tok = llm.get_tokenizer()
    free = [chat(tok, "Say hello to a friend."), chat(tok, "Name a colour.")]
    names = list(GRAMMARS)
    prompts = [chat(tok, PROMPTS[n]) for n in names] + free
    params = [_params(GRAMMARS[n]) for n in names] + [_params(), _params()]
    outs = [o.outputs[0] for o in llm.generate(prompts, params)]
    for name, out in zip(names, outs):
        assert out.finish_reason == "stop", (name, out.text)
        assert parses(GRAMMARS[name], out.text), (name, out.text)
    alone = [o.outputs[0].text for o in llm.generate(free, [_params(), _params()])]
    assert [o.text for o in outs[len(names):]] == alone  # unconstrained rows untouched


# vLLM's bf16 kernels and HF's differ in the last bits, so two allowed tokens whose logits are a
# near-tie (SmolLM2 scores "5" and "1" in the rating 31.93 and 31.90 in fp32) may come out in
# either order; a wrong mask shows as a token the processor masks or one far below its best.
NEAR_TIE = 0.5


def test_greedy_output_is_the_hf_processors_greedy_choice(llm):
    """Each token vLLM's greedy, plugin-constrained run emits is one the HF processor allows, and
    the fp32 HF model scores it within ``NEAR_TIE`` of the best allowed token at that step."""
    from decoding.aligned import prompt_ids
    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from decoding.models import load_test_model
    from grammars import Grammar

    model, tok = load_test_model(torch.float32)
    for name, extra in GRAMMARS.items():
        ids = prompt_ids(tok, PROMPTS[name])
        grammar = (Grammar.load(extra["grammar"]) if "grammar" in extra
                   else Grammar.from_regex(extra["regex"]) if "regex" in extra
                   else Grammar.from_json_schema(extra["json_schema"]))
        proc = GrammarLogitsProcessor(compile_for_tokenizer(grammar, tok, model=model))
        out = llm.generate([chat(tok, PROMPTS[name])], _params(extra))[0].outputs[0]
        emitted = list(out.token_ids)
        assert emitted and out.finish_reason == "stop", (name, out.text)
        assert_greedy_choices(model, proc, ids, emitted, name)


def assert_greedy_choices(model, proc, ids: list[int], emitted: list[int], name: str) -> None:
    """Teacher-force ``emitted`` after the prompt ``ids`` through ``model``: each token must be
    allowed by ``proc`` and scored within ``NEAR_TIE`` of the best token ``proc`` allows."""
    seq = torch.tensor([list(ids) + emitted])
    with torch.no_grad():
        logits = model(seq).logits[0, len(ids) - 1:].float()
    for step, token in enumerate(emitted):
        masked = proc(seq[:, :len(ids) + step], logits[step:step + 1].clone())[0]
        assert torch.isfinite(masked[token]), (name, step, emitted[:step + 1])
        gap = float(masked.max() - masked[token])
        assert gap <= NEAR_TIE, (name, step, emitted[:step + 1], gap)


def test_a_broken_grammar_is_refused_and_the_engine_keeps_serving(llm):
    tok = llm.get_tokenizer()
    with pytest.raises(Exception, match="bad grammar.*'foo'"):
        llm.generate([chat(tok, "Hi")], _params({"grammar": "start: foo"}))
    with pytest.raises(Exception, match="unknown sampler"):
        llm.generate([chat(tok, "Hi")], _params({"grammar": "choices", "sampler": "beam"}))
    with pytest.raises(Exception, match="asap.*temperature=1"):
        llm.generate([chat(tok, "Hi")], _params({"grammar": "choices", "sampler": "asap"}))
    out = llm.generate([chat(tok, PROMPTS["choices"])], _params(GRAMMARS["choices"]))[0].outputs[0]
    assert parses(GRAMMARS["choices"], out.text)


def test_validation_starts_the_compile_the_request_then_uses(llm):
    """With the engine in this process, ``validate_params`` starts a request's compile (a refused
    request starts none), and the request's admission takes that compile instead of a second."""
    from vllm import SamplingParams

    from decoding.vllm import engine as engine_module
    from decoding.vllm_plugin import ConstraintSpec, GuidedDecodingLogitsProcessor

    compiler = engine_module._latest().compiler
    before = len(compiler._futures)
    with pytest.raises(ValueError, match="bad regex"):
        GuidedDecodingLogitsProcessor.validate_params(SamplingParams(extra_args={"regex": "[a-f"}))
    assert len(compiler._futures) == before
    extra = {"regex": "[a-f]{3}-[0-9]{2}"}
    GuidedDecodingLogitsProcessor.validate_params(SamplingParams(extra_args=extra))
    digest = ConstraintSpec.from_extra_args(extra).digest
    started = compiler._futures[digest]
    out = llm.generate([chat(llm.get_tokenizer(), "Give a short code.")], _params(extra))[0].outputs[0]
    assert parses(extra, out.text), out.text
    assert compiler._futures[digest] is started


def test_asap_samples_parse(llm):
    tok = llm.get_tokenizer()
    extra = {"grammar": "choices", "sampler": "asap"}
    outs = llm.generate([chat(tok, PROMPTS["choices"])] * 2,
                        _params(extra, temperature=1.0, n=8, max_tokens=8))
    texts = [c.text for o in outs for c in o.outputs]
    assert len(texts) == 16 and all(parses(extra, t) for t in texts), texts


def test_structural_tag(llm):
    """A two-tool structural tag through ``extra_args`` (an object and its JSON text): greedy is the
    HF processor's greedy choice up to a near-tie, sampled calls validate, an unconstrained row in
    the batch is untouched."""
    from vllm import SamplingParams

    from decoding.aligned import prompt_ids
    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from decoding.models import load_test_model

    reference = Reference(TAG)
    tok = llm.get_tokenizer()
    prompt = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    greedy = SamplingParams(temperature=0.0, max_tokens=40, extra_args={"structural_tag": TAG})
    as_text = SamplingParams(temperature=0.0, max_tokens=40, extra_args={"structural_tag": json.dumps(TAG)})
    sampled = SamplingParams(temperature=1.0, n=8, max_tokens=40, seed=1, extra_args={"structural_tag": TAG})
    free = SamplingParams(temperature=0.0, max_tokens=16)
    outs = llm.generate([prompt, prompt, prompt, prompt], [greedy, as_text, sampled, free])
    g, t = outs[0].outputs[0], outs[1].outputs[0]
    assert g.text == t.text and g.finish_reason == "stop", (g.text, t.text)
    assert check(g.text, True, reference) == 1, g.text
    calls = sum(check(c.text, c.finish_reason == "stop", reference) for c in outs[2].outputs)
    assert calls >= 1, [c.text for c in outs[2].outputs]
    alone = llm.generate([prompt], [free])[0].outputs[0].text
    assert outs[3].outputs[0].text == alone  # the unconstrained row in the batch is untouched
    model, hf_tok = load_test_model(torch.float32)
    ids = hf_tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True)
    ids = prompt_ids(hf_tok, list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    proc = GrammarLogitsProcessor(compile_for_tokenizer(TAG, hf_tok, model=model))
    assert_greedy_choices(model, proc, ids, list(g.token_ids), "structural_tag")
