"""Build the corpus of ``benchmarks/drafting.py``'s tri-gram table: the test model's own greedy
answers (fp32, up to 192 tokens) to the ``corpus_prompts`` of ``data/drafting_prompts.json`` and to
chat questions made from the templates and subjects below: the same kinds of question as the open
set, on other subjects. No prompt of the benchmark is among them (checked). Writes
``data/drafting_corpus.jsonl`` (one ``{"prompt", "text"}`` object per line, ``text`` being the
whole chat transcript).

    python benchmarks/make_drafting_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path

from decoding.drafting import aded_generate
from decoding.models import load_test_model
from drafters import TrigramTable

DATA = Path(__file__).parent / "data"

TEMPLATES = [
    "What are three tips for {}?", "Explain {} to a beginner.", "Write a short poem about {}.",
    "What are the benefits of {}?", "How do I get started with {}?", "Describe {} in a few sentences.",
]
SUBJECTS = [
    "saving money", "learning a new language", "running a marathon", "public speaking",
    "gardening", "the ocean", "friendship", "winter mornings", "time management", "meditation",
    "cooking rice", "writing a resume", "the moon", "electric cars", "volunteering", "photography",
    "drinking tea", "working from home", "playing the piano", "recycling", "mountains",
    "learning to code", "keeping a journal", "city life", "rainy days",
]


def prompts() -> list[str]:
    data = json.loads((DATA / "drafting_prompts.json").read_text())
    made = [t.format(s) for s in SUBJECTS for t in TEMPLATES]
    out = data["corpus_prompts"] + made
    clash = set(out) & set(data["grounded"] + data["open"])
    if clash:
        raise SystemExit(f"corpus prompts overlap the benchmark's: {sorted(clash)}")
    return out


def main() -> None:
    todo = prompts()
    model, tok = load_test_model()
    table = TrigramTable("corpus-builder")  # only speeds the generation up; output is greedy's
    with open(DATA / "drafting_corpus.jsonl", "w", encoding="utf-8") as out:
        for i, prompt in enumerate(todo):
            inputs = tok.apply_chat_template([{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
            ids = model.generate(**inputs, max_new_tokens=192, do_sample=False,
                                 custom_generate=aded_generate, trigram_table=table)
            text = tok.decode(ids[0], skip_special_tokens=False)
            out.write(json.dumps({"prompt": prompt, "text": text}, ensure_ascii=False) + "\n")
            print(f"{i + 1}/{len(todo)}: {len(ids[0]) - inputs['input_ids'].shape[1]} tokens")


if __name__ == "__main__":
    main()
