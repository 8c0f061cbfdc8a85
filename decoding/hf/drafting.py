"""ADED draft-and-verify decoding behind ``model.generate(custom_generate=aded_generate)``.

Each step drafts a token tree per sequence from the tri-gram table (:mod:`drafters`), verifies
all trees in one batched forward (tree attention mask, matching position ids), commits the
accepted chain plus the model's own next token, learns the new trigrams, and keeps only the
accepted entries in the KV cache (rows are left-padded, so a batch can accept different lengths).
Greedy output equals plain greedy ``generate``; sampled output follows the model's sampling
distribution. Logits processors apply to every verified node (keyed on the node's prefix, as
:class:`decoding.hf.GrammarLogitsProcessor` is); temperature/top-k/top-p too. With a
:class:`~decoding.hf.GrammarLogitsProcessor`, drafting is grammar-aware: branches the grammar
forbids are cut before verification and the tokens it forces are drafted first.

Example:
    >>> from decoding.models import load_test_model
    >>> model, tok = load_test_model()
    >>> table = build_trigram_table(["The cat sat on the mat. The cat sat on the hat."], tok)
    >>> ids = tok("The cat sat on the", return_tensors="pt")
    >>> fast = model.generate(**ids, custom_generate=aded_generate, trigram_table=table,
    ...                       max_new_tokens=12, do_sample=False)
    >>> plain = model.generate(**ids, max_new_tokens=12, do_sample=False)
    >>> bool((fast == plain).all())
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext

import numpy as np
import torch
from transformers import DynamicCache, LogitsProcessorList
from transformers import generation as hf_generation

from drafters import DraftConfig, DraftTree, TrigramTable, accept, draft_tree, tree_inputs
from drafters.search import EMPTY_TREE, merge_paths
from grammars import GrammarMatcher, TokenRejectedError

from .processor import GrammarLogitsProcessor, forward_with_cache, vocabulary_for
from .skinny_linear import layout_choice, skinny_layout

__all__ = ["aded_generate", "build_trigram_table", "constrain_tree", "load_trigram_table",
           "tokenizer_fingerprint"]

_WARPER_NAMES = ("TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper",
                 "MinPLogitsWarper", "TypicalLogitsWarper", "EpsilonLogitsWarper",
                 "EtaLogitsWarper", "TopHLogitsWarper")
_WARPERS = tuple(getattr(hf_generation, n) for n in _WARPER_NAMES if hasattr(hf_generation, n))


def tokenizer_fingerprint(tokenizer) -> str:
    """What a trigram table is keyed by: the tokenizer's token bytes and special tokens."""
    return vocabulary_for(tokenizer).fingerprint


def build_trigram_table(texts: Iterable[str], tokenizer, *, keep: int = 12) -> TrigramTable:
    """A table from a corpus (an iterable of strings, e.g. a file's lines) tokenised with the
    target tokenizer, keyed by its fingerprint."""
    docs = (tokenizer(t, add_special_tokens=True)["input_ids"] for t in texts)
    return TrigramTable.from_token_ids(docs, tokenizer_fingerprint(tokenizer), keep=keep)


def load_trigram_table(path, tokenizer) -> TrigramTable:
    """Load a saved table; refused with a message if it was built for another tokenizer."""
    return TrigramTable.load(path, tokenizer_fingerprint(tokenizer))


def constrain_tree(tree: DraftTree, matcher: GrammarMatcher | None, max_nodes: int) -> DraftTree:
    """Grammar-aware drafting: cut each draft path at its first token the grammar forbids, and
    draft the tokens the grammar forces from here (jump-forward) first, for free."""
    if matcher is None or matcher.is_finished():
        return EMPTY_TREE
    paths: list[tuple[int, ...]] = []
    forced = tuple(matcher.forced_tokens(limit=64))[:max_nodes]
    if forced:
        paths.append(forced)
    for path in tree.token_paths():
        probe = matcher.fork()
        kept = []
        for token in path:
            try:
                probe.advance(token)
            except TokenRejectedError:
                break
            kept.append(token)
            if probe.is_finished():
                break
        if kept:
            paths.append(tuple(kept))
    return merge_paths(paths, max_nodes)


