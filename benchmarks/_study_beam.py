"""Study: conditioning away degeneracy (conditional beam search) on the test model.

Raw-text prompts (no chat template, as in the paper): plain MAP beam search (``length_penalty`` 0)
at beam 5 and a wide beam 10 against conditional beam search for :func:`non_degenerate`, with exact
attributes only and with a classifier trained on the model's own samples of other prompts. For each
prompt: is the output degenerate (fails the attribute, or nothing came back), and how does its
log-probability compare with the best of ``samples`` ancestral samples that satisfy the attribute.

The classifier's training draws (``CLASSIFIER_SAMPLES`` per train prompt, 48 tokens, temperature 1)
are fixed data, cached in ``benchmarks/data/beam_classifier_samples.jsonl``. It reads the hidden
states at three layers and the share of the token budget used, is Platt-calibrated on a split of
the training prompts, and is scored on held-out prompts: the Brier skill score
``1 - Brier / Brier(constant)`` with a 95% bootstrap interval over those prompts, and a learning
curve (the same held-out prompts, a quarter, half and all of the training prompts).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from decoding.aligned import prompt_ids
from _study_cache import SampleCache

from decoding.beam import (attribute_examples, conditional_beam_search, default_layers,
                           eos_token_ids, fit_attribute_classifier, sample_continuations)
from samplers.attributes import Hypothesis, non_degenerate

DATA = Path(__file__).resolve().parent / "data" / "beam_prompts.json"
CLASSIFIER_DRAWS = Path(__file__).resolve().parent / "data" / "beam_classifier_samples.jsonl"
MAX_NEW_TOKENS = 48
CLASSIFIER_SAMPLES = 8
LEARNING_CURVE = (0.25, 0.5, 1.0)


def _holds(attribute, prompt: str, tokens: list[int], text: str, finished: bool) -> bool:
    state = attribute.initial_state(prompt)
    for t in tokens:
        state = attribute.advance(state, t)
    return attribute.holds(state, Hypothesis(tuple(tokens), text, finished))


def _logprob(model, ids: list[int], tokens: list[int], eos: int | None) -> float:
    seq = tokens + ([eos] if eos is not None else [])
    with torch.inference_mode():
        logits = model(torch.tensor([ids + seq])).logits[0, len(ids) - 1:-1].float()
    lp = torch.log_softmax(logits, -1)
    return float(lp[torch.arange(len(seq)), torch.tensor(seq)].sum())


def _best_sample(model, tok, prompt: str, attribute, n: int, eos: np.ndarray) -> float:
    """The highest log-probability among ``n`` samples that satisfy the attribute (-inf if none)."""
    ids = prompt_ids(tok, prompt, chat=False)
    best = float("-inf")
    for tokens, finished in sample_continuations(model, ids, n, MAX_NEW_TOKENS, 1.0, eos):
        text = tok.decode(tokens, skip_special_tokens=True)
        if _holds(attribute, prompt, tokens, text, finished):
            best = max(best, _logprob(model, ids, tokens, int(eos[0])))
    return best


def _degenerate(results, prompts, attribute) -> list[bool]:
    return [r.text is None or not _holds(attribute, p, r.tokens, r.text, r.finished)
            for r, p in zip(results, prompts)]


def classifier_draws(model, tok, prompts: list[str], eos: np.ndarray) -> list[list[tuple[list[int], bool]]]:
    """``CLASSIFIER_SAMPLES`` continuations per prompt, from the cache or sampled and cached."""
    cache = SampleCache(CLASSIFIER_DRAWS)
    draws = []
    for i, prompt in enumerate(prompts):
        key = {"prompt": prompt, "n": CLASSIFIER_SAMPLES, "seed": i, "temperature": 1.0,
               "max_new_tokens": MAX_NEW_TOKENS}

        def make(prompt=prompt, seed=i):
            torch.manual_seed(seed)
            return sample_continuations(model, prompt_ids(tok, prompt, chat=False),
                                        CLASSIFIER_SAMPLES, MAX_NEW_TOKENS, 1.0, eos)
        draws.append([(list(t), bool(f)) for t, f in cache.get_or_make(key, make)])
    return draws


def run(model, tok, *, quick: bool, out_dir: Path | None = None) -> dict:
    data = json.loads(DATA.read_text())
    prompts = data["test"][:8] if quick else data["test"][:20]
    train = data["train"][:12] if quick else data["train"]
    samples = 2 if quick else 4
    attribute = non_degenerate()
    eos = eos_token_ids(model, tok)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    methods, times = {}, {}
    for beams in (5, 10):
        t = time.perf_counter()
        methods[f"beam{beams}"] = conditional_beam_search(model, tok, prompts, num_beams=beams,
                                                         max_new_tokens=MAX_NEW_TOKENS)
        times[f"beam{beams}"] = time.perf_counter() - t
    t = time.perf_counter()
    methods["conditional"] = conditional_beam_search(model, tok, prompts, attribute, num_beams=5,
                                                     max_new_tokens=MAX_NEW_TOKENS, strict=False)
    times["conditional"] = time.perf_counter() - t
    t = time.perf_counter()
    examples = attribute_examples(model, tok, train, attribute, classifier_draws(model, tok, train, eos),
                                  layers=default_layers(model))
    curve = []
    for fraction in LEARNING_CURVE:
        clf, report = fit_attribute_classifier(model, tok, train, attribute, examples=examples,
                                               max_new_tokens=MAX_NEW_TOKENS,
                                               train_fraction=fraction, progress=False)
        curve.append({"train_fraction": fraction, "train_positions": report.examples,
                      "brier_skill": report.brier_skill, "low": report.brier_skill_low,
                      "high": report.brier_skill_high})
    times["classifier_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    methods["conditional_classifier"] = conditional_beam_search(
        model, tok, prompts, attribute, num_beams=5, max_new_tokens=MAX_NEW_TOKENS, classifier=clf,
        strict=False)
    times["conditional_classifier"] = time.perf_counter() - t
    t = time.perf_counter()
    best_sample = np.array([_best_sample(model, tok, p, attribute, samples, eos) for p in prompts])
    times["samples"] = time.perf_counter() - t

    rows = {}
    for name, results in methods.items():
        degenerate = _degenerate(results, prompts, attribute)
        lp = np.array([r.logprob for r in results])
        ok = np.isfinite(best_sample) & np.isfinite(lp)
        rows[name] = {
            "degenerate_rate": float(np.mean(degenerate)),
            "empty_rate": float(np.mean([r.text is not None and not r.text.strip() for r in results])),
            "failed": int(sum(r.text is None for r in results)),
            "median_logprob": float(np.median(lp[np.isfinite(lp)])) if np.isfinite(lp).any() else None,
            "beats_best_sample": float(np.mean(lp[ok] >= best_sample[ok])) if ok.any() else None,
            "seconds": round(times[name], 1),
        }
    print(f"\n[conditional beam search] {len(prompts)} raw prompts, max_new_tokens {MAX_NEW_TOKENS}; "
          f"classifier (layers {clf.layers}, l2 {report.l2:g}, temperature {report.temperature:.2f}): "
          f"{report.examples} train / {report.holdout_examples} held-out positions "
          f"({report.holdout_groups} held-out prompts), positive share {report.base_rate:.2f}, "
          f"held-out Brier {report.holdout_brier:.4f} against the constant's "
          f"{report.holdout_constant_brier:.4f}: skill {report.brier_skill:+.3f} "
          f"[{report.brier_skill_low:+.3f}, {report.brier_skill_high:+.3f}]")
    print("learning curve (Brier skill on the same held-out prompts): " + "; ".join(
        f"{c['train_positions']} positions {c['brier_skill']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]"
        for c in curve))
    print(f"{'method':24} {'degenerate':>10} {'empty':>6} {'failed':>6} {'median logp':>11} "
          f"{'>= best of ' + str(samples) + ' samples':>22} {'s':>6}")
    for name, row in rows.items():
        med = "-" if row["median_logprob"] is None else f"{row['median_logprob']:.2f}"
        beats = "-" if row["beats_best_sample"] is None else f"{row['beats_best_sample']:.2f}"
        print(f"{name:24} {row['degenerate_rate']:10.2f} {row['empty_rate']:6.2f} {row['failed']:6d} "
              f"{med:>11} {beats:>22} {row['seconds']:6.1f}")
    finite = best_sample[np.isfinite(best_sample)]
    print(f"best satisfying sample: median logp {np.median(finite):.2f} "
          f"({len(finite)}/{len(prompts)} prompts had one)")
    for name in ("beam5", "conditional", "conditional_classifier"):
        print(f"  e.g. {name}: {methods[name][0].text!r}")
    if out_dir is not None:
        _figure(rows, curve, out_dir / "selection_beam.png")
    return {
        "degenerate_rate_beam": rows["beam5"]["degenerate_rate"],
        "degenerate_rate_beam_wide": rows["beam10"]["degenerate_rate"],
        "degenerate_rate_conditional": rows["conditional"]["degenerate_rate"],
        "degenerate_rate_conditional_classifier": rows["conditional_classifier"]["degenerate_rate"],
        "beam_methods": rows,
        "beam_prompts": len(prompts),
        "classifier_holdout_brier": report.holdout_brier,
        "classifier_constant_brier": report.holdout_constant_brier,
        "classifier_base_rate": report.base_rate,
        "classifier_brier_skill": report.brier_skill,
        "classifier_brier_skill_ci_low": report.brier_skill_low,
        "classifier_brier_skill_ci_high": report.brier_skill_high,
        "classifier_learning_curve": curve,
        "classifier_failed_prompts": rows["conditional_classifier"]["failed"],
        "conditional_failed_prompts": rows["conditional"]["failed"],
        "beam_study_seconds": round(time.perf_counter() - t0, 1),
    }


def _figure(rows: dict, curve: list[dict], path: Path) -> None:
    """Degenerate share per method, and the classifier's learning curve with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, (ax, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax.bar(names, [rows[n]["degenerate_rate"] for n in names], color=["#bbb", "#999", "#4a8", "#286"])
    ax.set_ylabel("share of prompts degenerate")
    ax.set_ylim(0, 1)
    ax.set_title("Conditioning away degeneracy (SmolLM2-135M, raw prompts)", fontsize=10)
    x = [c["train_positions"] for c in curve]
    skill = [c["brier_skill"] for c in curve]
    right.errorbar(x, skill, yerr=[[s - c["low"] for s, c in zip(skill, curve)],
                                   [c["high"] - s for s, c in zip(skill, curve)]],
                   marker="o", capsize=3)
    right.axhline(0.0, color="grey", lw=0.8, ls=":")
    right.set_xlabel("training prefix positions")
    right.set_ylabel("held-out Brier skill score")
    right.set_title("attribute classifier learning curve (held-out prompts)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
