"""ADED draft-and-verify on the test model: the same greedy output as plain ``generate``, in fewer
forward passes. The tri-gram table is built from a text corpus (here this repository's README) and
keeps learning from each request.

    python examples/aded_speedup.py
    python examples/aded_speedup.py --corpus my_texts.txt --max-new-tokens 64
"""

import argparse
import time
from pathlib import Path

from decoding.drafting import aded_generate, build_trigram_table
from decoding.models import load_test_model

parser = argparse.ArgumentParser()
parser.add_argument("--corpus", default=str(Path(__file__).resolve().parent.parent / "README.md"))
parser.add_argument("--max-new-tokens", type=int, default=96)
args = parser.parse_args()

model, tok = load_test_model()
table = build_trigram_table(Path(args.corpus).read_text(encoding="utf-8").split("\n\n"), tok)
passage = ("The Apollo 11 mission landed the first humans on the Moon on July 20, 1969. Neil Armstrong "
           "and Buzz Aldrin spent about two and a quarter hours outside the lunar module Eagle, while "
           "Michael Collins stayed in orbit aboard the command module Columbia.")
inputs = tok.apply_chat_template(
    [{"role": "user", "content": f"Copy this passage exactly, then add one sentence about it:\n\n{passage}"}],
    add_generation_prompt=True, return_tensors="pt", return_dict=True)
n = inputs["input_ids"].shape[1]

start = time.perf_counter()
plain = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False)
plain_s = time.perf_counter() - start
stats = {}
start = time.perf_counter()
fast = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False,
                      custom_generate=aded_generate, trigram_table=table, draft_stats=stats)
fast_s = time.perf_counter() - start

print(tok.decode(fast[0, n:], skip_special_tokens=True))
print(f"identical to plain greedy: {bool((fast == plain).all())}")
print(f"plain {plain_s:.2f} s, ADED {fast_s:.2f} s: {plain_s / fast_s:.2f}x; "
      f"{stats['new_tokens'] / (stats['steps'] + 1):.2f} tokens per forward pass")
