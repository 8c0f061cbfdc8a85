"""The plugin under Model Runner V2 (vLLM's GPU default), driven as the runner drives it on the real
runner state and interface classes (see ``runner_v2.py``): slots recycled, rows reordered between
steps, preemption and resumption, chunked prefill, draft rows under speculative decoding, ASAp;
its masks equal the V1 path's and the HF processor's on the same requests. Also: vLLM's V2 loader
accepts the class from the installed entry point."""

from __future__ import annotations

import copy
import random
import threading

import numpy as np
import pytest
import torch
from vllm import SamplingParams

from decoding.vllm_plugin import GuidedDecodingLogitsProcessor
from helpers import GRAMMARS, PROMPTS
from runner_v2 import RunnerV2

PLUGIN = "decoding.vllm_plugin:GuidedDecodingLogitsProcessor"


@pytest.fixture(scope="module")
def base_config(model_folder):
    from vllm.config import ModelConfig, VllmConfig

    return VllmConfig(model_config=ModelConfig(model=model_folder, dtype="bfloat16", max_model_len=2048))


@pytest.fixture
def config(base_config):
    return copy.copy(base_config)  # a fresh engine: one acting processor per config


@pytest.fixture(scope="module")
def tok(model_folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_folder)


@pytest.fixture(scope="module")
def width(base_config) -> int:
    return int(base_config.model_config.get_vocab_size())


@pytest.fixture(scope="module")
def hf_processor(model_folder, tok, width):
    """A fresh HF processor for a request's grammar, on the same vocabulary as the engine's."""
    from transformers import GenerationConfig

    from decoding.hf import GrammarLogitsProcessor
    from decoding.tokenizers import vocabulary_from_hf
    from grammars import compile_grammar

    vocabulary = vocabulary_from_hf(tok, logits_width=width,
                                    generation_config=GenerationConfig.from_pretrained(model_folder))

    def make(extra: dict) -> GrammarLogitsProcessor:
        from decoding.vllm import ConstraintSpec

        return GrammarLogitsProcessor(compile_grammar(ConstraintSpec.from_extra_args(extra).build(), vocabulary))

    return make


def _params(extra=None, **kw) -> SamplingParams:
    kw.setdefault("max_tokens", 64)
    return SamplingParams(extra_args=extra, **kw)


def _prompt(tok, name: str) -> list[int]:
    from decoding.aligned import prompt_ids

    return list(prompt_ids(tok, PROMPTS[name]))


def _hf_allowed(proc, ids: list[int], width: int, prompt_len: int | None = None) -> torch.Tensor:
    """What the HF processor allows after ``ids``; with ``prompt_len``, a fresh processor is first
    shown the prompt, then each longer prefix (it takes a row it has not seen as a new prompt)."""
    if prompt_len is not None:
        for end in range(prompt_len, len(ids)):
            proc(torch.tensor([ids[:end]]), torch.zeros(1, width))
    return torch.isfinite(proc(torch.tensor([ids]), torch.zeros(1, width))[0])


def _v1_processor(config) -> GuidedDecodingLogitsProcessor:
    return GuidedDecodingLogitsProcessor(config, torch.device("cpu"), False)


def test_masks_equal_the_v1_path_and_the_hf_processor(config, base_config, tok, width, hf_processor):
    from vllm.v1.sample.logits_processor import BatchUpdate

    runner = RunnerV2(width)
    v2 = GuidedDecodingLogitsProcessor(config, runner.req_states)
    runner.processors.append(v2)
    v1 = _v1_processor(copy.copy(base_config))
    assert v2.v2 is not None and v1.v1 is not None
    names = [*GRAMMARS, "free"]
    prompts = {n: _prompt(tok, n if n in PROMPTS else "choices") for n in names}
    outputs = {n: [] for n in names}  # V1's live output lists
    hf = {n: hf_processor(GRAMMARS[n]) for n in GRAMMARS}
    for n in names:
        runner.add(n, prompts[n], _params(GRAMMARS.get(n)))
    v1.update_state(BatchUpdate(len(names), [], [(i, _params(GRAMMARS.get(n)), prompts[n], outputs[n])
                                                  for i, n in enumerate(names)], []))
    rng = random.Random(0)
    for _ in range(10):
        order = rng.sample(names, len(names))  # V2 reorders rows every step
        logits, rows = runner.step(order)
        v1_logits = v1.apply(torch.zeros(len(names), width))
        for i, n in enumerate(names):
            allowed = torch.isfinite(logits[rows[n][0]])
            if n == "free":
                assert allowed.all()
                token = rng.randrange(width)
            else:
                assert torch.equal(allowed, torch.isfinite(v1_logits[i])), n
                assert torch.equal(allowed, _hf_allowed(hf[n], prompts[n] + outputs[n], width)), n
                ids = torch.nonzero(allowed).flatten().tolist()
                if ids == list(v1.v1.engine.eos):
                    continue  # finished
                token = rng.choice([t for t in ids if t not in v1.v1.engine.eos] or ids)
            runner.commit(n, [token])
            outputs[n].append(token)
    assert all(runner.output(n) == outputs[n] for n in names)


