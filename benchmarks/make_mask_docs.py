"""Write the documents of ``benchmarks/mask_latency.py``: the test model's own outputs.

SmolLM2-135M-Instruct (``decoding.models.load_test_model``) answers chat prompts of each grammar's
kind, sampled under that grammar with the library's Hugging Face processor
(``GrammarLogitsProcessor``); a sample counts when it ends with end-of-sequence (a complete
document), and for the structural tag when it holds two complete tool calls. Each kept sample is
one JSON line in ``benchmarks/data/mask_docs_{workload}.jsonl``: ``prompt``, ``seed``, ``text``
(the decoded answer) and ``ids`` (the generated token ids, end-of-sequence excluded). The files
are committed; rerun only to regenerate them.

Workloads: ``json`` and ``sql`` (the bundled grammars), ``python`` (lark's own ``python.lark``,
start ``file_input``, ``indenter="python"``), ``tag`` (``benchmarks/structural_tag.py``'s
structural tag: free text with the ``weather`` and ``clock`` tool calls; the prompt shows the call
syntax in a system message). The 135M model seldom starts a call by itself, so for ``tag`` the
generator forces the trigger ``<function=`` (its tokens, which the grammar allows in free text)
after some free tokens, twice; the model picks the tool and writes its arguments and the free text
around them, all under the grammar. The forced tokens are listed in the line's ``forced``. A
Python answer that reaches the cap of new tokens is cut after its last complete statement (the
longest prefix at which the grammar may end, at least 12 tokens). Sampling: temperature 0.7,
top-p 0.95, seeds 0, 1, ... up to ``--tries`` per prompt; a prompt whose samples all fail is
skipped, so a file may hold fewer than ``--per`` documents.

    .venv/bin/python benchmarks/make_mask_docs.py [--only json,sql,python,tag] [--per 8]

The committed files: ``--only json,sql --tries 3``, ``--only python,tag --tries 2``, then
``--only json,python --first 8 --per 12 --tries 3 --append`` (``OMP_NUM_THREADS=1``, about 35
minutes on a loaded 2-core machine); one python.lark sample (the keyword ``finally`` as a
name at the start of a line after a statement, which our engine allows and lark's contextual
lexer does not) was taken out by the lark check that the generator now runs on every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _mask_docs import DATA_DIR, PROMPTS, TAG_SYSTEM, check_documents, grammar_for, tool_calls  # noqa: E402


class ForceTriggers:
    """A logits processor that forces ``trigger_ids`` after ``after[k]`` free tokens, until the
    answer holds ``len(after)`` complete tool calls; records the forced positions."""

    def __init__(self, tok, prompt_len: int, trigger_ids: list[int], after: list[int]):
        self.tok, self.prompt_len, self.trigger, self.after = tok, prompt_len, trigger_ids, after
        self.pending: list[int] = []
        self.forced: list[int] = []

    def __call__(self, input_ids, scores):
        new = input_ids[0, self.prompt_len:].tolist()
        text = self.tok.decode(new)
        calls = len(tool_calls(text))
        if not self.pending and calls < len(self.after) and text.rfind("<function=") <= text.rfind(
                "</function>"):
            free = len(new) - next((i for i in range(len(new), -1, -1)
                                    if self.tok.decode(new[:i]).endswith("</function>")), 0)
            if free >= self.after[calls]:
                self.pending = list(self.trigger)
        if self.pending:
            token = self.pending.pop(0)
            self.forced.append(len(new))
            scores[:, :] = float("-inf")
            scores[:, token] = 0.0
        return scores


def sample(model, tok, compiled, messages: list[dict], seed: int, max_new_tokens: int,
           force: bool = False):
    """One sample under ``compiled``: the new token ids, whether it ended with EOS, and the
    positions of forced tokens."""
    import random

    import torch

    from decoding.hf import GrammarLogitsProcessor

    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    torch.manual_seed(seed)
    processors = [GrammarLogitsProcessor(compiled)]
    if force:
        rng = random.Random(seed)
        forcer = ForceTriggers(tok, ids.shape[1], tok.encode("<function=", add_special_tokens=False),
                               [rng.randint(6, 20), rng.randint(2, 12)])
        processors.append(forcer)
    with torch.inference_mode():
        out = model.generate(ids, logits_processor=processors,
                             max_new_tokens=max_new_tokens, do_sample=True, temperature=0.7,
                             top_p=0.95, pad_token_id=tok.eos_token_id)
    new = out[0, ids.shape[1]:].tolist()
    eos = set(compiled.eos_token_ids)
    end = next((i for i, t in enumerate(new) if t in eos), None)
    forced = forcer.forced if force else []
    return (new if end is None else new[:end]), end is not None, forced


MAX_NEW = {"json": 128, "sql": 64, "python": 64, "tag": 120, "general": 40}
SYSTEM = {"tag": TAG_SYSTEM, "python": "Reply with Python code only: no prose, no Markdown.",
          "general": "Reply with one arithmetic expression only."}
MIN_CUT = 12


def accepting_prefix(compiled, ids: list[int]) -> list[int]:
    """The longest prefix (at least ``MIN_CUT`` tokens) after which the grammar may end, or []:
    an answer cut at the cap of new tokens, ended at its last complete statement."""
    from grammars import GrammarMatcher

    matcher, best = GrammarMatcher(compiled), 0
    for i, token in enumerate(ids):
        matcher.advance(token)
        if i + 1 >= MIN_CUT and matcher.is_accepting():
            best = i + 1
    return ids[:best]


def make(workload: str, per: int, tries: int, done: set[str], first: int = 0) -> list[dict]:
    """Up to ``per`` documents of ``workload``; a prompt gets ``tries`` seeds before it is skipped;
    the prompts in ``done`` and before index ``first`` are passed over."""
    from decoding.hf import compile_for_tokenizer
    from decoding.models import load_test_model

    model, tok = load_test_model()
    compiled = compile_for_tokenizer(grammar_for(workload), tok, model=model)
    docs = []
    for prompt in PROMPTS[workload][first:per]:
        if prompt in done:
            continue
        messages = [{"role": "user", "content": prompt}]
        if workload in SYSTEM:
            messages.insert(0, {"role": "system", "content": SYSTEM[workload]})
        for seed in range(tries):
            start = time.perf_counter()
            ids, finished, forced = sample(model, tok, compiled, messages, seed,
                                           MAX_NEW[workload], force=workload == "tag")
            if workload in ("python", "general") and not finished:
                ids, finished = accepting_prefix(compiled, ids), True
            text = tok.decode(ids)
            # A structural-tag answer may stop in free text (end-of-sequence is allowed there).
            ok = bool(ids) and (len(tool_calls(text)) >= 2 and text.rfind("<function=") < text.rfind(
                "</function>") if workload == "tag" else finished)
            if ok:
                try:  # lark's own parser is the oracle: a text it refuses is reported, not kept
                    check_documents(workload, [{"text": text}])
                except SystemExit as refused:
                    ok = False
                    print(f"LARK REFUSES what the grammar let through: {str(refused)[:300]}")
            print(f"{workload} seed {seed} {'kept' if ok else 'dropped'} ({len(ids)} tokens, "
                  f"{time.perf_counter() - start:.1f} s): {text[:100]!r}", flush=True)
            if ok:
                docs.append({"prompt": prompt, "seed": seed, "text": text, "ids": ids,
                             "forced": forced})
                break
    return docs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="json,sql,python,tag", help="workloads, comma-separated")
    parser.add_argument("--per", type=int, default=8, help="documents per workload (at most)")
    parser.add_argument("--tries", type=int, default=4, help="seeds per prompt")
    parser.add_argument("--append", action="store_true",
                        help="keep the file's documents; sample only the prompts it lacks")
    parser.add_argument("--first", type=int, default=0, help="index of the first prompt to sample")
    args = parser.parse_args()
    for workload in args.only.split(","):
        if workload not in PROMPTS:
            raise SystemExit(f"unknown workload {workload!r}; known: {', '.join(PROMPTS)}")
        path = DATA_DIR / f"mask_docs_{workload}.jsonl"
        old = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if (
            args.append and path.is_file()) else []
        docs = old + make(workload, args.per, args.tries, {d["prompt"] for d in old},
                           args.first)
        path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs),
                        encoding="utf-8")
        print(f"wrote {len(docs)} documents to {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
