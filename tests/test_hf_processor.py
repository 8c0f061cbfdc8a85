"""The HF logits processor inside the real ``generate``: greedy, sampling, batches, beam search,
reuse across calls, prompt lookup, and the bitmask apply paths."""

from __future__ import annotations

import lark
import numpy as np
import pytest
import torch

from decoding.hf import GrammarLogitsProcessor, apply_bitmask, compile_for_tokenizer
from grammars import allocate_token_bitmask

try:
    from tests.oracle import viable
except ImportError:  # tests/ itself on sys.path
    from oracle import viable

EOS = 2
CHOICES = {"positive", "negative", "neutral", "mixed", "unknown"}


def chat(tokenizer, text: str) -> torch.Tensor:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt",
        return_dict=True,
    )["input_ids"]


def answers(tokenizer, out: torch.Tensor, prompt_len: int) -> list[tuple[str, bool]]:
    """(decoded text, finished with EOS) per row."""
    result = []
    for row in out[:, prompt_len:].tolist():
        finished = EOS in row
        if finished:
            row = row[: row.index(EOS)]
        result.append((tokenizer.decode(row), finished))
    return result


@pytest.fixture(scope="module")
def json_processor(test_model, test_tokenizer):
    return GrammarLogitsProcessor(compile_for_tokenizer("json", test_tokenizer, model=test_model))


def test_greedy_choice_is_one_of_the_choices(test_model, test_tokenizer):
    proc = GrammarLogitsProcessor(compile_for_tokenizer("choices", test_tokenizer, model=test_model))
    ids = chat(test_tokenizer, "Classify the sentiment of: 'I love this film, it is wonderful.'")
    out = test_model.generate(ids, logits_processor=[proc], max_new_tokens=8, do_sample=False)
    [(text, finished)] = answers(test_tokenizer, out, ids.shape[1])
    assert finished and text in CHOICES


def test_sampled_batch_with_left_padding_parses(test_model, test_tokenizer, json_processor):
    prompts = ["Give a JSON object describing a cat.", "Return a JSON list of three numbers."]
    texts = [test_tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                add_generation_prompt=True) for p in prompts]
    test_tokenizer.padding_side = "left"
    batch = test_tokenizer(texts, return_tensors="pt", padding=True)
    torch.manual_seed(1)
    out = test_model.generate(**batch, logits_processor=[json_processor], do_sample=True,
                              temperature=1.0, max_new_tokens=40, num_return_sequences=3,
                              pad_token_id=EOS)
    parser = lark.Lark(json_processor.compiled.grammar_text)
    results = answers(test_tokenizer, out, batch["input_ids"].shape[1])
    assert len(results) == 6
    for text, finished in results:
        if finished:
            parser.parse(text)
        else:  # cut by max_new_tokens: still a prefix of the language (independent oracle)
            assert viable(json_processor.compiled.grammar_text, text.encode())
    assert any(finished for _, finished in results)


def test_beam_search_returns_distinct_complete_choices(test_model, test_tokenizer):
    proc = GrammarLogitsProcessor(compile_for_tokenizer("choices", test_tokenizer, model=test_model))
    ids = chat(test_tokenizer, "Classify the sentiment of: 'The food was cold but the staff was kind.'")
    out = test_model.generate(ids, logits_processor=[proc], num_beams=4, num_return_sequences=4,
                              max_new_tokens=8, do_sample=False)
    results = answers(test_tokenizer, out, ids.shape[1])
    assert all(finished for _, finished in results)
    assert {text for text, _ in results} <= CHOICES  # beams are reordered, never mixed up
    assert len({tuple(row) for row in out.tolist()}) == 4  # four different token sequences


def test_beam_search_on_a_recursive_grammar_stays_in_the_language(test_model, test_tokenizer):
    proc = GrammarLogitsProcessor(compile_for_tokenizer("arithmetic", test_tokenizer, model=test_model))
    ids = chat(test_tokenizer, "Write an arithmetic expression that equals 10.")
    out = test_model.generate(ids, logits_processor=[proc], num_beams=3, num_return_sequences=3,
                              max_new_tokens=12, do_sample=False)
    for text, finished in answers(test_tokenizer, out, ids.shape[1]):
        if finished:
            lark.Lark(proc.compiled.grammar_text).parse(text)
        else:
            assert viable(proc.compiled.grammar_text, text.encode())