def test_recycled_slot_preemption_and_chunked_prefill(config, tok, width, hf_processor):
    runner = RunnerV2(width, max_num_reqs=2)
    runner.processors.append(GuidedDecodingLogitsProcessor(config, runner.req_states))
    date, record = GRAMMARS["date"], GRAMMARS["record"]
    prompt = _prompt(tok, "date")
    slot = runner.add("a", prompt, _params(date))
    runner.commit("a", tok.encode("1969-0"))
    logits, rows = runner.step(["a"])
    expected = _hf_allowed(hf_processor(date), prompt + tok.encode("1969-0"), width, len(prompt))
    assert torch.equal(torch.isfinite(logits[rows["a"][0]]), expected)

    # Preempted, then resumed: the output so far comes back as part of the prefill.
    runner.remove("a")
    assert runner.add("a", prompt, _params(date), output=tok.encode("1969-0")) == slot
    assert int(runner.states.prefill_len.np[slot]) > int(runner.states.prompt_len.np[slot])
    logits, rows = runner.step(["a"])
    assert torch.equal(torch.isfinite(logits[rows["a"][0]]), expected)

    # The slot recycled for another grammar, and for an unconstrained request.
    runner.remove("a")
    other = _prompt(tok, "record")
    assert runner.add("b", other, _params(record)) == slot
    logits, rows = runner.step(["b"])
    assert torch.equal(torch.isfinite(logits[rows["b"][0]]), _hf_allowed(hf_processor(record), other, width))
    runner.remove("b")
    assert runner.add("c", other, _params()) == slot
    logits, _ = runner.step(["c"])
    assert torch.isfinite(logits).all()

    # A request still in chunked prefill: its row is discarded, left as is.
    runner.add("d", other, _params(record))
    logits, rows = runner.step(["c", "d"], prefilling=["d"])
    assert torch.isfinite(logits).all()


def test_compile_runs_off_the_hot_path(config, tok, width, monkeypatch):
    """A new grammar compiles on the worker thread: steps before the request samples do not wait
    for it, and the first step that samples it does. (The compile thread, not processes: only a
    thread can be held busy by the test, so the compile is still queued while prefilling.)"""
    monkeypatch.setenv("GUIDED_DECODING_COMPILE_PROCESSES", "0")
    runner = RunnerV2(width)
    proc = GuidedDecodingLogitsProcessor(config, runner.req_states)
    runner.processors.append(proc)
    release = threading.Event()
    proc.v2.engine.compiler._pool.submit(release.wait)  # keep the worker busy
    prompt = _prompt(tok, "person")
    runner.add("a", prompt, _params({"regex": "[a-z]{3}-[0-9]{2}"}))
    future = proc.v2.slots[runner.states.req_id_to_index["a"]].request.compiled
    logits, _ = runner.step(["a"], prefilling=["a"])
    assert not future.done() and torch.isfinite(logits).all()  # no wait while prefilling
    release.set()
    logits, _ = runner.step(["a"])
    allowed = torch.nonzero(torch.isfinite(logits[0])).flatten().tolist()
    assert future.done() and 0 < len(allowed) < width
    assert all(tok.decode([t]).isalpha() and tok.decode([t]).islower() for t in allowed)


def test_draft_rows_under_speculative_decoding(config, tok, width, hf_processor):
    runner = RunnerV2(width)
    runner.processors.append(GuidedDecodingLogitsProcessor(config, runner.req_states))
    date = GRAMMARS["date"]
    prompt = _prompt(tok, "date")
    runner.add("a", prompt, _params(date))
    runner.add("b", prompt, _params(date))
    runner.commit("a", tok.encode("19"))
    runner.commit("b", tok.encode("19"))
    good = tok.encode("69-07-2")
    bad = [good[0], *tok.encode("x"), good[1]]  # a draft the grammar rejects, then another
    logits, rows = runner.step(["b", "a"], drafts={"a": good, "b": bad})
    base = prompt + tok.encode("19")
    for j, row in enumerate(rows["a"]):
        expected = _hf_allowed(hf_processor(date), base + good[:j], width, len(prompt))
        assert torch.equal(torch.isfinite(logits[row]), expected), j
    b_rows = [torch.isfinite(logits[r]) for r in rows["b"]]
    assert torch.equal(b_rows[1], _hf_allowed(hf_processor(date), base + bad[:1], width, len(prompt)))
    assert torch.equal(b_rows[2], b_rows[1]) and torch.equal(b_rows[3], b_rows[1])  # after the reject

    # Two drafts accepted plus a bonus token: committed in one step, read from the token table.
    runner.commit("a", [*good[:2], good[2]])
    logits, rows = runner.step(["a"], drafts={"a": good[3:]})
    committed = base + good[:3]
    for j, row in enumerate(rows["a"]):
        expected = _hf_allowed(hf_processor(date), committed + good[3:3 + j], width, len(prompt))
        assert torch.equal(torch.isfinite(logits[row]), expected), j


