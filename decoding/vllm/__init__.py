"""The vLLM logits-processor plugin: grammar-constrained and grammar-aligned (ASAp) decoding inside
the engine, for the requests that ask for it.

A request opts in through ``SamplingParams(extra_args={...})`` (offline) or ``vllm_xargs`` (HTTP):

- ``grammar``: Lark text or the name of a bundled grammar (``json``, ``sql``, ...), or
- ``regex``: a regular expression the whole output must match, or
- ``json_schema``: a JSON Schema (an object, or its JSON text), see :mod:`grammars.json_schema`, or
- ``structural_tag``: a structural tag (an object, or its JSON text), where the grammar engine has
  ``Grammar.from_structural_tag``;
- ``sampler`` (optional): ``constrained`` (default: mask the tokens that cannot lead to a string
  of the grammar) or ``asap`` (grammar-aligned sampling; needs temperature 1 and no top-k/top-p/
  min-p, since vLLM applies those after logits processors).

Requests without these keys are untouched. A broken grammar is refused in ``validate_params``
with the error naming the problem (HTTP 400 on the server; the engine keeps serving).

Registration: installed with this package, the entry point ``vllm.logits_processors`` loads
:class:`GuidedDecodingLogitsProcessor` into every engine; or pass it explicitly,
``LLM(..., logits_processors=[GuidedDecodingLogitsProcessor])`` or
``--logits-processors decoding.vllm_plugin:GuidedDecodingLogitsProcessor``.

It works under both of vLLM's model runners: the V1 interface (the CPU runner, GPU runners with
``VLLM_USE_V2_MODEL_RUNNER=0``) and Model Runner V2 (the GPU default), there also with speculative
decoding (each draft row is masked for its draft prefix). A request's grammar compiles in a
background thread from admission on; each step fills the masks of the whole batch in one call and
applies them where the logits are.

Example:
    >>> from vllm import LLM, SamplingParams                                   # doctest: +SKIP
    >>> from decoding.models import test_model_path
    >>> llm = LLM(model=str(test_model_path()), dtype="bfloat16", enforce_eager=True,
    ...           logits_processors=[GuidedDecodingLogitsProcessor])          # doctest: +SKIP
    >>> params = SamplingParams(max_tokens=16, temperature=0,
    ...                         extra_args={"regex": "[12][0-9]{3}-[01][0-9]-[0-3][0-9]"})  # doctest: +SKIP
    >>> llm.generate(["Apollo 11 landed on"], params)[0].outputs[0].text     # doctest: +SKIP
    '1969-07-20'
"""

from typing import Any

from .spec import ConstraintSpec

__all__ = ["ConstraintSpec", "GuidedDecodingLogitsProcessor"]


def __getattr__(name: str) -> Any:
    """``GuidedDecodingLogitsProcessor`` is imported on first use: it needs vLLM, the rest of the
    package does not (the GPU check runs the runner adapter without vLLM)."""
    if name == "GuidedDecodingLogitsProcessor":
        from .plugin import GuidedDecodingLogitsProcessor

        return GuidedDecodingLogitsProcessor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
