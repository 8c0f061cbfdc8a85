"""Draw 1,000 grammar-aligned (ASAp) samples and 1,000 plain constrained (GCD) samples from the test
model, and plot how far each is from the model's distribution conditioned on the grammar.

    python examples/aligned_sampling.py                # writes aligned_sampling.png
    python examples/aligned_sampling.py --n 300 --out /tmp/plot.png

The grammar is the ASAp paper's skewed example: "00000", or a 5-digit binary string starting with 1.
Its language is small, so the exact target is computed too (every sequence scored by the model).
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from decoding.aligned import CausalLMScorer, prompt_ids, sample_aligned  # noqa: E402
from decoding.hf import compile_for_tokenizer  # noqa: E402
from decoding.models import load_test_model  # noqa: E402
from grammars import Grammar  # noqa: E402
from samplers import enumerate_language  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=1000)
parser.add_argument("--out", default="aligned_sampling.png")
args = parser.parse_args()

model, tokenizer = load_test_model()
grammar = Grammar.from_lark('start: "00000" | "1" B B B B\nB: "0" | "1"')
prompt = "Generate a random binary string of length 5. Directly show the string without explanation."

runs = {mode: sample_aligned(model, tokenizer, prompt, grammar, args.n, mode=mode,
                             max_new_tokens=7, seed=0)
        for mode in ("gcd", "asap")}

# The exact target: every token sequence of the language, scored by the model.
compiled = compile_for_tokenizer(grammar, tokenizer, model=model)
table = enumerate_language(compiled, CausalLMScorer(model, prompt_ids(tokenizer, prompt)),
                           max_new_tokens=7)
checkpoints = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if k <= args.n]
for mode, run in runs.items():
    kl = [table.kl(table.counts(s.token_ids for s in run.samples[:k])) for k in checkpoints]
    plt.plot(checkpoints, kl, marker="o", label=mode)
    print(f"{mode}: KL(empirical || exact) after {args.n} samples = {kl[-1]:.4f}; "
          f"most frequent: {max(set(s.text for s in run.samples), key=[s.text for s in run.samples].count)}")
plt.xscale("log")
plt.yscale("log")
plt.xlabel("samples")
plt.ylabel("KL(empirical || model conditioned on the grammar)")
plt.legend()
plt.savefig(args.out, dpi=100)
print(f"plot written to {args.out}")