def _eos_ids(config) -> set[int]:
    eos = config.eos_token_id
    if eos is None:
        return set()
    if isinstance(eos, torch.Tensor):
        return set(int(e) for e in eos.flatten().tolist())
    if isinstance(eos, int):
        return {eos}
    return set(int(e) for e in eos)


class _Processing:
    """Applies the user's processors (per row and depth, on each node's own prefix) and warpers
    (vectorised over every node), then picks each node's token."""

    def __init__(self, logits_processor: LogitsProcessorList | None, do_sample: bool):
        procs = list(logits_processor or [])
        self.warpers = LogitsProcessorList([p for p in procs if isinstance(p, _WARPERS)])
        self.others = LogitsProcessorList([p for p in procs if not isinstance(p, _WARPERS)])
        self.grammars = [p for p in procs if isinstance(p, GrammarLogitsProcessor)]
        self.do_sample = do_sample

    def constrain(self, tree: DraftTree, row: list[int], max_nodes: int) -> DraftTree:
        """Prune the draft to every grammar processor's language (see :func:`constrain_tree`)."""
        for proc in self.grammars:
            tree = constrain_tree(tree, proc.matcher_for(np.asarray(row, dtype=np.int64)), max_nodes)
        return tree

    def choose(self, prefixes: Sequence[Sequence[list[int] | None]] | None,
               logits: torch.Tensor) -> torch.Tensor:
        """``prefixes[b][i]`` is node i's token prefix in row b (None for padding nodes); only
        read when there are processors other than warpers (see :func:`_node_prefixes`)."""
        b, n, v = logits.shape
        scores = logits.float()
        if self.others:
            for row in range(b):
                groups: dict[int, list[int]] = {}
                for i, prefix in enumerate(prefixes[row]):
                    if prefix is not None:
                        groups.setdefault(len(prefix), []).append(i)
                for nodes in groups.values():
                    ids = torch.tensor([prefixes[row][i] for i in nodes], device=logits.device)
                    idx = torch.tensor(nodes, device=logits.device)
                    scores[row, idx] = self.others(ids, scores[row, idx])
        if not self.do_sample:
            return scores.argmax(dim=-1)
        flat = scores.reshape(b * n, v)
        if self.warpers:
            flat = self.warpers(torch.zeros((b * n, 1), dtype=torch.long, device=logits.device), flat)
        probs = torch.softmax(flat, dim=-1)
        probs = torch.nan_to_num(probs, nan=0.0)
        dead = probs.sum(dim=-1) <= 0
        if dead.any():  # padding nodes fully masked by a processor: any token will do
            probs[dead, 0] = 1.0
        return torch.multinomial(probs, 1).reshape(b, n)


def _node_prefixes(rows: list[list[int]], parents: list[list[int]],
                   tokens: list[list[int]]) -> list[list[list[int] | None]]:
    """Each tree node's whole token prefix (for logits processors), None for padding nodes."""
    out = []
    for row, row_parents, row_tokens in zip(rows, parents, tokens):
        per_node: list[list[int] | None] = []
        for i, parent in enumerate(row_parents):
            if parent == -2:
                per_node.append(None)
            else:
                per_node.append(row if i == 0 else per_node[parent] + [row_tokens[i]])
        out.append(per_node)
    return out


