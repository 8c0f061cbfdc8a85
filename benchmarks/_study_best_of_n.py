"""Study: inference-aware best-of-N on the test model (SmolLM2-135M-Instruct, CPU). At equal N,
how does the calibrated-and-transformed (tilted) selection fare against the reference policy,
beside raw-reward best-of-N?

Run it through ``benchmarks/selection.py`` (``--quick``: 6 + 6 prompts, pools of 32; full: 25 + 25
prompts, pools of 48).

Rewards (two families): ``arithmetic``, the graded :class:`decoding.rewards.ArithmeticVerifier`
(``1 / (1 + |error|)`` of the first integer, so wrong answers are not all tied) on generated
addition, subtraction and multiplication questions; ``facts``, MiniLM cosine similarity to a
reference answer (:class:`decoding.rewards.EmbeddingSimilarity`) on the questions of
``benchmarks/data/bon_questions.json``.

Per prompt, one pool of samples of the reference policy ``pi_ref`` (the model at temperature 1,
no truncation) is drawn in one ``generate`` call and scored once. The first ``m`` are the
calibration set, the rest the evaluation pool. For each N in 1, 2, 4, 8 and each of ``trials``
random draws, 2N distinct samples of the evaluation pool become N candidates and N fresh
reference samples (the candidates come from ``pi_ref`` too: this is inference-time selection,
not a trained policy). Methods:

* ``raw_bon``: the candidate with the highest raw reward. The calibrated ``best`` selection picks
  a candidate with the same reward in every draw (design notes 5.8, pitfall 1; checked here).
* ``calibrated_tilted``: pick candidate i with probability proportional to
  ``exp(phi(c_i) / beta)``, ``phi(u) = exp(t_N u)``, ``beta = 1`` (as
  :func:`samplers.best_of_n.select` does), ``c`` calibrated against the calibration set;
  ``t_N`` makes the tilted policy's KL (the section 5.2 item 6 integral) equal best-of-N's
  ``log N - (N - 1)/N``.
* ``raw_tilted``: probability proportional to ``exp(r_i / beta)`` on raw rewards, one ``beta`` per
  reward family and N, set so that its mean KL estimate equals ``calibrated_tilted``'s: the
  uncalibrated counterpart at equal KL (one temperature for all prompts, whose reward scales
  differ; that is what calibration is for).

Metrics, averaged per prompt and then over prompts (± standard error over prompts): the
inference-time win rate against the reference's own best-of-N (the chosen reward against the
maximum of the N fresh reference rewards: 1 win, 1/2 tie, 0 loss), the single-sample win rate
(against each of the N reference samples, i.e. the calibrated reward against held-out samples),
and KL to ``pi_ref`` (best-of-N: the bound ``log N - (N - 1)/N``; tilted: ``sum w log(N w)``).
Tilted methods are scored by their expectation over the weights (no sampling noise).

Read the numbers with this in mind: the candidates and the references come from the same policy,
so raw best-of-N against the reference's best-of-N is 1/2 in expectation (ties count half), and
no rule that picks among N candidates can beat the argmax at that game; tilted selection spends
less KL and wins less. Calibration earns its keep in the comparison between the two tilted
rules at equal KL, and in the per-prompt win-rate estimates (``c**N``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _common import fmt, print_table

from decoding.aligned import prompt_ids
from decoding.best_of_n import DecodingConfig, Reward, sample_texts, score_texts
from decoding.rewards import ArithmeticVerifier, EmbeddingSimilarity
from samplers.best_of_n import Transform, calibrate, select, tilted_mean_and_kl

N_VALUES = (1, 2, 4, 8)
METHODS = ("raw_bon", "calibrated_tilted", "raw_tilted")
QUESTIONS = Path(__file__).parent / "data" / "bon_questions.json"
TEMPERATURE = 1.0
MAX_NEW_TOKENS = {"arithmetic": 12, "facts": 16}


@dataclass(frozen=True)
class Size:
    """How much the study samples: prompts per reward family, pool per prompt (calibration set
    included), calibration samples ``m``, and resampled draws per prompt and N."""

    prompts_per_reward: int
    pool: int
    m: int
    trials: int


QUICK = Size(prompts_per_reward=6, pool=32, m=12, trials=200)
FULL = Size(prompts_per_reward=25, pool=48, m=24, trials=400)


@dataclass(frozen=True)
class Task:
    """One prompt with its reward."""

    family: str
    prompt: str
    reward: Reward


@dataclass(frozen=True)
class Draws:
    """One prompt and N: ``trials`` draws of N candidates and N fresh reference samples."""

    calibration: np.ndarray  # the calibration set's rewards
    candidates: np.ndarray   # (trials, N) raw rewards
    calibrated: np.ndarray   # (trials, N) against the calibration set
    win_bon: np.ndarray      # (trials, N) each candidate against the max of the N references
    win_single: np.ndarray   # (trials, N) each candidate against one reference (mean over the N)


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


def sample_pool(model, tokenizer, task: Task, size: int, seed: int) -> np.ndarray:
    """Rewards of ``size`` samples of the reference policy for the task's prompt."""
    config = DecodingConfig(TEMPERATURE, max_new_tokens=MAX_NEW_TOKENS[task.family])
    texts = sample_texts(model, tokenizer, prompt_ids(tokenizer, task.prompt), size, config,
                         batch_size=size, seed=seed)
    return score_texts(task.reward, task.prompt, texts, what="pool sample")


