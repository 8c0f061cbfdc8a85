"""The main job, ``python -m decoding.demo``: a grammar-constrained generation on the test model.

Asks SmolLM2-135M-Instruct for JSON, once without and once with the bundled JSON grammar, and shows
that the constrained answer parses. ``--grammar`` picks another bundled grammar (or a ``.lark``
file); the remaining arguments become the prompt.

Example:
    $ python -m decoding.demo --grammar json "Describe a cat as JSON with a name and an age."
"""

from __future__ import annotations

import argparse
import json
import time

import lark
import torch
import transformers

from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from decoding.models import load_test_model

DEFAULT_PROMPT = "Describe a cat as JSON with a name and an age."


def chat_generate(model, tokenizer, prompt: str, processors: list, max_new_tokens: int) -> str:
    """Answer one user message greedily (the chat template adds SmolLM's system prompt)."""
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        out = model.generate(**inputs, logits_processor=processors, max_new_tokens=max_new_tokens,
                             do_sample=False)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="*", help=f"default: {DEFAULT_PROMPT!r}")
    parser.add_argument("--grammar", default="json", help="bundled grammar name or .lark file")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    prompt = " ".join(args.prompt) or DEFAULT_PROMPT
    transformers.utils.logging.disable_progress_bar()

    start = time.perf_counter()
    model, tokenizer = load_test_model()
    loaded = time.perf_counter()
    compiled = compile_for_tokenizer(args.grammar, tokenizer, model=model)
    compiled_at = time.perf_counter()
    free = chat_generate(model, tokenizer, prompt, [], args.max_new_tokens)
    free_at = time.perf_counter()
    constrained = chat_generate(model, tokenizer, prompt, [GrammarLogitsProcessor(compiled)],
                                args.max_new_tokens)
    done = time.perf_counter()

    print(f"model:        SmolLM2-135M-Instruct (fp32, CPU), loaded in {loaded - start:.1f} s")
    print(f"grammar:      {args.grammar}, compiled in {compiled_at - loaded:.2f} s")
    print(f"prompt:       {prompt}")
    print(f"unconstrained ({free_at - compiled_at:.1f} s): {free.strip()}")
    print(f"constrained   ({done - free_at:.1f} s): {constrained}")
    try:
        lark.Lark(compiled.grammar_text, start=compiled.start).parse(constrained)
        verdict = "parses with the grammar"
        if args.grammar == "json":
            json.loads(constrained)
            verdict += " and with json.loads"
    except (lark.exceptions.LarkError, ValueError) as e:
        verdict = f"does not parse yet (cut by --max-new-tokens?): {str(e).splitlines()[0]}"
    print(f"check:        the constrained answer {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