def test_processor_is_reusable_across_generate_calls(test_model, test_tokenizer, json_processor):
    ids = chat(test_tokenizer, "Give a JSON object with a name.")
    first = test_model.generate(ids, logits_processor=[json_processor], max_new_tokens=12,
                                do_sample=False)
    other = chat(test_tokenizer, "Return an empty JSON list.")
    test_model.generate(other, logits_processor=[json_processor], max_new_tokens=6, do_sample=False)
    again = test_model.generate(ids, logits_processor=[json_processor], max_new_tokens=12,
                                do_sample=False)
    assert torch.equal(first, again)
    fresh = GrammarLogitsProcessor(json_processor.compiled)
    third = test_model.generate(ids, logits_processor=[fresh], max_new_tokens=12, do_sample=False)
    assert torch.equal(first, third)
    assert test_tokenizer.decode(first[0, ids.shape[1]:]).lstrip()[:1] in "{[\"-0123456789tfn"


def test_prompt_lookup_gives_the_same_constrained_output(test_model, test_tokenizer):
    proc = GrammarLogitsProcessor(compile_for_tokenizer("json", test_tokenizer, model=test_model))
    ids = chat(test_tokenizer, 'Copy this JSON exactly: {"name": "Ada", "langs": ["en", "fr"]}')
    plain = test_model.generate(ids, logits_processor=[proc], max_new_tokens=20, do_sample=False)
    proc.reset()
    lookup = test_model.generate(ids, logits_processor=[proc], max_new_tokens=20, do_sample=False,
                                 prompt_lookup_num_tokens=5)
    assert torch.equal(plain, lookup)


def test_unconstrained_scores_equal_before_masking(test_model, test_tokenizer, json_processor):
    """Allowed ids keep their exact score; every other id becomes -inf."""
    ids = chat(test_tokenizer, "Give JSON.")
    scores = torch.randn(1, test_model.config.vocab_size)
    before = scores.clone()
    json_processor.reset()
    json_processor(ids, scores)
    allowed = torch.isfinite(scores[0])
    assert torch.equal(scores[0, allowed], before[0, allowed])
    assert 0 < allowed.sum() < scores.shape[1]
    assert not allowed[EOS]  # nothing generated yet: the JSON is not complete


def test_torch_and_numba_apply_paths_agree():
    rng = np.random.default_rng(0)
    bitmask = rng.integers(-(2**31), 2**31, size=(3, 4), dtype=np.int64).astype(np.int32)
    bitmask = np.ascontiguousarray(bitmask[:, :4])
    base = torch.randn(5, 120)  # 4 words = 128 bits cover the 120 ids; rows 1, 2 and 4 masked
    rows = [1, 2, 4]
    numba_scores = base.clone()
    apply_bitmask(numba_scores, bitmask, rows)
    torch_scores = base.clone().to(torch.bfloat16)
    apply_bitmask(torch_scores, bitmask, rows)
    assert torch.equal(torch.isinf(numba_scores), torch.isinf(torch_scores.float()))
    assert torch.equal(numba_scores[[0, 3]], base[[0, 3]])
    bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little").reshape(3, -1)[:, :120]
    assert np.array_equal(np.isfinite(numba_scores[rows].numpy()), bits.astype(bool))


def test_logits_wider_than_the_mask_are_masked():
    scores = torch.zeros(1, 70)
    mask = allocate_token_bitmask(1, 40)
    mask[0, 0] = -1  # ids 0..31 allowed
    apply_bitmask(scores, mask, [0])
    assert torch.isfinite(scores[0, :32]).all() and torch.isinf(scores[0, 32:]).all()


def test_old_prefixes_are_forgotten_when_a_new_generation_starts(test_model, test_tokenizer):
    proc = GrammarLogitsProcessor(compile_for_tokenizer("json", test_tokenizer, model=test_model))
    long_prompt = chat(test_tokenizer, "Give JSON. " * 40)
    test_model.generate(long_prompt, logits_processor=[proc], max_new_tokens=4, do_sample=False)
    for k in range(3):
        short = chat(test_tokenizer, f"Give JSON number {k}.")
        test_model.generate(short, logits_processor=[proc], max_new_tokens=4, do_sample=False)
    assert len(proc._states) <= 5  # only the last generation's prefixes (prompt + 4 steps)