def beats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 where ``a > b``, 1/2 where equal, 0 where less."""
    return (a > b) + 0.5 * (a == b)


def draw(pool: np.ndarray, m: int, n: int, trials: int, rng: np.random.Generator) -> Draws:
    """Split the pool: calibration set, then ``trials`` random disjoint candidate/reference sets."""
    calibration, rest = pool[:m], pool[m:]
    if 2 * n > len(rest):
        raise ValueError(f"an evaluation pool of {len(rest)} cannot hold 2 x {n} samples")
    order = np.argsort(rng.random((trials, len(rest))), axis=1)[:, :2 * n]
    cand, refs = rest[order[:, :n]], rest[order[:, n:]]
    return Draws(calibration, cand, calibrate(cand.ravel(), calibration).reshape(cand.shape),
                 beats(cand, refs.max(axis=1, keepdims=True)),
                 beats(cand[:, :, None], refs[:, None, :]).mean(axis=2))


def best_scores(d: Draws, rng: np.random.Generator) -> dict[str, float]:
    """Raw best-of-N: win rates, its ``c**N`` estimate, and whether calibrated ``best`` agrees."""
    n = d.candidates.shape[1]
    top = np.argmax(d.candidates, axis=1)[:, None]  # any tied index has the same reward and wins
    win_bon = np.take_along_axis(d.win_bon, top, 1)
    selections = [select(row, d.calibration, rng=rng) for row in d.candidates]
    agrees = all(s.raw_reward == row.max() for s, row in zip(selections, d.candidates))
    return {"win_bon": float(win_bon.mean()),
            "win_single": float(np.take_along_axis(d.win_single, top, 1).mean()),
            "kl": math.log(n) - (n - 1) / n,
            "win_bon_estimate": float(np.mean([s.inference_win_rate for s in selections])),
            "ties_with_ref_bon": float(np.mean(win_bon == 0.5)),
            "agrees": float(agrees)}


def tilted_scores(d: Draws, logits: np.ndarray) -> dict[str, float]:
    """Expected win rates and mean KL estimate of choosing with probabilities
    ``softmax(logits)``."""
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    n = w.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(w > 0, w * np.log(n * w), 0.0).sum(axis=1)
    return {"win_bon": float((w * d.win_bon).sum(axis=1).mean()),
            "win_single": float((w * d.win_single).sum(axis=1).mean()),
            "kl": float(kl.mean())}


def exp_t_matching_bon(n: int) -> float:
    """``t`` such that ``pi_ref`` tilted by ``exp(phi(u))``, ``phi(u) = exp(t u)``, has
    best-of-N's KL, ``log n - (n - 1)/n``."""
    target = math.log(n) - (n - 1) / n
    if target == 0.0:
        return 0.0
    lo, hi = 0.0, 200.0
    for _ in range(60):
        mid = (lo + hi) / 2
        kl = tilted_mean_and_kl(Transform("exp", t=mid), points=20_001)[1]
        lo, hi = (mid, hi) if kl < target else (lo, mid)
    return (lo + hi) / 2


