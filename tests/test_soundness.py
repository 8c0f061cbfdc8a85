"""Soundness on the real model: 500 samples per bundled grammar at temperature 1.0 under the
processor (the model in bf16: batched sampling is about ten times faster than fp32 on this CPU, and
soundness does not depend on the precision). Every finished sample must parse with lark's own Earley parser (a different code path
from the engine); a sample cut by ``max_new_tokens`` must be a prefix of the language according to
the independent oracle of ``tests/oracle.py``."""

from __future__ import annotations

import lark
import pytest
import torch

from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from decoding.tokenizers import vocabulary_from_hf

try:
    from tests.oracle import viable
except ImportError:  # tests/ itself on sys.path
    from oracle import viable

SAMPLES = 500
BATCH = 250
MAX_NEW_TOKENS = 24
EOS = 2

PROMPTS = {
    "json": "Give a tiny JSON object with a name and an age.",
    "arithmetic": "Write a short arithmetic expression.",
    "sql": "Write a short SQL query that selects the names of users.",
    "csv": "Write a CSV with two short rows.",
    "choices": "Classify the sentiment of: 'It was fine, I guess.'",
    "expression": "Write a short code expression that adds two variables.",
}


@pytest.fixture(scope="module")
def bf16_model():
    from decoding.models import load_test_model

    return load_test_model(torch.bfloat16)[0]


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_samples_at_temperature_one_parse(name, bf16_model, test_tokenizer):
    test_model = bf16_model
    compiled = compile_for_tokenizer(name, test_tokenizer, model=test_model)
    processor = GrammarLogitsProcessor(compiled)
    vocab = vocabulary_from_hf(test_tokenizer)
    parser = lark.Lark(compiled.grammar_text, start=compiled.start)  # Earley, not our engine
    ids = test_tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPTS[name]}], add_generation_prompt=True,
        return_tensors="pt", return_dict=True,
    )["input_ids"]
    torch.manual_seed(1234)
    finished = unfinished = 0
    for _ in range(SAMPLES // BATCH):
        out = test_model.generate(
            ids, attention_mask=torch.ones_like(ids), logits_processor=[processor],
            do_sample=True, temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=BATCH,
            max_new_tokens=MAX_NEW_TOKENS, pad_token_id=EOS,
        )
        for row in out[:, ids.shape[1]:].tolist():
            if EOS in row:
                text = b"".join(vocab.token_bytes[t] for t in row[: row.index(EOS)])
                parser.parse(text.decode("utf-8"))  # raises on a sample outside the language
                finished += 1
            else:
                text = b"".join(vocab.token_bytes[t] for t in row)
                assert viable(compiled.grammar_text, text), (name, text)
                unfinished += 1
    assert finished + unfinished == SAMPLES
    assert finished > 0, f"{name}: no sample finished within {MAX_NEW_TOKENS} tokens"
    print(f"{name}: {finished} finished and parsed, {unfinished} cut at {MAX_NEW_TOKENS} tokens")
