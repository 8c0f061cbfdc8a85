"""Hugging Face integration: the grammar engine and the samplers inside ``model.generate`` and
its own decoding loops.

    tokenizer ─► vocabulary_for ─► compile_for_tokenizer ─► GrammarLogitsProcessor ─► generate
                                          │
         aligned      (ASAp / exact grammar-aligned sampling over a KV-cached scorer)
         drafting     (ADED draft trees verified in one forward; skinny_linear: its GEMM layout)
         beam         (beam search conditioned on an attribute)
         best_of_n    (calibrated best/worst/tilted selection among N samples)
         navigation   (in-context navigation: distinct answers from the best new first tokens)

Each module is importable at its old path too (``decoding.aligned``, ``decoding.drafting``,
``decoding.beam``, ``decoding.best_of_n``, ``decoding.navigation``, ``decoding.skinny_linear``).

Example:
    >>> from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    >>> from decoding.models import load_test_model
    >>> model, tok = load_test_model()  # doctest: +SKIP
    >>> processor = GrammarLogitsProcessor(compile_for_tokenizer("json", tok, model=model))  # doctest: +SKIP
"""

from .processor import (
    GrammarLogitsProcessor,
    apply_bitmask,
    compile_for_tokenizer,
    forward_outputs,
    forward_with_cache,
    vocabulary_for,
    with_special_tokens,
)

__all__ = ["GrammarLogitsProcessor", "apply_bitmask", "compile_for_tokenizer", "forward_outputs",
           "forward_with_cache", "vocabulary_for", "with_special_tokens"]
