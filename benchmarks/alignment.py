"""Grammar alignment: how close GCD, ASAp and exact samples come to the model conditioned on the
grammar, and what exact sampling costs against plain rejection sampling.

For small finite grammars the exact target is computable: every token sequence of the language
(within ``max_new_tokens``) is scored with the real test model (SmolLM2-135M-Instruct, fp32), one
model call per prefix. The samplers then run against those recorded distributions (the same
numbers the model gives, replayed, so 2,000 samples per method cost no further forward passes;
calls a sampler *would* make are counted). Per grammar and method it reports KL(empirical || exact)
and total variation after N = 1 ... n samples, a chi-square test of the exact samples at every N (passing means p > 1% / number of
checkpoints: a 1% family-wise level),
and forward passes per accepted sample for exact mode and for rejection sampling (sample freely,
stop at the first token the grammar forbids, keep grammatical outputs).

    python benchmarks/alignment.py            # 4 grammars, 2,000 samples per method
    python benchmarks/alignment.py --quick    # 3 small grammars, 400 samples

Writes one PNG per grammar under ``benchmarks/out/`` and prints a last JSON line with
``kl_gcd``, ``kl_asap``, ``kl_exact`` (means over grammars at the largest N), ``n_samples``,
``forward_passes_per_sample_exact`` and ``forward_passes_per_sample_rejection`` (medians over
grammars: the rejection cost spans orders of magnitude), plus the same figures per grammar.
"Forward passes" are next-token distributions consumed, rejected attempts included, as if none
were stored; ``model_calls_per_sample_exact`` is what exact mode really spends, since the trie
keeps the distributions of prefixes it has seen.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

from _common import fmt, print_load, print_result_line, print_table

from decoding.aligned import CausalLMScorer, prompt_ids
from decoding.hf import compile_for_tokenizer
from decoding.models import load_test_model
from grammars import Grammar
from samplers import AlignedSampler, LanguageTable, enumerate_language

GRAMMARS = {
    # The paper's skewed example: "00000" or five digits starting with 1 (17 strings).
    "binary": ('start: "00000" | "1" B B B B\nB: "0" | "1"', 7,
               "Generate a random binary string of length 5. Directly show the string without "
               "explanation."),
    # digit, operator, digit (243 strings).
    "arithmetic": ('start: D OP D\nD: "1".."9"\nOP: "+" | "-" | "*"', 5,
                   "Write one short arithmetic expression with two digits. Only the expression."),
    # A bounded string-manipulation DSL in the spirit of SyGuS (9 programs, 108 tokenizations).
    "string_dsl": ('start: F "(" A ")"\nF: "upper" | "lower" | "trim"\nA: "x" | "y" | "z"', 8,
                   "Apply one of the functions upper, lower or trim to one of the variables x, y or "
                   "z, for example lower(y). Only the code."),
    # A choice-heavy grammar (16 strings, 1,313 tokenizations).
    "choices": ('start: C " " N\nC: "red" | "blue" | "green" | "black"\n'
                'N: "cat" | "dog" | "fox" | "bird"', 8,
                "Name a colour and an animal, like 'red cat'. Only the two words."),
}
QUICK = ("binary", "arithmetic", "string_dsl")
METHODS = ("gcd", "asap", "exact")


def checkpoints(n: int) -> list[int]:
    return sorted({int(round(x)) for x in np.geomspace(1, n, 24)} | {n})


def chi_square_pvalue(table: LanguageTable, counts: np.ndarray) -> float:
    """Chi-square goodness of fit, cells with an expected count under 5 pooled into one."""
    n = counts.sum()
    expected = table.target() * n
    big = expected >= 5
    obs = list(counts[big]) + ([counts[~big].sum()] if (~big).any() else [])
    exp = list(expected[big]) + ([expected[~big].sum()] if (~big).any() else [])
    if len(obs) < 2:
        return 1.0
    return float(stats.chisquare(obs, exp).pvalue)


def rejection_forwards(table: LanguageTable, n_accept: int, seed: int, max_forwards: int) -> dict:
    """Plain rejection sampling on the recorded distributions: forward passes per accepted sample
    (measured, up to a budget) and its expected value computed from the table."""
    rng = np.random.default_rng(seed)
    forwards = accepted = 0
    eos = {y[-1] for y in table.sequences}
    while accepted < n_accept and forwards < max_forwards:
        prefix: tuple[int, ...] = ()
        while True:
            allowed, logps = table.prefixes[prefix]
            forwards += 1
            p = np.exp(logps.astype(np.float64))
            u = rng.random()
            if u >= p.sum():
                break  # a token the grammar forbids: reject
            token = int(allowed[min(int(np.searchsorted(np.cumsum(p), u, side="right")), len(p) - 1)])
            prefix = prefix + (token,)
            if token in eos:
                accepted += 1
                break
    # Expected forwards per attempt: the probability of reaching each prefix, summed.
    reach = {(): 0.0}
    expected_forwards = 0.0
    for prefix in sorted(table.prefixes, key=len):
        lp = reach.get(prefix)
        if lp is None:
            continue
        expected_forwards += math.exp(lp)
        allowed, logps = table.prefixes[prefix]
        for t, l in zip(allowed.tolist(), logps.tolist()):
            reach[prefix + (t,)] = lp + l
    z = math.exp(table.log_z)
    return {"measured": forwards / accepted if accepted else None, "accepted": accepted,
            "expected": expected_forwards / z, "z": z}


def run_method(table: LanguageTable, cg, mode: str, n: int, max_new_tokens: int, seed: int) -> dict:
    model = table.replay()
    sampler = AlignedSampler(cg, model, mode=mode, max_new_tokens=max_new_tokens, seed=seed)
    samples = sampler.samples(n)
    counts = np.zeros(len(table.sequences), dtype=np.int64)
    kl, tv, pvals, steps_curve = [], [], [], []
    grid = checkpoints(n)
    steps = 0
    g = 0
    for i, s in enumerate(samples, 1):
        counts[table.index[s.token_ids]] += 1
        steps += s.steps
        if i == grid[g]:
            kl.append(table.kl(counts))
            tv.append(table.tv(counts))
            pvals.append(chi_square_pvalue(table, counts))
            steps_curve.append(steps / i)
            g += 1
    return {"grid": grid, "kl": kl, "tv": tv, "p": pvals, "steps_per_sample": steps_curve,
            "model_calls": model.calls, "attempts": sum(s.attempts for s in samples),
            "theta_root": sampler.theta_root,
            "last_half_steps": sum(s.steps for s in samples[n // 2:]) / (n - n // 2)}


def plot(name: str, results: dict, rejection: dict, z: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for mode, r in results.items():
        ax1.plot(r["grid"], r["kl"], marker=".", label=mode)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("samples")
    ax1.set_ylabel("KL(empirical || exact)  [nats]")
    ax1.set_title(f"{name}: distance to the grammar-conditioned model")
    ax1.legend()
    ex = results["exact"]
    ax2.plot(ex["grid"], ex["steps_per_sample"], marker=".", label="exact (adaptive rejection)")
    ax2.axhline(rejection["expected"], color="k", linestyle="--", label="rejection sampling (expected)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("samples")
    ax2.set_ylabel("forward passes per accepted sample (cumulative)")
    ax2.set_title(f"Z_G = {z:.3g}")
    ax2.legend()
    fig.tight_layout()
    path = out / f"alignment_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 small grammars, 400 samples")
    parser.add_argument("--samples", type=int, default=None, help="samples per method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    n = args.samples or (400 if args.quick else 2000)
    names = QUICK if args.quick else tuple(GRAMMARS)
    args.out.mkdir(parents=True, exist_ok=True)
    print_load("start")
    model, tokenizer = load_test_model()
    per_grammar = {}
    rows = []
    for gi, name in enumerate(names):
        text, max_new, prompt = GRAMMARS[name]
        cg = compile_for_tokenizer(Grammar.from_lark(text), tokenizer, model=model)
        scorer = CausalLMScorer(model, prompt_ids(tokenizer, prompt))
        start = time.perf_counter()
        table = enumerate_language(cg, scorer, max_new_tokens=max_new)
        enum_s = time.perf_counter() - start
        z = math.exp(table.log_z)
        print(f"\n{name}: {len(table.sequences)} token sequences, {len(table.prefixes)} prefixes "
              f"scored in {enum_s:.1f} s; Z_G = {z:.4g}")
        results = {mode: run_method(table, cg, mode, n, max_new, args.seed + 100 * gi + k)
                   for k, mode in enumerate(METHODS)}
        rej = rejection_forwards(table, n_accept=min(n, 500), seed=args.seed + 7,
                                 max_forwards=2_000_000)
        png = plot(name, results, rej, z, args.out)
        ex = results["exact"]
        summary = {
            "sequences": len(table.sequences),
            "z_g": z,
            "kl_gcd": results["gcd"]["kl"][-1],
            "kl_asap": results["asap"]["kl"][-1],
            "kl_exact": ex["kl"][-1],
            "tv_gcd": results["gcd"]["tv"][-1],
            "tv_asap": results["asap"]["tv"][-1],
            "tv_exact": ex["tv"][-1],
            "exact_chi2_min_p": min(ex["p"]),
            # family-wise level 1% over the checkpoints (Bonferroni)
            "exact_chi2_pass_every_n": all(p > 0.01 / len(ex["p"]) for p in ex["p"]),
            "forward_passes_per_sample_exact": ex["steps_per_sample"][-1],
            "forward_passes_per_sample_exact_last_half": ex["last_half_steps"],
            "model_calls_per_sample_exact": ex["model_calls"] / n,
            "forward_passes_per_sample_rejection": rej["expected"],
            "forward_passes_per_sample_rejection_measured": rej["measured"],
            "theta_root_asap": results["asap"]["theta_root"],
        }
        per_grammar[name] = summary
        print(f"plot: {png}")
        print_table(["N"] + [f"KL {m}" for m in METHODS] + ["chi2 p exact", "fwd/sample exact"],
                    [[str(g)] + [fmt(results[m]["kl"][i], 4) for m in METHODS]
                     + [fmt(ex["p"][i], 3), fmt(ex["steps_per_sample"][i], 2)]
                     for i, g in enumerate(ex["grid"]) if i % 3 == 0 or g == n])
        rows.append([name, str(len(table.sequences)), fmt(z, 4), fmt(summary["kl_gcd"], 4),
                     fmt(summary["kl_asap"], 4), fmt(summary["kl_exact"], 4),
                     fmt(summary["kl_asap"] / summary["kl_gcd"], 2) if summary["kl_gcd"] else "-",
                     fmt(summary["forward_passes_per_sample_exact"], 2),
                     fmt(summary["forward_passes_per_sample_rejection"], 1),
                     fmt(summary["exact_chi2_min_p"], 3)])
    print(f"\n{n} samples per method; KL(empirical || exact) at N = {n}")
    print_table(["grammar", "seqs", "Z_G", "KL gcd", "KL asap", "KL exact", "asap/gcd",
                 "fwd/sample exact", "fwd/sample rejection", "min chi2 p"], rows)
    print_load("end")

    def mean(key):
        return float(np.mean([s[key] for s in per_grammar.values()]))

    def median(key):
        return float(np.median([s[key] for s in per_grammar.values()]))

    print_result_line({
        "kl_gcd": mean("kl_gcd"), "kl_asap": mean("kl_asap"), "kl_exact": mean("kl_exact"),
        "n_samples": n,
        "forward_passes_per_sample_exact": median("forward_passes_per_sample_exact"),
        "forward_passes_per_sample_rejection": median("forward_passes_per_sample_rejection"),
        "exact_chi2_pass_every_n": all(s["exact_chi2_pass_every_n"] for s in per_grammar.values()),
        "per_grammar": {k: {kk: (float(f"{v:.4g}") if isinstance(v, float) else v) for kk, v in s.items()}
                        for k, s in per_grammar.items()},
    })


if __name__ == "__main__":
    main()
