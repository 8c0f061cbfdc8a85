"""Structural tags with grammar-aware ADED drafting and with ASAp, on the real test model (fp32):
inside a tag the grammar forces the tool's begin string (after ``{"name": "`` the rest of a tool
name once it is the only one left, the whole name with one tool), ADED drafts those forced
tokens for free and stays lossless, and ASAp samples under a forced call are valid calls."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
import torch

from decoding.aligned import prompt_ids, sample_aligned
from decoding.drafting import aded_generate, build_trigram_table, constrain_tree
from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from drafters import DraftTree
from grammars import GrammarMatcher

from tool_tags import END, TOOLS, WEATHER, begin, tool_tag  # tests/ is on sys.path

EMPTY = DraftTree(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


def forced_text(compiled, tok, text: str) -> str:
    """What grammar-aware drafting drafts from an empty tree after ``text``: the forced tokens."""
    matcher = GrammarMatcher(compiled)
    assert not text or matcher.advance_bytes(text.encode())
    paths = constrain_tree(EMPTY, matcher, 32).token_paths()
    return tok.decode(list(paths[0])) if paths else ""


def calls(text: str) -> list[tuple[str, object]]:
    """(tool, arguments) of each complete call (the JSON read by ``json``, then the tag's end)."""
    out, at = [], text.find("<tool_call>")
    while at >= 0:
        name = next(n for n in TOOLS if text.startswith(begin(n), at))
        value, stop = json.JSONDecoder().raw_decode(text, at + len(begin(name)))
        assert text.startswith(END, stop), text[at:]
        out.append((name, value))
        at = text.find("<tool_call>", stop)
    return out


def test_forced_tokens_inside_a_tag(test_model, test_tokenizer):
    """Free text forces nothing; after the trigger the begin string is forced up to the name,
    after ``get_w`` the rest of ``get_weather`` and of the begin string; with one tool the
    whole name is forced right after the trigger."""
    tok = test_tokenizer
    two = compile_for_tokenizer(tool_tag(), tok, model=test_model)
    assert forced_text(two, tok, "") == "" and forced_text(two, tok, "Sure, ") == ""
    assert forced_text(two, tok, "Sure, <tool_call>") == '\n{"name": "get_'
    assert forced_text(two, tok, 'Sure, <tool_call>\n{"name": "get_w') == 'eather", "arguments": '
    assert forced_text(two, tok, 'Sure, <tool_call>\n{"name": "get_t') == 'ime", "arguments": '
    # (the JSON content may start with whitespace: its "{" is not forced)
    one = compile_for_tokenizer(tool_tag({"get_weather": WEATHER}), tok, model=test_model)
    assert forced_text(one, tok, "<tool_call>") == '\n{"name": "get_weather", "arguments": '
    # after the call's end string, free text again: nothing forced
    assert forced_text(one, tok, begin("get_weather") + '{"city": "Rome"}' + END) == ""


MESSAGES = [
    {"role": "system", "content": "Call get_weather(city) or get_time(zone) inside <tool_call></tool_call>."},
    {"role": "user", "content": "Weather in Rome?"},
    {"role": "assistant", "content": begin("get_weather") + '{"city": "Rome"}' + END},
    {"role": "user", "content": "And the weather in Paris?"},
]


def chat_ids(tok) -> torch.Tensor:
    return tok.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt",
                                   return_dict=True)["input_ids"]


def test_aded_under_a_structural_tag_is_lossless_and_drafts_the_call(test_model, test_tokenizer):
    """Greedy ADED under the tag equals greedy ``generate`` under it (a tool call), drafts
    tokens that the model accepts, and sampled ADED rows are valid calls or free text."""
    tok = test_tokenizer
    compiled = compile_for_tokenizer(tool_tag(), tok, model=test_model)
    ids = chat_ids(tok)
    table = build_trigram_table([begin("get_time") + '{"zone": "UTC"}' + END], tok)
    kw = dict(attention_mask=torch.ones_like(ids), max_new_tokens=32, pad_token_id=2)
    plain = test_model.generate(ids, logits_processor=[GrammarLogitsProcessor(compiled)], do_sample=False, **kw)
    stats: dict = {}
    ours = test_model.generate(ids, logits_processor=[GrammarLogitsProcessor(compiled)], do_sample=False,
                               custom_generate=aded_generate, trigram_table=table.copy(), draft_stats=stats, **kw)
    assert torch.equal(ours, plain)
    text = tok.decode(ours[0, ids.shape[1]:], skip_special_tokens=True)
    [(name, arguments)] = calls(text)
    jsonschema.validate(arguments, TOOLS[name])
    print(f"greedy: {text!r}; ADED steps {stats['steps']} for {stats['new_tokens']} tokens, "
          f"{stats['accepted_draft_tokens']} drafted tokens accepted")
    assert stats["accepted_draft_tokens"] > 0 and stats["steps"] < stats["new_tokens"]
    torch.manual_seed(3)
    batch = ids.repeat(2, 1)
    out = test_model.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=36, pad_token_id=2,
                              logits_processor=[GrammarLogitsProcessor(compiled)], do_sample=True,
                              temperature=1.0, top_k=0, top_p=1.0, custom_generate=aded_generate,
                              trigram_table=table.copy())
    for row in out[:, ids.shape[1]:].tolist():
        if 2 in row:  # finished: every call in it validates
            for name, arguments in calls(tok.decode(row[: row.index(2)])):
                jsonschema.validate(arguments, TOOLS[name])


def test_asap_under_a_forced_call(test_model, test_tokenizer):
    """ASAp samples under a forced call (``at_least_one`` and ``stop_after_first``): each is one
    valid call, its forced stretch spelled as the grammar forces it, and the trie learns (theta
    of the root below 1: the mass the tag forbids at the expanded nodes is learnt)."""
    tok = test_tokenizer
    obj = tool_tag(at_least_one=True, stop_after_first=True)
    # The model's own tokenization inside the call is finer than the tokenizer's (about 55 tokens
    # for a 35-token call): 80 new tokens; 2 samples, sized for CI.
    run = sample_aligned(test_model, tok, prompt_ids(tok, "What is the weather in Paris?"), obj, 2,
                         mode="asap", max_new_tokens=80, seed=0, progress=False)
    assert len(run.samples) == 2
    for s in run.samples:
        [(name, arguments)] = calls(s.text)
        assert s.text.startswith(begin(name)) and s.text.endswith(END), s.text
        jsonschema.validate(arguments, TOOLS[name])
        assert s.logprob < 0 and np.isfinite(s.log_weight)
    assert 0 < run.theta_root < 1
    assert run.forward_passes <= sum(s.steps for s in run.samples)
