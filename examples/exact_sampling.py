"""Exact samples of the test model conditioned on a grammar (adaptive rejection), and how the
acceptance rate rises as the sample trie learns where the grammar's mass lies.

    python examples/exact_sampling.py            # 300 samples
    python examples/exact_sampling.py --n 50
"""

import argparse
from collections import Counter

from decoding.aligned import sample_aligned
from decoding.models import load_test_model

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=300)
args = parser.parse_args()

model, tok = load_test_model()
grammar = 'start: D OP D\nD: "1".."9"\nOP: "+" | "-" | "*"'
run = sample_aligned(model, tok, "Write one short arithmetic expression with two digits.", grammar,
                     args.n, mode="exact", max_new_tokens=5, seed=0, progress=False)

half = args.n // 2
first = sum(s.attempts for s in run.samples[:half]) / half
last = sum(s.attempts for s in run.samples[half:]) / (args.n - half)
print("most frequent:", ", ".join(f"{t} ({c})" for t, c in Counter(s.text for s in run.samples).most_common(5)))
print(f"attempts per sample: first half {first:.1f}, second half {last:.1f}")
print(f"theta(root) = {run.theta_root:.3g} (the model's probability of a grammatical answer, "
      f"bounded from above); {run.forward_passes} forward passes for {args.n} exact samples")
