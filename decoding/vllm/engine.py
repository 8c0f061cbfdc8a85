"""What one vLLM engine shares across its constrained requests: the tokenizer's vocabulary, the
compile worker and its cache, the ASAp tries, the batch mask filler; and the one step both runner
adapters take: constrain the rows of a batch.

Example:
    >>> import torch
    >>> from grammars import Vocabulary
    >>> engine = ConstraintEngine(Vocabulary([b"a", b"b", None], eos_token_ids=(2,)))
    >>> request = engine.admit(type("Params", (), {"extra_args": {"regex": "ab"}, "max_tokens": 4}))
    >>> logits = torch.zeros(2, 3)
    >>> engine.constrain(logits, [RowsOf(request, committed=[0], rows=[0, 1], drafts=[1])])
    >>> logits.tolist()  # row 0 after "a", row 1 after the draft "b"
    [[-inf, 0.0, -inf], [-inf, -inf, 0.0]]
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from grammars import Vocabulary
from samplers import SampleTrie

from ..tokenizers import vocabulary_from_hf
from .batch_fill import BatchMaskFiller
from .compile_worker import CompileWorker
from .request import ConstrainedRequest
from .spec import ConstraintSpec

MAX_TRIES = 256  # ASAp tries kept per engine (one per prompt and grammar)
_ACTING = "_guided_decoding_engine"
_latest: weakref.ref[ConstraintEngine] | None = None  # the engine made last in this process


@dataclass
class RowsOf:
    """One request's part of a batch: its committed output tokens, its logits rows (one, or one
    per draft token plus one), and the draft tokens those rows follow."""

    request: ConstrainedRequest
    committed: Sequence[int]
    rows: Sequence[int]
    drafts: Sequence[int] = ()


class ConstraintEngine:
    """The plugin's state in one vLLM engine (see :func:`ConstraintEngine.for_config`), for one
    vocabulary (its ``logits_width`` is the logits rows' width)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.width = vocabulary.logits_width
        self.eos = np.asarray(vocabulary.eos_token_ids, dtype=np.int64)
        self.compiler = CompileWorker(vocabulary)
        self.filler = BatchMaskFiller(self.width)
        self._tries: OrderedDict[tuple[bytes, str], SampleTrie] = OrderedDict()

    @classmethod
    def from_model_config(cls, model_config: Any) -> ConstraintEngine:
        """For the tokenizer, generation config and logits width of vLLM's ``model_config``."""
        from transformers import AutoTokenizer, GenerationConfig

        tokenizer = AutoTokenizer.from_pretrained(model_config.tokenizer,
                                                  trust_remote_code=model_config.trust_remote_code)
        try:
            generation_config = GenerationConfig.from_pretrained(model_config.model)
        except OSError:  # no generation_config.json: the tokenizer's EOS only
            generation_config = None
        return cls(vocabulary_from_hf(tokenizer, logits_width=int(model_config.get_vocab_size()),
                                      generation_config=generation_config))

    @classmethod
    def for_config(cls, vllm_config: Any) -> ConstraintEngine | None:
        """The engine's instance, made by the first processor vLLM builds for this config; None for
        the later ones (vLLM builds one per entry-point *and* per explicit registration: only one
        may act, or an ASAp row would be reweighted twice). Configs are not hashable: the config
        carries the mark."""
        if getattr(vllm_config, _ACTING, None) is not None:
            return None
        global _latest
        engine = cls.from_model_config(vllm_config.model_config)
        object.__setattr__(vllm_config, _ACTING, engine)
        _latest = weakref.ref(engine)
        return engine

    @staticmethod
    def precompile(spec: ConstraintSpec) -> None:
        """Start compiling a request's constraint where it came in, when the engine made last lives
        in this process (offline ``LLM``, whose engine core runs in-process): its admission then
        finds the compile running, or done. On a server (the engine in another process) the
        compile starts at admission."""
        engine = _latest() if _latest is not None else None
        if engine is not None:
            engine.compiler.submit(spec.digest, spec.build)

    def admit(self, params: Any) -> ConstrainedRequest | None:
        """The request's constraint (its grammar built and compiled in the background), or None.
        ``validate_params`` built the grammar once already where the request came in (a grammar
        that cannot be built was refused there) and, in this process, started its compile
        (:meth:`precompile`): then this finds it."""
        spec = ConstraintSpec.from_extra_args(params.extra_args, build=False)
        if spec is None:
            return None
        compiled = self.compiler.submit(spec.digest, spec.build)
        return ConstrainedRequest(spec, compiled, params.max_tokens, self.eos)

    def attach_trie(self, request: ConstrainedRequest, prompt_ids: Sequence[int]) -> None:
        """ASAp: the trie of the request's prompt and grammar, shared by all requests repeating them."""
        key = (np.asarray(prompt_ids, dtype=np.int64).tobytes(), request.spec.digest)
        request.trie = self._tries.pop(key, None) or SampleTrie()
        self._tries[key] = request.trie  # most recently used last
        while len(self._tries) > MAX_TRIES:
            self._tries.popitem(last=False)

    def constrain(self, logits: torch.Tensor, batch: Sequence[RowsOf]) -> None:
        """Mask (or, for ASAp, reweight) in place the rows of ``batch``; every masked row of the
        batch is filled and applied in one call."""
        matchers, rows = [], []
        for part in batch:
            request = part.request
            if not request.start():  # its compile failed: end the request
                index = torch.as_tensor(list(part.rows), device=logits.device)
                eos = torch.as_tensor(self.eos, device=logits.device)
                logits[index] = float("-inf")
                logits[index.unsqueeze(1), eos] = 0.0
                continue
            request.sync(part.committed)
            if request.spec.sampler == "asap":
                request.reweight(logits, part.rows, part.drafts)
            else:
                matchers += request.row_matchers(part.drafts)
                rows += part.rows
        self.filler.apply(logits, matchers, rows)
