"""Study: InfAlign's inference-time win rate against KL on the test model (SmolLM2-135M-Instruct).
Does calibrating the reward and transforming it (``exp(t c)`` for best-of-N, ``-exp(-t c)`` for
best-of-N jailbreaking) buy a higher inference-time win rate at the same KL than tilting by the
raw reward?

Run it through ``benchmarks/selection.py`` (full: 100 + 100 prompts; ``--quick``: 20 + 20, the
first prompts of the same cached pools; both with pools of 48 samples, four cached chunks of 12).

Data (fixed, cached in ``benchmarks/data/bon_samples.jsonl``; missing pools are sampled and
appended): per prompt one pool of ``P`` samples of the reference policy ``pi_ref`` (the model at
temperature 1, no truncation). Two reward kinds: ``arithmetic``, the exact checker
:class:`decoding.rewards.ArithmeticVerifier` graded by the error of the first integer
(``1 / (1 + |error|)``) on generated +, -, * questions; ``facts``, MiniLM cosine similarity to a
reference answer (:class:`decoding.rewards.EmbeddingSimilarity`) on ``bon_questions.json``.

Method (:mod:`samplers.frontier`): the pool stands for ``pi_ref`` (uniform over it) and a policy
``pi`` is the pool tilted by ``w ∝ exp(score / beta)``; its KL is ``sum w log(P w)`` and its
inference-time win rate is exact over the pool: best of ``N`` draws of ``pi`` against best of
``N`` of ``pi_ref`` (jailbreaking: the worst of ``N`` against the worst of ``N``), ties half.
Scores: ``raw`` (the reward itself), ``calibrated_identity`` (``c``, the leave-one-out mid-rank
of the reward in its pool) and ``calibrated_exp`` / ``calibrated_neg_exp`` (``exp(t c)`` /
``-exp(-t c)``, ``t`` chosen per KL from the continuous uniform model alone, never from these
samples). Each method has one ``beta`` per reward kind and KL target, set so that the mean KL over
the prompts is the target: a frontier is a sweep of that knob over a KL grid, all arithmetic over
the same samples. Intervals: percentile bootstrap over prompts (2,000 resamples; the betas stay
fixed). ``bon_frontier_gain``: the mean over the KL grid of calibrated-exp minus raw win rate,
over all prompts of both kinds; the claim counts as reproduced where, at every grid point, the
calibrated-exp interval lies above the raw one (``bon_frontier_reproduced``, the issue's test);
``bon_frontier_paired_above`` is the paired test, the interval of the per-prompt difference above
0 at every grid point (the methods share their prompts, so this is the tighter, fair one).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _common import fmt, print_table
from _study_cache import SampleCache

from decoding.aligned import prompt_ids
from decoding.best_of_n import DecodingConfig, Reward, sample_texts, score_texts
from decoding.rewards import ArithmeticVerifier, EmbeddingSimilarity
from samplers.best_of_n import Transform, calibrate_leave_one_out, select
from samplers.frontier import (beta_for_kl, inference_win_rate, pool_kl, tilt_weights,
                               uniform_model_transform)
from samplers.intervals import bootstrap_mean

DATA = Path(__file__).parent / "data"
QUESTIONS = DATA / "bon_questions.json"
SAMPLES = DATA / "bon_samples.jsonl"
TEMPERATURE = 1.0
MAX_NEW_TOKENS = {"arithmetic": 8, "facts": 12}
N = 4  # the inference-time procedure: best (worst) of 4
KL_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2)
MODES = {"best": ("calibrated_exp", "calibrated_identity", "raw"),
         "worst": ("calibrated_neg_exp", "calibrated_identity", "raw")}


@dataclass(frozen=True)
class Size:
    """Prompts per reward kind and samples per prompt."""

    prompts_per_reward: int
    pool: int


CHUNK = 12  # samples per cache entry
QUICK = Size(prompts_per_reward=20, pool=48)
FULL = Size(prompts_per_reward=100, pool=48)


@dataclass(frozen=True)
class Task:
    """One prompt with its reward."""

    family: str
    prompt: str
    reward: Reward


def arithmetic_tasks(count: int) -> list[Task]:
    """``count`` questions with small numbers, cycling through +, - and * (fixed seed)."""
    rng = np.random.default_rng(0)
    tasks = []
    for i in range(count):
        op = "+-*"[i % 3]
        a, b = (int(x) for x in rng.integers(2, 13 if op == "*" else 51, size=2))
        a, b = (b, a) if op == "-" and a < b else (a, b)
        tasks.append(Task("arithmetic", f"What is {a} {op} {b}? Answer with the number only.",
                          ArithmeticVerifier(graded=True)))
    return tasks


def fact_tasks(count: int) -> list[Task]:
    """The first ``count`` questions of ``bon_questions.json``, scored against their references."""
    questions = json.loads(QUESTIONS.read_text())
    if count > len(questions):
        raise ValueError(f"{QUESTIONS} has {len(questions)} questions, {count} asked for")
    return [Task("facts", f"{q['question']} Answer in one short sentence.",
                 EmbeddingSimilarity(q["reference"])) for q in questions[:count]]


def tasks(size: Size) -> dict[str, list[Task]]:
    """The prompts of both reward kinds."""
    return {"arithmetic": arithmetic_tasks(size.prompts_per_reward),
            "facts": fact_tasks(size.prompts_per_reward)}


_CACHE: SampleCache | None = None


def pool_texts(model, tokenizer, task: Task, size: int, index: int) -> list[str]:
    """``size`` samples of ``pi_ref`` for the task's prompt (the ``index``-th of its kind): chunks
    of ``CHUNK`` samples, each from the cache or sampled and cached (chunk ``j`` has its own seed,
    so a larger pool keeps the samples of a smaller one)."""
    global _CACHE
    if size % CHUNK:
        raise ValueError(f"a pool size must be a multiple of {CHUNK} (got {size})")
    _CACHE = _CACHE or SampleCache(SAMPLES)
    config = DecodingConfig(TEMPERATURE, max_new_tokens=MAX_NEW_TOKENS[task.family])
    texts: list[str] = []
    for chunk in range(size // CHUNK):
        seed = 1000 * list(MAX_NEW_TOKENS).index(task.family) + index + 100_000 * chunk
        key = {"prompt": task.prompt, "n": CHUNK, "seed": seed, "temperature": TEMPERATURE,
               "max_new_tokens": config.max_new_tokens}
        texts += _CACHE.get_or_make(key, lambda: sample_texts(
            model, tokenizer, prompt_ids(tokenizer, task.prompt), CHUNK, config,
            batch_size=CHUNK, seed=seed))
    return texts


def method_scores(method: str, rewards: np.ndarray, calibrated: np.ndarray,
                  kl: float) -> np.ndarray:
    """The tilt scores of every pool (rows) for one method at a KL target."""
    if method == "raw":
        return rewards
    if method == "calibrated_identity":
        return calibrated
    name = "exp" if method == "calibrated_exp" else "neg_exp"
    return uniform_model_transform(name, N, kl)(calibrated)


def frontier(rewards: np.ndarray, mode: str) -> dict:
    """Per method and KL target: beta, the per-prompt inference-time win rates (and n = 1 win
    rates), over pools ``rewards`` (prompts x P)."""
    calibrated = np.stack([calibrate_leave_one_out(r) for r in rewards])
    ceiling = float(np.mean(pool_kl(tilt_weights(rewards, 1e-9 * np.abs(rewards).max()))))
    grid = [k for k in KL_GRID if k <= 0.9 * ceiling]
    out: dict = {"kl": grid, "kl_ceiling": ceiling, "methods": {}}
    for method in MODES[mode]:
        rows = {"beta": [], "t": [], "win": [], "win_single": []}
        for kl in grid:
            scores = method_scores(method, rewards, calibrated, kl)
            beta = beta_for_kl(list(scores), kl)
            w = tilt_weights(scores, beta)
            rows["beta"].append(beta)
            rows["t"].append(None if method in ("raw", "calibrated_identity")
                             else uniform_model_transform(
                                 "exp" if mode == "best" else "neg_exp", N, kl).t)
            rows["win"].append([inference_win_rate(wi, ri, N, mode) for wi, ri in zip(w, rewards)])
            rows["win_single"].append([inference_win_rate(wi, ri, 1, mode)
                                       for wi, ri in zip(w, rewards)])
        rows["win"] = np.array(rows["win"]).T            # (prompts, grid)
        rows["win_single"] = np.array(rows["win_single"]).T
        out["methods"][method] = rows
    return out


def summarise(front: dict, mode: str) -> dict:
    """Means and bootstrap intervals per method and KL, the gain of the calibrated transform
    over raw (per prompt, averaged over the grid) and whether the intervals separate."""
    top, _, raw = MODES[mode]
    summary: dict = {"kl": front["kl"], "kl_ceiling": front["kl_ceiling"], "methods": {}}
    for method, rows in front["methods"].items():
        mean, low, high = bootstrap_mean(rows["win"])
        summary["methods"][method] = {"win": mean.tolist(), "low": low.tolist(),
                                      "high": high.tolist(), "beta": rows["beta"], "t": rows["t"],
                                      "win_single": rows["win_single"].mean(0).tolist()}
    a, b = summary["methods"][top], summary["methods"][raw]
    summary["separated"] = bool(all(lo > hi for lo, hi in zip(a["low"], b["high"])))
    difference = front["methods"][top]["win"] - front["methods"][raw]["win"]
    _, paired_low, _ = bootstrap_mean(difference)
    summary["paired_low"] = paired_low.tolist()
    summary["separated_paired"] = bool((paired_low > 0).all())
    summary["gain_per_prompt"] = difference.mean(1)
    return summary


def run(model, tokenizer, *, quick: bool, size: Size | None = None) -> dict:
    """Sample (or read) the pools, trace the frontiers of both modes per reward kind, print them
    and return the headline figures (``per_reward`` has every curve)."""
    size = size or (QUICK if quick else FULL)
    start = time.perf_counter()
    per_reward, agrees = {}, True
    for family, family_tasks in tasks(size).items():
        rewards = np.stack([score_texts(task.reward, task.prompt,
                                        pool_texts(model, tokenizer, task, size.pool, i),
                                        what="pool sample")
                            for i, task in enumerate(family_tasks)])
        rng = np.random.default_rng(0)
        agrees &= all(select(r, mode="best", rng=rng).raw_reward == r.max() for r in rewards)
        per_reward[family] = {mode: summarise(frontier(rewards, mode), mode) for mode in MODES}
    result = headline(per_reward)
    result.update({"quick": quick, "bon_n": N, "prompts": 2 * size.prompts_per_reward,
                   "pool": size.pool, "temperature": TEMPERATURE,
                   "calibrated_best_equals_raw_bon": bool(agrees),
                   "seconds": time.perf_counter() - start, "per_reward": per_reward})
    print_study_table(result)
    return result


def _at_bon_kl(summary: dict, method: str, key: str = "win") -> float:
    """A method's figure at the grid KL nearest best-of-N's own KL, ``log N - (N - 1)/N``."""
    target = math.log(N) - (N - 1) / N
    i = int(np.argmin([abs(k - target) for k in summary["kl"]]))
    return summary["methods"][method][key][i]


def headline(per_reward: dict) -> dict:
    """The issue's keys: the gains over all prompts with intervals, and the older figures at
    best-of-N's KL, averaged over the reward kinds."""
    out: dict = {}
    for mode, name in (("best", "bon_frontier_gain"), ("worst", "jailbreak_frontier_gain")):
        gains = np.concatenate([r[mode]["gain_per_prompt"] for r in per_reward.values()])
        mean, low, high = bootstrap_mean(gains)
        out.update({name: mean, f"{name}_ci_low": low, f"{name}_ci_high": high})
        out[name.replace("gain", "reproduced")] = all(r[mode]["separated"]
                                                      for r in per_reward.values())
        out[name.replace("gain", "paired_above")] = all(r[mode]["separated_paired"]
                                                        for r in per_reward.values())
    best = [r["best"] for r in per_reward.values()]

    def mean(method: str, key: str = "win") -> float:
        return float(np.mean([_at_bon_kl(s, method, key) for s in best]))

    kl = float(np.mean([s["kl"][int(np.argmin([abs(k - math.log(N) + (N - 1) / N)
                                                for k in s["kl"]]))] for s in best]))
    out.update({"bon_winrate_raw": mean("raw"), "bon_winrate_calibrated": mean("calibrated_exp"),
                "bon_winrate_calibrated_identity": mean("calibrated_identity"),
                "winrate_vs_ref_raw": mean("raw", "win_single"),
                "winrate_vs_ref_calibrated": mean("calibrated_exp", "win_single"),
                "kl_raw": kl, "kl_calibrated": kl})
    return out


