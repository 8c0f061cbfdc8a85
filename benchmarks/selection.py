"""Selection methods on the test model (SmolLM2-135M-Instruct, fp32, CPU): three studies, one run.

- Conditional beam search (:mod:`_study_beam`): plain MAP beam search on raw prompts against beam
  search conditioned on "not degenerate" (exact attributes, then a learned classifier too).
- Inference-aware best-of-N (:mod:`_study_best_of_n`): raw-reward best-of-N against the
  calibrated-and-transformed (tilted) selection, win rates against the reference policy.
- In-context navigation (:mod:`_study_navigation`): distinct correct list items in k attempts.

    python benchmarks/selection.py            # 60 + 50 prompts, 7 list questions
    python benchmarks/selection.py --quick    # a few minutes: 12 + 12 prompts, 2 list questions

Writes ``benchmarks/out/selection_{beam,best_of_n,navigation}.png`` and prints a last JSON line with
``degenerate_rate_beam``, ``degenerate_rate_conditional``, ``bon_winrate_raw``,
``bon_winrate_calibrated``, ``icn_distinct_correct``, ``sampling_distinct_correct`` (and more).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import _study_beam
import _study_best_of_n
import _study_navigation
from _common import print_load, print_result_line

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts (a few minutes)")
    parser.add_argument("--studies", default="beam,best_of_n,navigation",
                        help="comma-separated subset of beam, best_of_n, navigation")
    args = parser.parse_args()
    studies = set(args.studies.split(","))
    unknown = studies - {"beam", "best_of_n", "navigation"}
    if unknown:
        parser.error(f"unknown studies: {', '.join(sorted(unknown))}")
    from decoding.models import load_test_model

    OUT.mkdir(exist_ok=True)
    model, tok = load_test_model(torch.float32)
    started = time.perf_counter()
    load = print_load("start")
    result: dict = {"quick": args.quick}
    if "beam" in studies:
        result.update(_study_beam.run(model, tok, quick=args.quick, out_dir=OUT))
    if "best_of_n" in studies:
        bon = _study_best_of_n.run(model, tok, quick=args.quick)
        _study_best_of_n.plot(bon, OUT / "selection_best_of_n.png")
        result.update({k: v for k, v in bon.items() if k != "per_reward"})
        result["bon_seconds"] = round(bon["seconds"], 1)
    if "navigation" in studies:
        nav = _study_navigation.run(model, tok, quick=args.quick)
        _study_navigation.write_figure(nav, OUT / "selection_navigation.png")
        result.update({k: v for k, v in nav.items() if k.endswith("_distinct_correct")})
        result["icn_distinct_correct_by_k"] = nav["distinct_correct"]
        result["navigation_seconds"] = round(nav["seconds"], 1)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average"] = [load, print_load("end")]
    print(f"figures in {OUT}")
    print_result_line({k: v for k, v in result.items() if k != "beam_methods"} | {
        "beam_methods": {name: {k: row[k] for k in ("degenerate_rate", "empty_rate", "failed",
                                                   "median_logprob", "beats_best_sample")}
                         for name, row in result.get("beam_methods", {}).items()}})


if __name__ == "__main__":
    main()
