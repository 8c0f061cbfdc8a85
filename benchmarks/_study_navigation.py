"""In-context navigation against the usual ways to get many answers: distinct correct list items in
``k`` attempts (``k`` = 5, 10, 20, 30), on list questions with known answer sets: the 7 of
``benchmarks/data/list_questions.json`` (the ones the method was developed on, reported as their
own row) and the 18 of ``list_questions_new.json`` (written afterwards, never tuned on).

An attempt is one completed item, whatever it holds (a repeat, a wrong item, no item). Methods:

- ``icn``: :func:`samplers.navigation.navigate` with one new item per round (the list in the
  prompt grows after each item), greedy completions from the plain prompt, and drift control: an
  item the format check (:func:`samplers.navigation.plausible_item`) refuses, a completion
  without an item or a repeat sends the next attempt back to the best untried first token of the
  plain prompt;
- ``icn_anchored``: the same with each round's ranking anchored to the plain prompt's
  (:func:`samplers.navigation.anchored_ranking`: first tokens ordered by the sum of their
  positions in both), a second drift control tried here; measured, it does not help;
- ``first_token``: the reference's baseline, the top ``k`` distinct first tokens of the plain
  prompt, each greedily completed (``navigate=False``);
- ``sampling``: ``k`` independent samples of the plain prompt at temperature 1 (no top-k/top-p);
- ``beam``: beam search with 30 beams returning 30 sequences, no length penalty, a beam ending
  at any token holding the closing quote; ``k`` < 30 takes the ``k`` most likely of them (one
  search instead of one per ``k``: on this CPU the searches would dominate the run).

ICN and first-token attempts are sequential in the ranking, so the first 10 attempts of the 30
are exactly a 10-attempt run; sampling's first ``k`` samples are ``k`` independent samples.
Items count as correct when their normalised form (case folded, accents, parentheses and
punctuation removed, a leading "the" dropped) is an answer or an alias. Completions are capped at
12 tokens (list items are short; one not closed by then counts as no item). Intervals: 95%
percentile bootstrap over questions. Each question's items are cached per method in
``benchmarks/data/navigation_items.jsonl`` (committed: the fixed data of the study; the key holds
the method's ``VERSIONS`` entry, so changing one method re-runs only that one). Run it through
``benchmarks/selection.py``, which writes the figure.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from _common import fmt, print_table
from _study_cache import SampleCache

from decoding.navigation import HFTextModel
from samplers.intervals import bootstrap_mean
from samplers.navigation import ITEM_STOP, extract_item, list_prompt, navigate

DATA = Path(__file__).resolve().parent / "data"
QUESTION_SETS = {"new": DATA / "list_questions_new.json", "original": DATA / "list_questions.json"}
CACHE = DATA / "navigation_items.jsonl"
KS = (5, 10, 20, 30)
QUICK_QUESTIONS = {"new": ("days_of_week", "zodiac_signs"),
                   "original": ("planets", "south_american_countries")}
METHODS = ("icn", "icn_anchored", "first_token", "sampling", "beam")
BEAM = 30  # beams (and sequences returned)
MAX_ITEM_TOKENS = 12
SEED = 0
# bump a method's entry when it changes, so its cached items are not reused
VERSIONS = {"icn": "icn-restart-1", "icn_anchored": "icn-anchor-1", "first_token": "1",
            "sampling": "1", "beam": "1"}


def answer_key(text: str) -> str:
    """The form items and answers are compared in.

    Example:
        >>> answer_key("  The Perú (country)!"), answer_key("Australia/Oceania")
        ('peru', 'australia oceania')
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\([^)]*\)", " ", text)
    words = re.sub(r"[^\w\s]|_", " ", text).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


def answer_index(question: dict) -> dict[str, str]:
    """Normalised answers and aliases, each mapped to its answer."""
    index = {answer_key(a): a for a in question["answers"]}
    for answer, aliases in question.get("aliases", {}).items():
        index.update({answer_key(alias): answer for alias in aliases})
    return index


def load_questions(path: Path, names: Sequence[str] | None = None) -> list[dict]:
    """The list questions of one file (those named, in that order; all of them for ``None``)."""
    questions = {q["name"]: q for q in json.loads(path.read_text())}
    return [questions[n] for n in names] if names is not None else list(questions.values())


def score(items: Sequence[str | None], index: dict[str, str]) -> dict[str, int]:
    """Distinct correct answers, distinct items and attempts without an item."""
    found = [item for item in items if item is not None]
    correct = {index[answer_key(item)] for item in found if answer_key(item) in index}
    return {"distinct_correct": len(correct),
            "distinct_items": len({answer_key(item) for item in found}),
            "no_item": len(items) - len(found)}


def attempts(lm: HFTextModel, instruction: str, method: str) -> list[str | None]:
    """One method's items (``None``: no item) in attempt order (beam: the 30 sequences, most
    likely first)."""
    k_max = max(KS)
    if method in ("icn", "icn_anchored", "first_token"):
        icn = method != "first_token"
        result = navigate(lm, instruction, rounds=k_max if icn else 1,
                          per_round=1 if icn else k_max, navigate=icn,
                          anchor=method == "icn_anchored", max_attempts=k_max,
                          max_new_tokens=MAX_ITEM_TOKENS)
        return [a.item for a in result.attempts]
    plain = list_prompt(instruction, [])
    if method == "sampling":
        torch.manual_seed(SEED)
        return [extract_item(s) for s in lm.complete([plain] * k_max, ITEM_STOP, MAX_ITEM_TOKENS,
                                                      greedy=False)]
    return [extract_item(b) for b in lm.beam_search(plain, BEAM, ITEM_STOP,
                                                    MAX_ITEM_TOKENS)]