def print_study_table(result: dict) -> None:
    """Win rate (95% interval) per method along the KL grid, per reward kind and mode."""
    print(f"\n[best-of-N] {result['prompts']} prompts, pools of {result['pool']} samples, "
          f"N = {N}; inference-time win rate against pi_ref's, 95% bootstrap interval over prompts")
    for family, modes in result["per_reward"].items():
        for mode, s in modes.items():
            headers = [f"{family} / {'best' if mode == 'best' else 'worst'}-of-{N}"] + [
                f"KL {k:g}" for k in s["kl"]]
            rows = [[m] + [f"{fmt(w, 3)} [{fmt(lo, 3)}, {fmt(hi, 3)}]"
                           for w, lo, hi in zip(v["win"], v["low"], v["high"])]
                    for m, v in s["methods"].items()]
            print_table(headers, rows)
            print(f"  gain (transform - raw, mean over grid) "
                  f"{float(np.mean(s['gain_per_prompt'])):+.4f}; intervals separate at every KL: "
                  f"{s['separated']}; paired difference's interval above 0 at every KL: "
                  f"{s['separated_paired']} (lows {', '.join(fmt(x, 3) for x in s['paired_low'])})"
                  f"; KL ceiling {s['kl_ceiling']:.2f}")
    for key in ("bon_frontier_gain", "jailbreak_frontier_gain"):
        print(f"{key}: {result[key]:+.4f} [{result[key + '_ci_low']:+.4f}, "
              f"{result[key + '_ci_high']:+.4f}]; reproduced (marginal intervals apart at "
              f"every KL): {result[key.replace('gain', 'reproduced')]}; paired difference above "
              f"0 at every KL: {result[key.replace('gain', 'paired_above')]}")
    print(f"calibrated best == raw best-of-N on every pool: "
          f"{result['calibrated_best_equals_raw_bon']}; {result['seconds']:.0f} s")


def plot(result: dict, path: str | Path) -> Path:
    """A PNG: per reward kind (rows), the best-of-N and the jailbreak frontiers (win rate against
    KL, 95% bands) of each method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(result["per_reward"])
    fig, axes = plt.subplots(len(families), 2, figsize=(11, 3.8 * len(families)), squeeze=False)
    for row, family in zip(axes, families):
        for ax, mode in zip(row, MODES):
            s = result["per_reward"][family][mode]
            for method, v in s["methods"].items():
                line, = ax.plot(s["kl"], v["win"], marker="o", ms=3, label=method)
                ax.fill_between(s["kl"], v["low"], v["high"], color=line.get_color(), alpha=0.2)
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")
            what = f"best-of-{N}" if mode == "best" else f"worst-of-{N} (jailbreak)"
            ax.set_title(f"{family}: {what} win rate vs pi_ref, {result['prompts'] // 2} prompts",
                         fontsize=10)
            ax.set_xlabel("KL(pi || pi_ref)")
            ax.set_ylabel("inference-time win rate")
            ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
