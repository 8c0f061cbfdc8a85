"""The main job, ``python -m decoding.demo``: greedy chat generation on the bundled test model.

Prints the prompt and the model's answer. (A placeholder until the grammar engine lands: it will
then show a grammar-constrained generation next to the unconstrained one.)

Example:
    $ python -m decoding.demo "Name three colors."
"""

from __future__ import annotations

import sys
import time

import torch
import transformers

from decoding.models import load_test_model

DEFAULT_PROMPT = "What is the capital of France? Answer in one sentence."


def chat_greedy(model, tokenizer, prompt: str, max_new_tokens: int = 48) -> str:
    """Answer one user message greedily (the chat template adds SmolLM's system prompt)."""
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prompt = " ".join(args) if args else DEFAULT_PROMPT
    transformers.utils.logging.disable_progress_bar()
    start = time.perf_counter()
    model, tokenizer = load_test_model()
    loaded = time.perf_counter()
    answer = chat_greedy(model, tokenizer, prompt)
    done = time.perf_counter()
    print(f"model:  SmolLM2-135M-Instruct (fp32, CPU), loaded in {loaded - start:.1f} s")
    print(f"prompt: {prompt}")
    print(f"answer: {answer.strip()}")
    print(f"(greedy, {done - loaded:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
