"""375 samples of the real test model under realistic JSON Schemas, through the HF processor: every
finished one is JSON that validates with ``jsonschema`` (temperature 1, so the model strays often;
samples cut by the token budget are counted, and must stay a minority)."""

from __future__ import annotations

import json

import jsonschema
import pytest
import torch

from decoding.aligned import prompt_ids
from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from grammars import Grammar

SCHEMAS = {
    "person": ({"type": "object", "additionalProperties": False, "required": ["name", "age"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 16},
                               "age": {"type": "integer", "minimum": 0, "maximum": 120},
                               "email": {"type": "string", "format": "email"}}},
               "Invent a person with a name and an age, as JSON."),
    "order": ({"type": "object", "required": ["id", "items", "status"], "additionalProperties": False,
               "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 9999},
                              "items": {"type": "array", "minItems": 1, "maxItems": 2,
                                        "items": {"$ref": "#/$defs/item"}},
                              "status": {"enum": ["new", "paid", "shipped"]}},
               "$defs": {"item": {"type": "object", "required": ["sku", "qty"],
                                  "additionalProperties": False,
                                  "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                                                 "qty": {"type": "integer", "minimum": 1, "maximum": 9}}}}},
              "Write an order as JSON."),
    "event": ({"type": "object", "required": ["title", "date", "tags"], "additionalProperties": False,
               "properties": {"title": {"type": "string", "maxLength": 24},
                              "date": {"type": "string", "format": "date"},
                              "online": {"type": "boolean"},
                              "tags": {"type": "array", "maxItems": 2,
                                       "items": {"type": "string", "maxLength": 8}}}},
              "Describe an event as JSON."),
}
SAMPLES = {"person": 125, "order": 125, "event": 125}  # one HF batch each: sized for CI
MAX_NEW_TOKENS = 64


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCHEMAS))
def test_every_sample_validates(test_model, test_tokenizer, name):
    schema, prompt = SCHEMAS[name]
    compiled = compile_for_tokenizer(Grammar.from_json_schema(schema), test_tokenizer, model=test_model)
    ids = torch.tensor([prompt_ids(test_tokenizer, prompt)])
    torch.manual_seed(0)
    texts, unfinished = [], 0
    left = SAMPLES[name]
    while left:
        n = min(left, 125)
        out = test_model.generate(ids, attention_mask=torch.ones_like(ids),
                                  logits_processor=[GrammarLogitsProcessor(compiled)], do_sample=True,
                                  temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=n,
                                  max_new_tokens=MAX_NEW_TOKENS, pad_token_id=test_tokenizer.eos_token_id)
        for row in out[:, ids.shape[1]:].tolist():
            if test_tokenizer.eos_token_id not in row:
                unfinished += 1  # cut by max_new_tokens: a prefix, not an answer
                continue
            texts.append(test_tokenizer.decode(row, skip_special_tokens=True))
        left -= n
    for text in texts:
        jsonschema.validate(json.loads(text), schema)  # raises on the first invalid sample
    # At temperature 1 a free-text field can ramble past the token budget; most samples finish.
    assert unfinished <= SAMPLES[name] // 4, f"{unfinished} of {SAMPLES[name]} samples did not finish"


def test_flexible_whitespace_stays_bounded_in_samples(test_model, test_tokenizer):
    """Samples at a high temperature, where a model drifts into whitespace: every run of
    whitespace between tokens stays within ``MAX_WS``, and every finished sample validates."""
    import re

    from grammars.json_schema import MAX_WS

    schema = {"type": "object", "required": ["tags"], "properties": {
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "integer"}}}}
    compiled = compile_for_tokenizer(Grammar.from_json_schema(schema, whitespace="flexible"), test_tokenizer,
                                     model=test_model)
    ids = torch.tensor([prompt_ids(test_tokenizer, "Write a JSON object with tags, pretty-printed.")])
    torch.manual_seed(0)
    out = test_model.generate(ids, attention_mask=torch.ones_like(ids),
                              logits_processor=[GrammarLogitsProcessor(compiled)], do_sample=True,
                              temperature=1.5, top_k=0, top_p=1.0, num_return_sequences=48,
                              max_new_tokens=48, pad_token_id=test_tokenizer.eos_token_id)
    longest, finished, spaced = 0, 0, 0
    for row in out[:, ids.shape[1]:].tolist():
        text = test_tokenizer.decode(row, skip_special_tokens=True)
        runs = [len(r) for r in re.findall(r"[ \t\n\r]+", text)]
        longest = max([longest] + runs)
        spaced += bool(runs)
        if test_tokenizer.eos_token_id in row:
            finished += 1
            jsonschema.validate(json.loads(text), schema)
    assert longest <= MAX_WS, f"a whitespace run of {longest} > {MAX_WS}"
    assert spaced > 0, "no sample used whitespace: the test would not see a runaway"
    assert finished >= 24, f"only {finished} of 48 samples finished"


def test_conditional_schema_samples_validate(test_model, test_tokenizer):
    """The keywords translated through negation and lookaheads (if/then, not, dependentRequired,
    non-integer bounds, pattern beside other string keywords) on real samples: every finished
    sample validates."""
    schema = {"type": "object", "required": ["kind", "weight"], "additionalProperties": False,
              "properties": {"kind": {"enum": ["letter", "parcel"]},
                             "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 30.5},
                             "tracking": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{6}$"},
                             "note": {"type": "string", "maxLength": 20, "not": {"enum": [""]}}},
              "if": {"properties": {"kind": {"const": "parcel"}}}, "then": {"required": ["tracking"]},
              "dependentRequired": {"note": ["tracking"]}}
    compiled = compile_for_tokenizer(Grammar.from_json_schema(schema), test_tokenizer, model=test_model)
    ids = torch.tensor([prompt_ids(test_tokenizer, "Describe a shipment as JSON.")])
    torch.manual_seed(1)
    out = test_model.generate(ids, attention_mask=torch.ones_like(ids),
                              logits_processor=[GrammarLogitsProcessor(compiled)], do_sample=True,
                              temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=60,
                              max_new_tokens=MAX_NEW_TOKENS, pad_token_id=test_tokenizer.eos_token_id)
    finished, kinds = 0, set()
    for row in out[:, ids.shape[1]:].tolist():
        if test_tokenizer.eos_token_id in row:
            value = json.loads(test_tokenizer.decode(row, skip_special_tokens=True))
            jsonschema.validate(value, schema)
            finished += 1
            kinds.add(value["kind"])
    assert finished >= 40, f"only {finished} of 60 samples finished"
    assert kinds == {"letter", "parcel"}, kinds  # both branches of the if/then were sampled
