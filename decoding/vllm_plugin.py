"""A vLLM logits-processor plugin: grammar-constrained and grammar-aligned (ASAp) decoding inside
the engine, for the requests that ask for it.

A request opts in through ``SamplingParams(extra_args={...})`` (offline) or ``vllm_xargs`` (HTTP):

- ``grammar``: Lark text or the name of a bundled grammar (``json``, ``sql``, ...), or
- ``regex``: a regular expression the whole output must match, or
- ``json_schema``: a JSON Schema (an object, or its JSON text), see :mod:`grammars.json_schema`;
- ``sampler`` (optional): ``constrained`` (default: mask the tokens that cannot lead to a string
  of the grammar) or ``asap`` (grammar-aligned sampling; needs temperature 1 and no top-k/top-p/
  min-p, since vLLM applies those after logits processors).

Requests without these keys are untouched. A broken grammar is refused in ``validate_params``
with the error naming the problem (HTTP 400 on the server; the engine keeps serving).

Registration: installed with this package, the entry point ``vllm.logits_processors`` loads
:class:`GuidedDecodingLogitsProcessor` into every engine; or pass it explicitly,
``LLM(..., logits_processors=[GuidedDecodingLogitsProcessor])`` or
``--logits-processors decoding.vllm_plugin:GuidedDecodingLogitsProcessor``.

It works through the V1 interface (vLLM's CPU runner, and GPU runners with
``VLLM_USE_V2_MODEL_RUNNER=0``). vLLM 0.32's GPU Model Runner V2 refuses V1-only plugin classes at
start-up, which would stop every engine of the environment; so the class also subclasses the V2
interface: there it stays inert, the engine starts, and requests that ask for a constraint are
refused with the instruction to set ``VLLM_USE_V2_MODEL_RUNNER=0``.

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

from __future__ import annotations

import functools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor as RunnerV2Processor

from grammars import (
    CompiledGrammar,
    Grammar,
    GrammarError,
    GrammarMatcher,
    TokenRejectedError,
    allocate_token_bitmask,
    compile_grammar,
)
from samplers import SampleTrie
from samplers.aligned import allowed_within

from .hf import apply_bitmask
from .tokenizers import vocabulary_from_hf

__all__ = ["ConstraintSpec", "GuidedDecodingLogitsProcessor"]



CONSTRAINTS = ("grammar", "regex", "json_schema")  # one per request
SAMPLERS = ("constrained", "asap")
MAX_GRAMMARS = 64  # compiled grammars kept per engine
MAX_TRIES = 256  # ASAp tries kept per engine (one per prompt and grammar)
_ACTING = "_guided_decoding_acting"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConstraintSpec:
    """What a request asked for: the grammar (Lark text) and the sampler.

    Example:
        >>> spec = ConstraintSpec.from_extra_args({"regex": "[0-9]+", "sampler": "asap"})
        >>> spec.sampler, spec.grammar.parser.parse("2026") is not None
        ('asap', True)
        >>> ConstraintSpec.from_extra_args({"regex": "[0-9]+"}).grammar is spec.grammar  # built once
        True
        >>> ConstraintSpec.from_extra_args({"temperature": 1}) is None
        True
    """

    grammar: Grammar
    sampler: str = "constrained"

    @classmethod
    def from_extra_args(cls, extra: dict[str, Any] | None) -> ConstraintSpec | None:
        """The spec of a request's ``extra_args`` (None: the request is not constrained); a
        ``ValueError`` names what is wrong."""
        given = [k for k in CONSTRAINTS if extra and k in extra]
        if not given:
            if extra and "sampler" in extra:
                raise ValueError("'sampler' needs a 'grammar', 'regex' or 'json_schema' in the same "
                                 "request")
            return None
        if len(given) > 1:
            raise ValueError(f"give one of 'grammar', 'regex', 'json_schema', not {' and '.join(given)}")
        key, value = given[0], extra[given[0]]
        sampler = extra.get("sampler", "constrained")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose {' or '.join(SAMPLERS)}")
        if key == "json_schema":
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as e:
                    raise ValueError(f"'json_schema' is not JSON: {e}") from None
            value = json.dumps(value)  # the cache key (key order kept: it is the output's order)
        elif not isinstance(value, str) or not value.strip():
            raise ValueError(f"'{key}' must be a non-empty string")
        try:
            grammar = _grammar(key, value)
        except GrammarError as e:
            raise ValueError(f"bad {key.replace('_', ' ')}: {e}") from None
        return cls(grammar, sampler)


@functools.lru_cache(maxsize=MAX_GRAMMARS)
def _grammar(key: str, text: str) -> Grammar:
    """The grammar of one constraint (``json_schema`` as JSON text), built once per engine process
    for requests that repeat it (translation and lark's tables are not redone per request)."""
    if key == "json_schema":
        return Grammar.from_json_schema(json.loads(text))
    return Grammar.load(text) if key == "grammar" else Grammar.from_regex(text)


@dataclass
class _Row:
    """One constrained request in the batch. ``output`` is vLLM's live list of its output tokens;
    ``fed`` the tokens the matcher has consumed (a prefix of ``output`` once synced), ``nodes`` the
    ASAp trie node after each of them (``nodes[0]``: the root), ``steps`` the allowed tokens and
    their log-probabilities seen at each depth."""

    spec: ConstraintSpec
    matcher: GrammarMatcher
    output: list[int]
    max_tokens: int | None
    fed: list[int] = field(default_factory=list)
    trie: SampleTrie | None = None
    nodes: list[int] = field(default_factory=lambda: [0])
    steps: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    warned: bool = False


V2_INSTRUCTION = ("guided-decoding's vLLM plugin needs the V1 model runner on GPUs: start the engine "
                  "with VLLM_USE_V2_MODEL_RUNNER=0")


def _runner_v2_likely() -> bool:
    """Whether engines here use Model Runner V2 (GPU platforms unless VLLM_USE_V2_MODEL_RUNNER=0;
    vLLM may still fall back to V1 for unsupported features, in which case this errs on refusing)."""
    from vllm import envs
    from vllm.platforms import current_platform

    return current_platform.is_cuda_alike() and envs.VLLM_USE_V2_MODEL_RUNNER is not False


class GuidedDecodingLogitsProcessor(LogitsProcessor, RunnerV2Processor):
    """Masks (``constrained``) or reweights (``asap``) the logits of the requests that carry a
    ``grammar`` or ``regex`` in their extra arguments; leaves the other rows alone. See the module
    docstring for the request format and registration.

    vLLM builds one instance per entry-point registration *and* per explicit registration; only the
    first instance of an engine acts (the others pass logits through), so an ASAp row is never
    reweighted twice."""

    def __init__(self, vllm_config: Any, device: Any, is_pin_memory: bool = False) -> None:
        self.rows: dict[int, _Row] = {}
        if not isinstance(device, torch.device):  # Model Runner V2: (vllm_config, req_states)
            self.acting = False
            _log.warning("%s; the plugin is inactive in this engine", V2_INSTRUCTION)
            return
        # The engine's config carries the mark of its acting instance (configs are not hashable).
        self.acting = not getattr(vllm_config, _ACTING, False)
        object.__setattr__(vllm_config, _ACTING, True)
        from transformers import AutoTokenizer, GenerationConfig

        model_config = vllm_config.model_config
        self.tokenizer = AutoTokenizer.from_pretrained(model_config.tokenizer,
                                                       trust_remote_code=model_config.trust_remote_code)
        try:
            generation_config = GenerationConfig.from_pretrained(model_config.model)
        except OSError:  # no generation_config.json: the tokenizer's EOS only
            generation_config = None
        self.width = int(model_config.get_vocab_size())
        self.vocabulary = vocabulary_from_hf(self.tokenizer, logits_width=self.width,
                                             generation_config=generation_config)
        self.device = device
        self._compiled: OrderedDict[str, CompiledGrammar] = OrderedDict()
        self._tries: OrderedDict[tuple[bytes, str], SampleTrie] = OrderedDict()
        self._bitmask = allocate_token_bitmask(8, self.width)
        self._eos = np.asarray(self.vocabulary.eos_token_ids, dtype=np.int64)

    # -- vLLM's interface ----------------------------------------------------------------------
    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        spec = ConstraintSpec.from_extra_args(sampling_params.extra_args)
        if spec is not None and _runner_v2_likely():
            raise ValueError(V2_INSTRUCTION)
        if spec is not None and spec.sampler == "asap":
            p = sampling_params
            if p.temperature != 1.0 or p.top_k not in (None, 0, -1) or p.top_p != 1.0 or p.min_p:
                raise ValueError("sampler 'asap' aligns the model's own distribution: use "
                                 "temperature=1 and no top_k, top_p or min_p (vLLM applies them "
                                 "after logits processors)")

    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None or not self.acting:
            return
        for index in batch_update.removed:
            self.rows.pop(index, None)
        for index, params, prompt_ids, output_ids in batch_update.added:
            row = self._new_row(params, prompt_ids, output_ids)
            if row is None:
                self.rows.pop(index, None)
            else:
                self.rows[index] = row
        for a, b, direction in batch_update.moved:
            row_a, row_b = self.rows.pop(a, None), self.rows.pop(b, None)
            if row_a is not None:
                self.rows[b] = row_a
            if direction == MoveDirectionality.SWAP and row_b is not None:
                self.rows[a] = row_b

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        """Model Runner V2 only (where the plugin is inert): never modifies a request."""
        return False

    def apply(self, logits: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        if not self.rows:
            return logits
        if self._bitmask.shape[0] < len(self.rows):
            self._bitmask = allocate_token_bitmask(2 * len(self.rows), self.width)
        masked: list[int] = []
        for index, row in self.rows.items():
            self._sync(row)
            if index >= logits.shape[0]:
                continue
            if row.spec.sampler == "asap":
                self._reweight(row, logits, index)
            else:
                row.matcher.fill_bitmask(self._bitmask, len(masked))
                masked.append(index)
        if masked:
            apply_bitmask(logits, self._bitmask[:len(masked)], masked)
        return logits

    # -- per request ---------------------------------------------------------------------------
    def _new_row(self, params: SamplingParams, prompt_ids: list[int] | None,
                 output_ids: list[int]) -> _Row | None:
        spec = ConstraintSpec.from_extra_args(params.extra_args)
        if spec is None:
            return None
        compiled = self._compile(spec.grammar)
        row = _Row(spec, GrammarMatcher(compiled), output_ids, params.max_tokens)
        if spec.sampler == "asap":
            key = (np.asarray(prompt_ids or [], dtype=np.int64).tobytes(), spec.grammar.digest)
            row.trie = self._tries.pop(key, None) or SampleTrie()
            self._tries[key] = row.trie  # most recently used last
            while len(self._tries) > MAX_TRIES:
                self._tries.popitem(last=False)
        return row

    def _compile(self, grammar: Grammar) -> CompiledGrammar:
        compiled = self._compiled.pop(grammar.digest, None)
        if compiled is None:
            compiled = compile_grammar(grammar, self.vocabulary)
        self._compiled[grammar.digest] = compiled
        while len(self._compiled) > MAX_GRAMMARS:
            self._compiled.popitem(last=False)
        return compiled

    def _sync(self, row: _Row) -> None:
        """Make the matcher (and trie node) follow ``row.output``. vLLM's list is not append-only:
        with async scheduling a placeholder (-1) stands for a token still being copied, and tokens
        can be taken back (a failed KV load, async speculative decoding). So roll back to the
        longest common prefix, then advance over real tokens, stopping at a placeholder (or, with a
        warning, at a token the grammar rejects: one that another processor forced)."""
        live, fed = row.output, row.fed
        common = 0
        limit = min(len(live), len(fed))
        while common < limit and live[common] == fed[common]:
            common += 1
        if common < len(fed):
            row.matcher.rollback(len(fed) - common)
            del fed[common:], row.nodes[common + 1:]
        for token in live[common:]:
            token = int(token)
            if token < 0 or row.matcher.is_finished():
                break
            try:
                row.matcher.advance(token)
            except TokenRejectedError as e:
                if not row.warned:
                    _log.warning("guided-decoding: a token outside the grammar entered a constrained "
                                 "request (%s); masking from the last valid prefix", e)
                    row.warned = True
                break
            fed.append(token)
            if row.trie is not None:
                row.nodes.append(self._trie_child(row, token))

    def _trie_child(self, row: _Row, token: int) -> int:
        """The trie node after ``token`` at the row's current depth (added with the
        log-probability seen when it was sampled)."""
        depth = len(row.fed) - 1
        parent = row.nodes[depth]
        if parent < 0 or depth >= len(row.steps):
            return -1
        child = row.trie.child(parent, token)
        if child < 0:
            allowed, logps = row.steps[depth]
            k = int(np.searchsorted(allowed, token))
            if k >= len(allowed) or allowed[k] != token:
                return -1
            child = row.trie.add_child(parent, token, float(logps[k]),
                                       eos=bool(np.isin(token, self._eos)))
        return child

    def _reweight(self, row: _Row, logits: torch.Tensor, index: int) -> None:
        """ASAp: allowed tokens get ``log p + log theta(child)``, the others -inf."""
        depth = len(row.fed)
        allowed = allowed_within(row.matcher, depth, row.max_tokens, self._eos)
        logp = torch.log_softmax(logits[index].float(), dim=-1).cpu().numpy()
        logps = logp[allowed]
        del row.steps[depth:]
        row.steps.append((allowed, logps))
        new = logps.astype(np.float64)
        node = row.nodes[depth]
        if node >= 0:
            row.trie.expand(node, allowed, logps)
            proposal = row.trie.proposal_logits(node, allowed, logps)
            if np.isfinite(proposal).any():
                new = proposal
        out = torch.full_like(logits[index], float("-inf"))
        out[torch.from_numpy(allowed).to(logits.device)] = torch.from_numpy(new).to(
            device=logits.device, dtype=logits.dtype)
        logits[index] = out
