"""The vLLM plugin in an offline engine: one batch mixing a bundled grammar, a regex, an inline Lark
grammar and an unconstrained prompt. Run it with the vLLM venv (``bash scripts/setup_vllm.sh``):

    .venv-vllm/bin/python examples/vllm_offline.py
"""

from __future__ import annotations

import os

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine core in this process
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from vllm import LLM, SamplingParams  # noqa: E402

from decoding.models import test_model_path  # noqa: E402

RECORD = r'''
start: "{\"name\": \"" NAME "\", \"age\": " AGE "}"
NAME: /[A-Z][a-z]{1,10}/
AGE: /[1-9][0-9]?/
'''
REQUESTS = [
    ("Is the review 'I love it' positive, negative or neutral?", {"grammar": "choices"}),
    ("When did Apollo 11 land on the moon? Give the date.", {"regex": r"[12]\d{3}-[01]\d-[0-3]\d"}),
    ("Invent a person and give their name and age as JSON.", {"grammar": RECORD}),
    ("Say hello to a friend.", None),
]


def main() -> int:
    # Installed with this package, the plugin is loaded through its entry point; passing it
    # explicitly as well is harmless (one instance per engine acts).
    llm = LLM(model=str(test_model_path()), dtype="bfloat16", max_model_len=2048, enforce_eager=True)
    tok = llm.get_tokenizer()
    prompts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                       tokenize=False) for p, _ in REQUESTS]
    params = [SamplingParams(max_tokens=32, temperature=0.0, extra_args=extra) for _, extra in REQUESTS]
    for (prompt, extra), out in zip(REQUESTS, llm.generate(prompts, params, use_tqdm=False)):
        constraint = "unconstrained" if extra is None else next(iter(extra))
        print(f"{constraint:13} {out.outputs[0].text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
