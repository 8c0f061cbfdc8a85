"""Study: conditioning away degeneracy (conditional beam search) on the test model.

Raw-text prompts (no chat template, as in the paper): plain MAP beam search (``length_penalty`` 0)
at beam 5 and a wide beam 10 against conditional beam search for :func:`non_degenerate`, with exact
attributes only and with a classifier trained on the model's own samples of other prompts. For each
prompt: is the output degenerate (fails the attribute, or nothing came back), and how does its
log-probability compare with the best of ``samples`` ancestral samples that satisfy the attribute.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from decoding.aligned import prompt_ids
from decoding.beam import conditional_beam_search, eos_token_ids, fit_attribute_classifier, sample_continuations
from samplers.attributes import Hypothesis, non_degenerate

DATA = Path(__file__).resolve().parent / "data" / "beam_prompts.json"
MAX_NEW_TOKENS = 48


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


def run(model, tok, *, quick: bool, out_dir: Path | None = None) -> dict:
    data = json.loads(DATA.read_text())
    prompts = data["test"][:12] if quick else data["test"]
    train = data["train"][:12] if quick else data["train"]
    samples = 4 if quick else 8
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
    clf, report = fit_attribute_classifier(model, tok, train, attribute, samples_per_prompt=samples,
                                           max_new_tokens=MAX_NEW_TOKENS, progress=False)
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
          f"classifier: {report.examples} train / {report.holdout_examples} held-out positions, "
          f"positive share {report.base_rate:.2f}, held-out Brier {report.holdout_brier:.3f} "
          f"(constant {report.base_rate * (1 - report.base_rate):.3f})")
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
        _figure(rows, out_dir / "selection_beam.png")
    return {
        "degenerate_rate_beam": rows["beam5"]["degenerate_rate"],
        "degenerate_rate_beam_wide": rows["beam10"]["degenerate_rate"],
        "degenerate_rate_conditional": rows["conditional"]["degenerate_rate"],
        "degenerate_rate_conditional_classifier": rows["conditional_classifier"]["degenerate_rate"],
        "beam_methods": rows,
        "beam_prompts": len(prompts),
        "classifier_holdout_brier": report.holdout_brier,
        "classifier_base_rate": report.base_rate,
        "beam_study_seconds": round(time.perf_counter() - t0, 1),
    }


def _figure(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(names, [rows[n]["degenerate_rate"] for n in names], color=["#bbb", "#999", "#4a8", "#286"])
    ax.set_ylabel("share of prompts degenerate")
    ax.set_ylim(0, 1)
    ax.set_title("Conditioning away degeneracy (SmolLM2-135M, raw prompts)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
