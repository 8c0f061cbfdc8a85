"""Inference-aware best-of-N with a verifiable reward: N answers to an arithmetic question, each
scored by an exact checker, calibrated against the model's own reference samples for the same
question (cached), then the best, the worst and a tilted choice.

    .venv/bin/python examples/best_of_n.py
    .venv/bin/python examples/best_of_n.py --n 16 "What is 12 + 30? Answer with the number only."
"""

from __future__ import annotations

import argparse

import torch

from decoding.best_of_n import BestOfN, CalibrationCache
from decoding.models import load_test_model
from decoding.rewards import ArithmeticVerifier
from samplers.best_of_n import Transform


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompt", nargs="?", default="What is 7 + 5? Answer with the number only.")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--m", type=int, default=16, help="reference samples for calibration")
    args = parser.parse_args()
    model, tok = load_test_model(torch.float32)
    reward = ArithmeticVerifier(graded=True)
    cache = CalibrationCache()  # shared: the reference samples are drawn once per prompt
    print(f"prompt: {args.prompt}  (true answer {ArithmeticVerifier.expected(args.prompt)})")
    for mode, transform in [("best", Transform()), ("worst", Transform()),
                            ("tilted", Transform("exp", t=4.0))]:
        bon = BestOfN(model, tok, reward, n=args.n, m=args.m, mode=mode, transform=transform,
                      max_new_tokens=12, seed=0, cache=cache)
        r = bon(args.prompt)
        s = r.selection
        print(f"{mode:6}: {r.text.strip()!r:28} reward {s.raw_reward:.3f}, calibrated {s.calibrated:.2f}, "
              f"win rate vs one reference sample {s.win_rate_vs_ref:.2f}, inference-time win rate "
              f"{s.inference_win_rate:.2f}, KL {s.kl_estimate:.2f}")
    print(f"candidate rewards: {sorted(round(float(x), 3) for x in r.rewards)}")
    print(f"calibration cache: {len(cache)} prompt(s), {args.m} reference samples each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