def _compact(cache: DynamicCache, valid: torch.Tensor, accepted: torch.Tensor,
             accepted_host: np.ndarray) -> torch.Tensor:
    """Keep the ``valid`` cache positions and the ``accepted`` tree nodes of each row (also given
    as a host copy, so deciding how costs no device sync), left-padded; returns the new validity
    mask. When every row accepted as many nodes (always at batch 1), only the tree's part of the
    cache moves; otherwise the rows are re-padded."""
    past = valid.shape[1]
    counts = accepted_host.sum(axis=1)
    if (counts == counts[0]).all():
        m = int(counts[0])
        order = None
        if not accepted_host[:, :m].all():  # else the accepted nodes are already in place
            host_order = np.argsort(~accepted_host, axis=1, kind="stable")[:, :m]
            order = torch.as_tensor(host_order).to(valid.device)
        for layer in cache.layers:
            for name in ("keys", "values"):
                t = getattr(layer, name)
                if order is not None:
                    idx = order[:, None, :, None].expand(-1, t.shape[1], -1, t.shape[3])
                    t[:, :, past:past + m] = torch.gather(t[:, :, past:], 2, idx)
                setattr(layer, name, t[:, :, :past + m])
        return torch.cat([valid, torch.ones_like(accepted[:, :m])], dim=1)
    keep = torch.cat([valid, accepted], dim=1)
    width = int(keep.sum(dim=1).max())
    order = torch.argsort(keep.to(torch.int8), dim=1, stable=True)[:, -width:]
    for layer in cache.layers:
        idx = order[:, None, :, None].expand(-1, layer.keys.shape[1], -1, layer.keys.shape[3])
        layer.keys = torch.gather(layer.keys, 2, idx)
        layer.values = torch.gather(layer.values, 2, idx)
    return torch.gather(keep, 1, order)


