"""The plugin with a structural tag (vLLM's / xgrammar's ``structural_tag`` JSON, two tools as
Hermes-style ``<tool_call>`` calls): offline through ``SamplingParams(extra_args=...)`` and over
HTTP through ``vllm_xargs`` (the tag as JSON text). Greedy outputs are the call the HF processor
makes; sampled outputs at temperature 1 hold only calls that validate with ``jsonschema``, and
the finished ones are accepted by the reference reader. One engine at a time: the offline engine
is built and dropped inside its test, before the server starts."""

from __future__ import annotations

import gc
import json
import os

import jsonschema
import torch

from test_server import _healthy, _post, server  # noqa: F401  (the server fixture)

try:
    from tests.structural_tag_reference import Reference
except ImportError:
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from structural_tag_reference import Reference

WEATHER = {"type": "object", "additionalProperties": False, "required": ["city"],
           "properties": {"city": {"type": "string", "minLength": 1, "maxLength": 20},
                          "unit": {"enum": ["celsius", "fahrenheit"]}}}
TIME = {"type": "object", "additionalProperties": False, "required": ["zone"],
        "properties": {"zone": {"type": "string", "pattern": "^[A-Z]{3}$"}}}
TOOLS = {"get_weather": WEATHER, "get_time": TIME}
END = "}\n</tool_call>"


def begin(name: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": '


TAG = {"type": "structural_tag", "format": {
    "type": "triggered_tags", "triggers": ["<tool_call>"],
    "tags": [{"type": "tag", "begin": begin(n), "end": END, "content": {"type": "json_schema", "json_schema": s}}
             for n, s in TOOLS.items()]}}
MESSAGES = [
    {"role": "system", "content": "Call get_weather(city) or get_time(zone) inside <tool_call></tool_call>."},
    {"role": "user", "content": "Weather in Rome?"},
    {"role": "assistant", "content": begin("get_weather") + '{"city": "Rome"}' + END},
    {"role": "user", "content": "And the weather in Paris?"},
]


def check(text: str, finished: bool, reference: Reference) -> int:
    """The number of complete calls in ``text``, each validated against its tool's schema."""
    count, at = 0, text.find("<tool_call>")
    while at >= 0:
        name = next((n for n in TOOLS if text.startswith(begin(n), at)), None)
        if name is None:  # cut inside the begin string
            assert not finished and any(begin(n).startswith(text[at:]) for n in TOOLS), text
            break
        try:
            value, stop = json.JSONDecoder().raw_decode(text, at + len(begin(name)))
        except json.JSONDecodeError:
            assert not finished, text
            break
        if not text.startswith(END, stop):
            assert not finished and END.startswith(text[stop:]), text
            break
        jsonschema.validate(value, TOOLS[name])
        count += 1
        at = text.find("<tool_call>", stop)
    if finished:
        assert reference.accepts(text), text
    return count


def test_offline_structural_tag():
    from decoding.models import test_model_path

    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    from vllm import LLM, SamplingParams

    from decoding.aligned import prompt_ids
    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from decoding.models import load_test_model
    from decoding.vllm_plugin import GuidedDecodingLogitsProcessor

    reference = Reference(TAG)
    llm = LLM(model=str(test_model_path()), dtype="bfloat16", max_model_len=2048, enforce_eager=True,
              logits_processors=[GuidedDecodingLogitsProcessor], seed=0)
    try:
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
    finally:
        del llm
        gc.collect()
    model, hf_tok = load_test_model(torch.bfloat16)
    ids = hf_tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True)
    ids = prompt_ids(hf_tok, list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    proc = GrammarLogitsProcessor(compile_for_tokenizer(TAG, hf_tok, model=model))
    out = model.generate(torch.tensor([ids]), logits_processor=[proc], do_sample=False, max_new_tokens=40)
    assert hf_tok.decode(out[0, len(ids):], skip_special_tokens=True) == g.text


def test_http_structural_tag(server):  # noqa: F811
    reference = Reference(TAG)
    body = {"model": "smollm2", "messages": MESSAGES, "max_tokens": 40, "temperature": 0.0,
            "vllm_xargs": {"structural_tag": json.dumps(TAG)}}
    status, reply = _post(f"{server}/v1/chat/completions", body)
    assert status == 200, reply
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop" and check(choice["message"]["content"], True, reference) == 1, reply
    status, reply = _post(f"{server}/v1/chat/completions", {**body, "temperature": 1.0, "n": 6, "seed": 2})
    assert status == 200, reply
    calls = sum(check(c["message"]["content"], c["finish_reason"] == "stop", reference) for c in reply["choices"])
    assert calls >= 1, reply
    bad = {**body, "vllm_xargs": {"structural_tag": json.dumps({"type": "structural_tag", "format": {"type": "nope"}})}}
    status, reply = _post(f"{server}/v1/chat/completions", bad)
    assert status == 400 and "nope" in json.dumps(reply), reply
    assert _healthy(server)
