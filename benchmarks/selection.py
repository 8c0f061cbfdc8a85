"""Selection methods on the test model (SmolLM2-135M-Instruct, fp32, CPU): three studies, one run,
each against its paper's claim.

- Conditional beam search (:mod:`_study_beam`): plain MAP beam search on raw prompts against beam
  search conditioned on "not degenerate" (exact attributes, then a learned classifier too), and
  the classifier's held-out Brier skill score with its learning curve.
- Inference-aware best-of-N (:mod:`_study_best_of_n`): win rate against KL frontiers of the
  calibrated-and-transformed, calibrated and raw-reward tilts, for best-of-N and for best-of-N
  jailbreaking (worst-of-N), with bootstrap intervals over prompts.
- In-context navigation (:mod:`_study_navigation`): distinct correct list items in k = 5, 10, 20,
  30 attempts against sampling, the first-token baseline and beam search.

    python benchmarks/selection.py            # 20 + 200 prompts, 7 + 18 list questions
    python benchmarks/selection.py --quick    # 8 + 40 prompts, 2 + 2 list questions

Model samples are cached (``benchmarks/data/*_samples.jsonl`` and
``benchmarks/data/navigation_items.jsonl``, committed: the fixed data), so a rerun costs the
arithmetic and the beam searches. Writes
``benchmarks/out/selection_{beam,best_of_n,navigation}.png`` (a full run also into
``benchmarks/results/``) and prints a last JSON line with ``bon_frontier_gain`` (and
``_ci_low``), ``classifier_brier_skill`` (and ``_ci_low``), ``icn_distinct_correct_k10``,
``icn_distinct_correct_k30``, ``sampling_distinct_correct_k10``, ``beam_distinct_correct_k30``,
``first_token_distinct_correct_k30``, the older ``degenerate_rate_*``, ``bon_winrate_*`` and
``*_distinct_correct`` keys, and more.
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
RESULTS = Path(__file__).resolve().parent / "results"


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
    figures = [OUT] if args.quick else [OUT, RESULTS]
    model, tok = load_test_model(torch.float32)
    started = time.perf_counter()
    load = print_load("start")
    result: dict = {"quick": args.quick}
    if "beam" in studies:
        for folder in figures:
            folder.mkdir(exist_ok=True)
        beam = _study_beam.run(model, tok, quick=args.quick, out_dir=figures[-1])
        result.update(beam)
    if "best_of_n" in studies:
        bon = _study_best_of_n.run(model, tok, quick=args.quick)
        for folder in figures:
            _study_best_of_n.plot(bon, folder / "selection_best_of_n.png")
        result.update({k: v for k, v in bon.items() if k != "per_reward"})
        result["bon_seconds"] = round(bon["seconds"], 1)
    if "navigation" in studies:
        nav = _study_navigation.run(model, tok, quick=args.quick)
        for folder in figures:
            _study_navigation.write_figure(nav, folder / "selection_navigation.png")
        result.update({k: v for k, v in nav.items() if k not in ("sets", "seconds")})
        result["navigation_seconds"] = round(nav["seconds"], 1)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average"] = [load, print_load("end")]
    print(f"figures in {', '.join(map(str, figures))}")
    print_result_line({k: v for k, v in result.items() if k != "beam_methods"} | {
        "beam_methods": {name: {k: row[k] for k in ("degenerate_rate", "empty_rate", "failed",
                                                   "median_logprob", "beats_best_sample")}
                         for name, row in result.get("beam_methods", {}).items()}})

if __name__ == "__main__":
    main()