def first_k(items: dict[str, list], method: str, k: int) -> list:
    """A method's first ``k`` attempts (beam: the ``k`` most likely sequences of the search)."""
    return items[method][:k]


def evaluate(lm: HFTextModel, questions: list[dict], cache: SampleCache) -> dict:
    """Per question, method and k: the scores; per method and k: the mean and its interval."""
    per_question = {}
    for question in questions:
        index = answer_index(question)
        items = {}
        for method in METHODS:
            key = {"question": question["name"], "instruction": question["instruction"],
                   "method": method, "version": VERSIONS[method], "attempts": max(KS),
                   "beams": BEAM, "max_item_tokens": MAX_ITEM_TOKENS, "seed": SEED}
            items[method] = cache.get_or_make(
                key, lambda: attempts(lm, question["instruction"], method))
        per_question[question["name"]] = {
            method: {str(k): score(first_k(items, method, k), index) for k in KS}
            for method in METHODS}
    table = {m: np.array([[q[m][str(k)]["distinct_correct"] for k in KS]
                          for q in per_question.values()]) for m in METHODS}
    stats = {}
    for method, rows in table.items():
        mean, low, high = bootstrap_mean(rows)
        stats[method] = {"mean": mean.tolist(), "low": low.tolist(), "high": high.tolist()}
    for other in ("first_token", "sampling", "beam"):
        mean, low, high = bootstrap_mean(table["icn"] - table[other])
        stats[f"icn_minus_{other}"] = {"mean": mean.tolist(), "low": low.tolist(),
                                       "high": high.tolist()}
    return {"per_question": per_question, "stats": stats,
            "questions": [q["name"] for q in questions]}


def run(model, tokenizer, *, quick: bool) -> dict:
    """Distinct correct answers per method and ``k`` on both question sets; prints the tables.
    The headline keys are on the new questions; the older ``*_distinct_correct`` keys (k = 30)
    stay on the original seven."""
    started = time.perf_counter()
    lm = HFTextModel(model, tokenizer)
    cache = SampleCache(CACHE)
    sets = {name: evaluate(lm, load_questions(path, QUICK_QUESTIONS[name] if quick else None),
                           cache) for name, path in QUESTION_SETS.items()}
    for name, res in sets.items():
        print(f"\n[navigation] {name} questions ({len(res['questions'])}): distinct correct answers "
              f"in k attempts, mean [95% interval over questions]")
        headers = ["method", *(f"k={k}" for k in KS)]
        rows = [[m] + [f"{fmt(v, 2)} [{fmt(lo, 1)}, {fmt(hi, 1)}]" for v, lo, hi in
                       zip(st["mean"], st["low"], st["high"])] for m, st in res["stats"].items()]
        print_table(headers, rows)
        print_table(["question", *(f"{m} k={k}" for m in METHODS for k in (10, 30))],
                    [[q, *(str(res["per_question"][q][m][str(k)]["distinct_correct"])
                           for m in METHODS for k in (10, 30))] for q in res["questions"]])
    new, original = sets["new"]["stats"], sets["original"]["stats"]
    at = {k: i for i, k in enumerate(KS)}
    result = {
        "icn_distinct_correct_k10": new["icn"]["mean"][at[10]],
        "icn_distinct_correct_k30": new["icn"]["mean"][at[30]],
        "sampling_distinct_correct_k10": new["sampling"]["mean"][at[10]],
        "beam_distinct_correct_k30": new["beam"]["mean"][at[30]],
        "first_token_distinct_correct_k30": new["first_token"]["mean"][at[30]],
        "icn_at_least_first_token_every_k": all(
            a >= b for a, b in zip(new["icn"]["mean"], new["first_token"]["mean"])),
        **{f"{m}_distinct_correct": original[m]["mean"][at[30]] for m in METHODS},
        "distinct_correct": {name: {m: dict(zip(map(str, KS), res["stats"][m]["mean"]))
                                    for m in METHODS} for name, res in sets.items()},
        "ks": list(KS), "sets": sets, "seconds": time.perf_counter() - started}
    return result


def write_figure(result: dict, path: Path) -> Path:
    """Distinct correct answers against ``k`` per method with 95% bands, one panel per question
    set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result["sets"]), figsize=(10, 3.8), squeeze=False)
    for ax, (name, res) in zip(axes[0], result["sets"].items()):
        for method in METHODS:
            st = res["stats"][method]
            line, = ax.plot(KS, st["mean"], marker="o", label=method)
            ax.fill_between(KS, st["low"], st["high"], color=line.get_color(), alpha=0.15)
        ax.set_title(f"{name} list questions ({len(res['questions'])})", fontsize=10)
        ax.set_xlabel("attempts k")
        ax.set_xticks(KS)
        ax.set_ylabel("distinct correct answers")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
