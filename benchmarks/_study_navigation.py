"""In-context navigation against the usual ways to get many answers: distinct correct list items in
``k`` attempts (``k`` = 10 and 30), on list questions with known answer sets
(``benchmarks/data/list_questions.json``).

An attempt is one completed item, whatever it holds (a repeat, a wrong item, no item). Methods:

- ``icn``: :func:`samplers.navigation.navigate` with one new item per round (the list in the
  prompt grows after each item), greedy completions from the plain prompt;
- ``first_token``: the reference's baseline, the top ``k`` distinct first tokens of the plain
  prompt, each greedily completed (``navigate=False``);
- ``sampling``: ``k`` independent samples of the plain prompt at temperature 1 (no top-k/top-p);
- ``beam``: beam search with ``k`` beams and ``k`` returned sequences, no length penalty, a beam
  ending at any token holding the closing quote.

ICN and first-token attempts are sequential in the ranking, so the first 10 attempts of the 30
are exactly a 10-attempt run; sampling's first 10 samples are 10 independent samples; beam search
runs once per ``k``. Items count as correct when their normalised form (case folded, accents,
parentheses and punctuation removed, a leading "the" dropped) is an answer or an alias.
Completions are capped at 24 tokens (list items are short). Run it through
``benchmarks/selection.py``, which writes ``benchmarks/out/selection_navigation.png``.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import torch

from _common import fmt, print_table

from decoding.navigation import HFTextModel
from samplers.navigation import ITEM_STOP, extract_item, list_prompt, navigate

QUESTIONS = Path(__file__).resolve().parent / "data" / "list_questions.json"
KS = (10, 30)
QUICK_QUESTIONS = ("planets", "south_american_countries")
METHODS = ("icn", "first_token", "sampling", "beam")
MAX_ITEM_TOKENS = 24
SEED = 0


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


def load_questions(names: Sequence[str] | None = None) -> list[dict]:
    """The list questions (those named, in that order; all of them for ``None``)."""
    questions = {q["name"]: q for q in json.loads(QUESTIONS.read_text())}
    return [questions[n] for n in names] if names is not None else list(questions.values())


def score(items: Sequence[str | None], index: dict[str, str]) -> dict[str, int]:
    """Distinct correct answers, distinct items and attempts without an item."""
    found = [item for item in items if item is not None]
    correct = {index[answer_key(item)] for item in found if answer_key(item) in index}
    return {"distinct_correct": len(correct),
            "distinct_items": len({answer_key(item) for item in found}),
            "no_item": len(items) - len(found)}


def attempts(lm: HFTextModel, instruction: str, ks: Sequence[int]) -> dict[str, dict[int, list]]:
    """The items (``None``: no item) of each method's first ``k`` attempts, for each ``k``."""
    k_max = max(ks)
    icn = navigate(lm, instruction, rounds=k_max, per_round=1, max_attempts=k_max,
                   max_new_tokens=MAX_ITEM_TOKENS)
    first = navigate(lm, instruction, rounds=1, per_round=k_max, navigate=False,
                     max_attempts=k_max, max_new_tokens=MAX_ITEM_TOKENS)
    plain = list_prompt(instruction, [])
    torch.manual_seed(SEED)
    samples = lm.complete([plain] * k_max, ITEM_STOP, MAX_ITEM_TOKENS, greedy=False)
    runs = {"icn": [a.item for a in icn.attempts], "first_token": [a.item for a in first.attempts],
            "sampling": [extract_item(s) for s in samples]}
    out = {method: {k: items[:k] for k in ks} for method, items in runs.items()}
    out["beam"] = {k: [extract_item(b) for b in lm.beam_search(plain, k, ITEM_STOP,
                                                                 MAX_ITEM_TOKENS)] for k in ks}
    return out


def run(model, tokenizer, *, quick: bool, out_dir: Path | None = None) -> dict:
    """Distinct correct answers per method, question and ``k``; prints a table and, with
    ``out_dir``, writes the figure ``navigation.png`` there."""
    started = time.perf_counter()
    lm = HFTextModel(model, tokenizer)
    questions = load_questions(QUICK_QUESTIONS if quick else None)
    per_question = {}
    for question in questions:
        index = answer_index(question)
        items = attempts(lm, question["instruction"], KS)
        per_question[question["name"]] = {
            method: {str(k): score(items[method][k], index) for k in KS} for method in METHODS}
    means = {method: {str(k): sum(q[method][str(k)]["distinct_correct"]
                                  for q in per_question.values()) / len(per_question)
                      for k in KS} for method in METHODS}
    headers = ["question", "size", *(f"{m} k={k}" for m in METHODS for k in KS)]
    rows = [[q["name"], str(len(q["answers"])),
             *(str(per_question[q["name"]][m][str(k)]["distinct_correct"])
               for m in METHODS for k in KS)] for q in questions]
    rows.append(["mean", "", *(fmt(means[m][str(k)]) for m in METHODS for k in KS)])
    print("distinct correct answers in k attempts")
    print_table(headers, rows)
    result = {**{f"{m}_distinct_correct": means[m][str(max(KS))] for m in METHODS},
              "distinct_correct": means, "per_question": per_question, "ks": list(KS),
              "questions": [q["name"] for q in questions],
              "seconds": time.perf_counter() - started}
    if out_dir is not None:
        result["figure"] = str(write_figure(result, Path(out_dir) / "navigation.png"))
    return result


def write_figure(result: dict, path: Path) -> Path:
    """A bar chart of distinct correct answers against ``k`` per method: the mean over the
    questions, then each question."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {"mean": {m: result["distinct_correct"][m] for m in METHODS}}
    panels.update({name: {m: {k: v["distinct_correct"] for k, v in q[m].items()} for m in METHODS}
                   for name, q in result["per_question"].items()})
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    width = 0.8 / len(METHODS)
    for ax, (name, values) in zip(axes[0], panels.items()):
        for i, method in enumerate(METHODS):
            ax.bar([j + i * width for j in range(len(KS))],
                   [values[method][str(k)] for k in KS], width, label=method)
        ax.set_xticks([j + width * (len(METHODS) - 1) / 2 for j in range(len(KS))],
                      [f"k={k}" for k in KS])
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("distinct correct")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=len(METHODS),
               fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