def beta_matching_kl(draws: Sequence[Draws], target: float) -> float:
    """One ``beta`` for all prompts such that the mean KL of ``softmax(r / beta)`` is ``target``
    (bisection on ``log beta``; the smallest tried when the target is out of reach)."""
    def mean_kl(log_beta: float) -> float:
        beta = math.exp(log_beta)
        return float(np.mean([tilted_scores(d, d.candidates / beta)["kl"] for d in draws]))

    lo, hi = math.log(1e-6), math.log(1e3)  # KL falls as beta grows
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_kl(mid) > target else (lo, mid)
    return math.exp(hi)


def evaluate_family(pools: Sequence[np.ndarray], size: Size, seed: int) -> dict:
    """Per method and N: mean and standard error over prompts of each metric."""
    rng = np.random.default_rng(seed)
    per_n = []
    for n in N_VALUES:
        draws = [draw(pool, size.m, n, size.trials, rng) for pool in pools]
        t = exp_t_matching_bon(n)
        calibrated = [tilted_scores(d, Transform("exp", t=t)(d.calibrated)) for d in draws]
        beta = beta_matching_kl(draws, float(np.mean([s["kl"] for s in calibrated])))
        per_n.append({"t": t, "beta": beta,
                      "raw_bon": [best_scores(d, rng) for d in draws],
                      "calibrated_tilted": calibrated,
                      "raw_tilted": [tilted_scores(d, d.candidates / beta) for d in draws]})
    return summarise(per_n)


def summarise(per_n: list[dict]) -> dict:
    """Mean and standard error over prompts, per method, metric and N (lists in N order)."""
    def stat(method: str, key: str, f: Callable[[np.ndarray], float]) -> list[float]:
        return [f(np.array([s[key] for s in entry[method]])) for entry in per_n]

    def se(x: np.ndarray) -> float:
        return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")

    out: dict = {"t": [e["t"] for e in per_n], "beta_raw_tilted": [e["beta"] for e in per_n]}
    for method in METHODS:
        keys = per_n[0][method][0].keys()
        out[method] = {key: stat(method, key, lambda x: float(x.mean())) for key in keys}
        for key in ("win_bon", "win_single"):
            out[method][key + "_se"] = stat(method, key, se)
    out["calibrated_minus_raw_tilted_win_bon"] = [
        _paired(e["calibrated_tilted"], e["raw_tilted"]) for e in per_n]
    out["calibrated_best_equals_raw_bon"] = all(x == 1.0 for x in out["raw_bon"].pop("agrees"))
    return out


def _paired(a: list[dict], b: list[dict]) -> dict[str, float]:
    diff = np.array([x["win_bon"] - y["win_bon"] for x, y in zip(a, b)])
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return {"mean": float(diff.mean()), "se": se}


def run(model, tokenizer, *, quick: bool, size: Size | None = None, seed: int = 0) -> dict:
    """Run the study (``size`` overrides the quick/full sizes) and print its table. The result's
    ``bon_winrate_raw`` and ``bon_winrate_calibrated`` are the inference-time win rates against
    the reference's best-of-N at the largest N for raw best-of-N and the calibrated tilted
    selection, averaged over both reward families; ``per_reward`` has every curve."""
    size = size or (QUICK if quick else FULL)
    start = time.perf_counter()
    families = {"arithmetic": arithmetic_tasks(size.prompts_per_reward),
                "facts": fact_tasks(size.prompts_per_reward)}
    per_reward = {}
    for f, (family, tasks) in enumerate(families.items()):
        pools = [sample_pool(model, tokenizer, task, size.pool, seed=seed + 1000 * f + i)
                 for i, task in enumerate(tasks)]
        per_reward[family] = evaluate_family(pools, size, seed=seed + f)
    result = headline(per_reward)
    result.update({"quick": quick, "n_values": list(N_VALUES),
                   "prompts": 2 * size.prompts_per_reward,
                   "pool": size.pool, "m": size.m, "trials": size.trials,
                   "temperature": TEMPERATURE, "seconds": time.perf_counter() - start,
                   "per_reward": per_reward})
    print_study_table(result)
    return result