def aded_generate(model, input_ids: torch.LongTensor, logits_processor=None, stopping_criteria=None,
                  generation_config=None, synced_gpus: bool = False, streamer=None,
                  trigram_table: TrigramTable | None = None, draft_config: DraftConfig | None = None,
                  draft_seed: int = 0, draft_stats: dict | None = None, skinny_linear: bool = True,
                  **model_kwargs):
    """ADED decoding loop for ``model.generate(custom_generate=aded_generate, ...)``.

    Extra ``generate`` arguments: ``trigram_table`` (a :class:`drafters.TrigramTable`; it learns
    from every request; an empty one, learning from the context only, if omitted),
    ``draft_config`` (:class:`drafters.DraftConfig`; by default
    :meth:`~drafters.DraftConfig.for_model` of the model's device and dtype), ``draft_seed``, ``draft_stats`` (a dict
    that receives ``steps`` (forward passes after the prompt), ``accepted_draft_tokens`` and
    ``new_tokens``), and ``skinny_linear`` (on a CPU, the model's linear layers may verify the
    trees' few rows in another GEMM layout, :mod:`decoding.skinny_linear`, for the sizes where
    the first forwards measured it faster; ``False`` keeps the model's own layout).
    Returns the sequences (prompt included, padded with the pad token after an end of sequence),
    like ``generate``.
    """
    config = generation_config
    device = input_ids.device
    batch, prompt_len = input_ids.shape
    attention = model_kwargs.get("attention_mask")
    if attention is None:
        attention = torch.ones_like(input_ids)
    eos = _eos_ids(config)
    pad = config.pad_token_id if config.pad_token_id is not None else (min(eos) if eos else 0)
    if isinstance(pad, torch.Tensor):
        pad = int(pad.flatten()[0])
    max_length = int(config.max_length)
    table = trigram_table if trigram_table is not None else TrigramTable("")
    model_dtype = next(model.parameters()).dtype
    dtype_name = str(model_dtype).removeprefix("torch.")
    dconfig = draft_config or DraftConfig.for_model(device.type, dtype_name)
    processing = _Processing(logits_processor, bool(config.do_sample))
    layouts = layout_choice(model) if skinny_linear and device.type == "cpu" else None
    keep_logits = bool(getattr(config, "output_logits", False))
    if keep_logits and batch != 1:
        raise ValueError("aded_generate returns output_logits for batch size 1 only")
    raw_logits: list[torch.Tensor] = []  # batch 1: the raw logits that chose each committed token

    rows = [input_ids[b].tolist() for b in range(batch)]
    starts = [int((attention[b] == 0).sum()) for b in range(batch)]  # left padding
    for b in range(batch):
        table.update(rows[b][starts[b]:])
    cache = DynamicCache()
    valid = attention.bool()
    positions = (attention.long().cumsum(1) - 1).clamp(min=0)
    with torch.inference_mode():
        logits = forward_with_cache(model, input_ids, cache, attention_mask=attention,
                                    position_ids=positions)[:, -1:, :]
        first = processing.choose([[r] for r in rows], logits)[:, 0].tolist()
        if keep_logits:
            raw_logits.append(logits[:, 0].float().clone())
    active = [True] * batch
    steps = 0
    accepted_total = 0

    def commit(b: int, new: list[int]) -> None:
        old = len(rows[b])
        for t in new:
            if len(rows[b]) >= max_length:
                break
            rows[b].append(int(t))
            if int(t) in eos:
                break
        if rows[b][-1] in eos or len(rows[b]) >= max_length:
            active[b] = False
        if streamer is not None and batch == 1:
            streamer.put(torch.tensor(rows[b][old:]))
        table.update(rows[b][max(starts[b], old - 2):])  # the trigrams ending in the new tokens

    if streamer is not None and batch == 1:
        streamer.put(input_ids.cpu())
    for b in range(batch):
        commit(b, [first[b]])

    with torch.inference_mode(), skinny_layout(model) if layouts is not None else nullcontext():
        while any(active):
            trees = []
            row_config = dconfig.for_batch(sum(active))
            for b in range(batch):
                r = rows[b]
                if active[b] and len(r) - starts[b] >= 2:
                    tree = draft_tree(table, r[-2], r[-1], row_config, seed=draft_seed + steps * batch + b,
                                      context=np.asarray(r[starts[b]:], dtype=np.int64))
                    trees.append(processing.constrain(tree, r, row_config.max_nodes))
                else:
                    trees.append(EMPTY_TREE)
            host = tree_inputs([r[-1] for r in rows], trees, pad_token=pad)
            tb = host.to(device)
            n = tb.tokens.shape[1]
            allowed = torch.cat([valid[:, None, :].expand(-1, n, -1), tb.ancestors], dim=2)
            mask = torch.zeros(allowed.shape, dtype=model_dtype, device=device)
            mask.masked_fill_(~allowed, torch.finfo(model_dtype).min)
            position_ids = valid.sum(dim=1, keepdim=True) + tb.depths
            host_tokens = host.tokens.tolist()
            prefixes = (_node_prefixes(rows, host.parents.tolist(), host_tokens)
                        if processing.others else None)
            with layouts.measured(tb.tokens.numel()) if layouts is not None else nullcontext():
                logits = forward_with_cache(model, tb.tokens, cache, attention_mask=mask[:, None],
                                            position_ids=position_ids)
            choices = processing.choose(prefixes, logits)
            accepted, last, bonus = accept(tb, choices)
            acc = accepted.cpu().numpy()
            bonus_host = bonus.tolist()
            for b in range(batch):
                if not active[b]:
                    continue
                nodes = [int(i) for i in np.flatnonzero(acc[b][1:]) + 1]  # the chain, root first
                accepted_total += len(nodes)
                before = len(rows[b])
                commit(b, [host_tokens[b][i] for i in nodes] + [bonus_host[b]])
                if keep_logits:  # token k was chosen at the root or at accepted node k-1
                    chosen_at = [0] + nodes
                    raw_logits.extend(logits[b, i:i + 1].float().clone()
                                      for i in chosen_at[: len(rows[b]) - before])
            valid = _compact(cache, valid, accepted, acc)
            steps += 1
    if streamer is not None:
        streamer.end()
    width = max(len(r) for r in rows)
    out = torch.full((batch, width), pad, dtype=torch.long)
    for b, r in enumerate(rows):
        out[b, : len(r)] = torch.tensor(r)
    out = out.to(device)
    if draft_stats is not None:
        draft_stats.update(steps=steps, accepted_draft_tokens=accepted_total,
                           new_tokens=sum(len(r) - prompt_len for r in rows))
    if getattr(config, "return_dict_in_generate", False):
        from transformers.generation.utils import GenerateDecoderOnlyOutput

        return GenerateDecoderOnlyOutput(sequences=out,
                                         logits=tuple(raw_logits) if keep_logits else None)
    return out