def test_asap_rows_equal_the_v1_path(config, base_config, tok, width, hf_processor):
    from vllm.v1.sample.logits_processor import BatchUpdate

    extra = {"grammar": "choices", "sampler": "asap"}
    runner = RunnerV2(width)
    runner.processors.append(GuidedDecodingLogitsProcessor(config, runner.req_states))
    v1 = _v1_processor(copy.copy(base_config))
    prompt = _prompt(tok, "choices")
    output: list[int] = []
    runner.add("a", prompt, _params(extra, temperature=1.0))
    v1.update_state(BatchUpdate(1, [], [(0, _params(extra, temperature=1.0), prompt, output)], []))
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        raw = torch.randn(1, width, generator=gen)
        ours, _ = runner.step(["a"], logits=raw.clone())
        theirs = v1.apply(raw.clone())
        assert torch.equal(ours, theirs)
        probs = torch.softmax(ours[0], -1)
        token = int(torch.multinomial(probs, 1, generator=gen))
        if token in v1.v1.engine.eos:
            break
        runner.commit("a", [token])
        output.append(token)
    # With drafts: each row reweighted over what its draft prefix allows.
    runner.add("b", prompt, _params(extra, temperature=1.0))
    drafts = tok.encode("positive")[:2]
    raw = torch.randn(1 + len(drafts), width, generator=gen)
    ours, rows = runner.step(["b"], drafts={"b": drafts}, logits=raw)
    for j, row in enumerate(rows["b"]):
        expected = _hf_allowed(hf_processor(extra), prompt + drafts[:j], width, len(prompt))
        assert torch.equal(torch.isfinite(ours[row]), expected), j


def test_batch_fill_threads_equal_one_thread(tok, width):
    from decoding.vllm.batch_fill import PARALLEL_FROM, BatchMaskFiller
    from decoding.tokenizers import vocabulary_from_hf
    from grammars import Grammar, GrammarMatcher, compile_grammar

    compiled = compile_grammar(Grammar.from_json_schema(GRAMMARS["person"]["json_schema"]),
                               vocabulary_from_hf(tok, logits_width=width))
    rng = random.Random(0)
    matchers = [GrammarMatcher(compiled)]
    while len(matchers) < PARALLEL_FROM + 8:  # states along random walks through the schema
        m = matchers[-1].fork() if len(matchers) % 12 else GrammarMatcher(compiled)
        allowed = [t for t in m.allowed_token_ids().tolist() if t not in compiled.eos_token_ids]
        if allowed:
            m.advance(rng.choice(allowed))
        matchers.append(m)
    serial = BatchMaskFiller(width, threads=0).fill(matchers).copy()
    threaded = BatchMaskFiller(width, threads=2)
    assert np.array_equal(threaded.fill(matchers), serial)
    assert len({row.tobytes() for row in serial}) > 5  # the states differ


def test_the_v2_loader_accepts_the_installed_class(config, width):
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.worker.gpu.sample.logits_processor import (
        build_custom_logits_processors,
        build_custom_logits_processors_params_validator,
    )
    from vllm.v1.worker.gpu.sample.logits_processor.loader import _load_v2_logitsprocs_plugins

    assert GuidedDecodingLogitsProcessor in _load_v2_logitsprocs_plugins()  # the entry point
    runner = RunnerV2(width)
    procs = build_custom_logits_processors(config, runner.states, False, [PLUGIN])
    assert [type(p) for p in procs] == [GuidedDecodingLogitsProcessor] * 2
    assert [p.acting for p in procs] == [True, False]  # one instance acts per engine
    validate = build_custom_logits_processors_params_validator([PLUGIN])
    validate(_params({"regex": "[0-9]+"}))
    with pytest.raises(VLLMValidationError, match="bad grammar.*'foo'"):
        validate(_params({"grammar": "start: foo"}))