def headline(per_reward: dict) -> dict:
    """The largest-N figures, averaged over reward families (equal numbers of prompts)."""
    def mean(method: str, key: str) -> float:
        return float(np.mean([r[method][key][-1] for r in per_reward.values()]))

    return {"bon_winrate_raw": mean("raw_bon", "win_bon"),
            "bon_winrate_calibrated": mean("calibrated_tilted", "win_bon"),
            "bon_winrate_raw_tilted": mean("raw_tilted", "win_bon"),
            "bon_winrate_raw_estimate": mean("raw_bon", "win_bon_estimate"),
            "winrate_vs_ref_raw": mean("raw_bon", "win_single"),
            "winrate_vs_ref_calibrated": mean("calibrated_tilted", "win_single"),
            "kl_raw": mean("raw_bon", "kl"),
            "kl_calibrated": mean("calibrated_tilted", "kl"),
            "kl_raw_tilted": mean("raw_tilted", "kl"),
            "calibrated_best_equals_raw_bon": all(r["calibrated_best_equals_raw_bon"]
                                                  for r in per_reward.values())}


def print_study_table(result: dict) -> None:
    """Win rate against the reference's best-of-N per N, and the largest N's other figures."""
    n_max = N_VALUES[-1]
    headers = (["reward / method"] + [f"vs BoN N={n}" for n in N_VALUES]
               + [f"vs 1 ref N={n_max}", f"KL N={n_max}"])
    rows = []
    for family, r in result["per_reward"].items():
        for method in METHODS:
            s = r[method]
            rows.append([f"{family} {method}"]
                        + [f"{fmt(w, 3)}±{fmt(e, 3)}"
                           for w, e in zip(s["win_bon"], s["win_bon_se"])]
                        + [fmt(s["win_single"][-1], 3), fmt(s["kl"][-1], 3)])
    print(f"\n{result['prompts']} prompts, pools of {result['pool']} (m = {result['m']}), "
          f"{result['trials']} draws per prompt and N; win rates ± standard error over prompts")
    print_table(headers, rows)
    for family, r in result["per_reward"].items():
        d = r["calibrated_minus_raw_tilted_win_bon"][-1]
        est = r["raw_bon"]["win_bon_estimate"][-1]
        ties = r["raw_bon"]["ties_with_ref_bon"][-1]
        print(f"{family}, N={n_max}: calibrated minus raw tilted (equal KL) {d['mean']:+.3f} ± "
              f"{d['se']:.3f}; raw best-of-N c**N estimate {est:.3f}; ties with the reference's "
              f"best-of-N {ties:.0%}")
    print(f"calibrated best == raw best-of-N in every draw: "
          f"{result['calibrated_best_equals_raw_bon']}; {result['seconds']:.0f} s")


def plot(result: dict, path: str | Path) -> Path:
    """A PNG: per reward family, the win rates against the reference's best-of-N and against one
    reference sample, and the KL, against N, for each method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(result["per_reward"])
    fig, axes = plt.subplots(len(families), 3, figsize=(13, 3.6 * len(families)), squeeze=False)
    for row, family in zip(axes, families):
        r = result["per_reward"][family]
        for method in METHODS:
            s = r[method]
            row[0].errorbar(N_VALUES, s["win_bon"], yerr=s["win_bon_se"], marker="o", capsize=3,
                            label=method)
            row[1].errorbar(N_VALUES, s["win_single"], yerr=s["win_single_se"], marker="o",
                            capsize=3, label=method)
            row[2].plot(N_VALUES, s["kl"], marker="o", label=method)
        row[0].axhline(0.5, color="grey", lw=0.8, ls=":")
        row[1].axhline(0.5, color="grey", lw=0.8, ls=":")
        titles = ("win rate vs reference best-of-N", "win rate vs one reference sample",
                  "KL to reference (estimate)")
        for ax, title in zip(row, titles):
            ax.set_title(f"{family}: {title}", fontsize=10)
            ax.set_xscale("log", base=2)
            ax.set_xticks(N_VALUES, [str(n) for n in N_VALUES])
            ax.set_xlabel("N")
        row[0].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
