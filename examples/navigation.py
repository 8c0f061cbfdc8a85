"""In-context navigation: ask for planets ten times. Navigation lists what was found so far and
starts each new answer from the model's best *new* first token; plain sampling asks the same
question ten times.

    .venv/bin/python examples/navigation.py
    .venv/bin/python examples/navigation.py "Please name some countries of South America." --k 15
"""

from __future__ import annotations

import argparse

import torch

from decoding.models import load_test_model
from decoding.navigation import HFTextModel
from samplers.navigation import ITEM_STOP, extract_item, list_prompt, navigate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instruction", nargs="?", default="Please name some planets of the solar system.")
    parser.add_argument("--k", type=int, default=10, help="attempts")
    args = parser.parse_args()
    model, tok = load_test_model(torch.float32)
    lm = HFTextModel(model, tok)
    icn = navigate(lm, args.instruction, rounds=args.k, per_round=1, max_attempts=args.k,
                   max_new_tokens=24)
    torch.manual_seed(0)
    samples = lm.complete([list_prompt(args.instruction, [])] * args.k, ITEM_STOP, 24, greedy=False)
    sampled = [extract_item(s) for s in samples]
    print(f"instruction: {args.instruction}")
    print(f"navigation, {icn.tried} attempts, {len(icn.items)} distinct: {icn.items}")
    distinct = sorted({s for s in sampled if s}, key=sampled.index)
    print(f"sampling,   {len(sampled)} attempts, {len(distinct)} distinct: {distinct}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
