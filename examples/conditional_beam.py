"""Conditioning away degeneracy: plain beam search returns the empty string on raw prompts (the
model's mode is "stop at once"); beam search conditioned on "not degenerate" returns a real
answer, and its log-probability is still far above that of typical samples.

    .venv/bin/python examples/conditional_beam.py
    .venv/bin/python examples/conditional_beam.py --beams 10 "Tell me about the planet Mars."
"""

from __future__ import annotations

import argparse

import torch

from decoding.beam import conditional_beam_search
from decoding.models import load_test_model
from samplers.attributes import AllOf, MinTokens, non_degenerate

PROMPTS = ["Tell me a fact about cats.", "Give me a name for a dog.", "Describe the moon in one sentence."]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompts", nargs="*", default=PROMPTS, help="raw-text prompts")
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    args = parser.parse_args()
    model, tok = load_test_model(torch.float32)
    plain = conditional_beam_search(model, tok, args.prompts, num_beams=args.beams,
                                    max_new_tokens=args.max_new_tokens)
    good = conditional_beam_search(model, tok, args.prompts, non_degenerate(), num_beams=args.beams,
                                   max_new_tokens=args.max_new_tokens)
    longer = conditional_beam_search(model, tok, args.prompts, AllOf(non_degenerate(), MinTokens(8)),
                                     num_beams=args.beams, max_new_tokens=args.max_new_tokens,
                                     strict=False)
    for prompt, p, g, lg in zip(args.prompts, plain, good, longer):
        print(f"prompt: {prompt}")
        print(f"  plain beam            ({p.logprob:7.2f}): {p.text!r}")
        print(f"  not degenerate        ({g.logprob:7.2f}): {g.text!r}")
        shown = "none within the beam" if lg.text is None else repr(lg.text)
        print(f"  ... and >= 8 tokens   ({lg.logprob:7.2f}): {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
