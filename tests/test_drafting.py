"""ADED: tri-gram table, draft trees, tree verification, and the generate loop on real models."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from decoding.drafting import aded_generate, build_trigram_table, load_trigram_table
from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from drafters import DraftConfig, DraftTree, TableMismatchError, TrigramTable, draft_tree, tree_inputs

CORPUS = [
    "The capital of France is Paris. Paris is known for the Eiffel Tower.",
    "Python is a programming language. Python code is easy to read.",
    "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n",
]
PROMPTS = [
    "What is the capital of France? Answer in one sentence.",
    "Copy this line exactly: the quick brown fox jumps over the lazy dog.",
    "Write a Python function that adds two numbers.",
]


@pytest.fixture(scope="module")
def model_and_tokenizer():
    from decoding.models import load_test_model

    return load_test_model()


def chat(tok, prompts, **kw):
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                     tokenize=False) for p in prompts]
    tok.padding_side = "left"
    return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False, **kw)


# -- the table -------------------------------------------------------------------------------------


def test_table_counts_prunes_updates_and_grows():
    docs = [[1, 2, k] for k in range(3, 20)] + [[1, 2, 3]] * 5
    table = TrigramTable.from_token_ids(docs, "toy", keep=12)
    toks, scores = table.successors(1, 2)
    assert len(toks) == 12 and toks[0] == 3
    assert scores[0] == pytest.approx(6 / 22)
    table.update([1, 2, 99])  # a new successor replaces the weakest entry once the row is full
    assert 99 in table.successors(1, 2)[0].tolist()
    for _ in range(200):
        table.update([5, 6, 7])
    assert table.successors(5, 6)[1][0] == pytest.approx(3.0)  # capped
    many = np.arange(10_000) % 5000
    table.update(many.tolist())  # thousands of new pairs: the hash table grows
    assert table.successors(10, 11)[0].tolist() == [12]
    assert table.successors(3, 4)[0].tolist() == [5]
    before = table.successors(1, 2)[1][0]
    table.update([1, 2, 3], start=3)  # only trigrams ending at index >= start are learnt
    assert table.successors(1, 2)[1][0] == before
    table.update([1, 2, 3], start=2)
    assert table.successors(1, 2)[1][0] == pytest.approx(before + table.increment)


def test_table_round_trip_and_tokenizer_mismatch(tmp_path, model_and_tokenizer):
    _, tok = model_and_tokenizer
    table = build_trigram_table(CORPUS, tok)
    path = tmp_path / "table.npz"
    table.save(path)
    loaded = load_trigram_table(path, tok)
    ids = tok("Paris is known for")["input_ids"]
    assert loaded.successors(ids[0], ids[1])[0].tolist() == table.successors(ids[0], ids[1])[0].tolist()
    assert loaded.pairs == table.pairs
    with pytest.raises(TableMismatchError, match="another tokenizer"):
        TrigramTable.load(path, "fingerprint-of-another-tokenizer")


def test_draft_tree_is_bounded_and_follows_the_table():
    table = TrigramTable.from_token_ids([list(range(1, 30))] * 3 + [[1, 2, 50, 51]], "toy")
    tree = draft_tree(table, 1, 2, DraftConfig(max_nodes=6))
    assert 0 < len(tree) <= 6
    assert tree.tokens[0] == 3 and tree.parents[0] == -1
    for i in range(len(tree)):
        p = tree.parents[i]
        assert p < i and (p == -1 or tree.depths[i] == tree.depths[p] + 1)
    assert draft_tree(table, 1, 2, DraftConfig(max_nodes=6), seed=5).tokens.tolist() == \
        draft_tree(table, 1, 2, DraftConfig(max_nodes=6), seed=5).tokens.tolist()
    assert len(draft_tree(table, 77, 78)) == 0  # unknown pair: no draft
    config = DraftConfig(max_nodes=16, max_batch_nodes=32)
    assert config.for_batch(1) is config and config.for_batch(4).max_nodes == 8
    assert config.for_batch(100).max_nodes == 1


def test_context_path_copies_what_followed_the_last_ngram():
    from drafters.search import context_continuation

    ctx = np.array([5, 1, 2, 3, 4, 9, 9, 1, 2, 3, 7, 8, 1, 2, 3])
    copied, size = context_continuation(ctx, 4)
    assert copied.tolist() == [7, 8, 1, 2] and size == 3  # the latest earlier "1 2 3"
    copied, size = context_continuation(np.array([1, 2, 6, 1, 2]), 3)
    assert copied.tolist() == [6, 1, 2] and size == 2  # bigram match
    copied, size = context_continuation(np.array([4, 9, 5, 4]), 3)
    assert copied.tolist() == [9, 5, 4] and size == 1  # one-token match
    copied, size = context_continuation(np.array([1, 2, 3]), 3)
    assert copied.tolist() == [] and size == 0
    table = TrigramTable("toy")
    tree = draft_tree(table, 2, 3, DraftConfig(max_nodes=3), context=ctx)
    assert tree.tokens.tolist() == [7, 8, 1] and tree.parents.tolist() == [-1, 0, 1]


def test_draft_keeps_the_likely_nodes_only():
    from dataclasses import replace

    table = TrigramTable("toy")  # empty: the context path is the only candidate
    ctx = np.array(list(range(100, 130)) + [7, 8] + list(range(100, 102)))
    config = DraftConfig(max_nodes=16, min_nodes=2)
    # the copied path's k-th token is worth context_first * context_next ** (k - 1)
    likely = [k for k in range(1, 17)
              if config.context_first * config.context_next ** (k - 1) >= config.min_prob]
    tree = draft_tree(table, 100, 101, config, context=ctx)
    assert tree.tokens.tolist() == list(range(102, 102 + len(likely)))
    assert 2 < len(tree) < 16
    assert len(draft_tree(table, 100, 101, replace(config, min_prob=1.0), context=ctx)) == 2
    assert len(draft_tree(table, 100, 101, replace(config, min_prob=0.0), context=ctx)) == 16
    # a table row splits its parent's likelihood by visits: 9 of 10 continuations are 5
    table = TrigramTable.from_token_ids([[1, 2, 5]] * 9 + [[1, 2, 6]], "toy")
    tree = draft_tree(table, 1, 2, DraftConfig(min_nodes=1, min_prob=0.5, extend=0))
    assert tree.tokens.tolist() == [5]


def test_skinny_layout_is_scoped_to_its_thread_and_block():
    import threading

    from decoding.skinny_linear import skinny_layout, skinny_rows

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 48), torch.nn.Linear(48, 16, bias=False))
    x = torch.randn(5, 32)
    plain = model(x)
    skinny_first = torch.mm(model[0].weight, x.t()).t() + model[0].bias
    other_thread = {}
    with torch.inference_mode(), skinny_layout(model):
        worker = threading.Thread(target=lambda: other_thread.update(y=model[0](x)))
        with skinny_rows():
            assert torch.equal(model[0](x), skinny_first)  # the other layout, exactly
            worker.start()
            worker.join()
            assert torch.allclose(model(x), plain, atol=1e-5)
            one_row = torch.nn.functional.linear(x[:1], model[0].weight, model[0].bias)
            assert torch.equal(model[0](x[:1]), one_row)  # one row: F.linear as ever
        assert torch.equal(model(x), plain)  # outside skinny_rows: F.linear
    assert torch.equal(other_thread["y"], torch.nn.functional.linear(x, model[0].weight, model[0].bias))
    assert not any("forward" in vars(m) for m in model.modules())
    # a forward someone else set on the instance (accelerate's hooks do) is left as it is
    hooked = model[1].forward = lambda inp: torch.zeros(inp.shape[0], 16)
    with torch.inference_mode(), skinny_layout(model), skinny_rows():
        assert torch.equal(model(x), torch.zeros(5, 16))
    assert vars(model[1])["forward"] is hooked and "forward" not in vars(model[0])


def test_layout_choice_keeps_the_faster_layout_per_size():
    from decoding.skinny_linear import LayoutChoice

    choice = LayoutChoice(trials=2)
    seen = []
    for _ in range(4):  # two timed forwards of each layout, alternating
        skinny = choice.use_skinny(6)
        seen.append(skinny)
        choice.record(6, skinny, 0.01 if skinny else 0.02)
    assert sorted(seen) == [False, False, True, True]
    assert choice.use_skinny(6) is True
    for _ in range(4):
        skinny = choice.use_skinny(9)
        choice.record(9, skinny, 0.03 if skinny else 0.02)
    assert choice.use_skinny(9) is False and choice.use_skinny(6) is True


# -- verification ----------------------------------------------------------------------------------


@pytest.mark.parametrize("skinny", [False, True])
def test_tree_attention_logits_equal_each_prefix_run_alone(model_and_tokenizer, skinny):
    from contextlib import nullcontext

    from transformers import DynamicCache

    from decoding.skinny_linear import skinny_layout, skinny_rows

    model, tok = model_and_tokenizer
    prompt = tok("The quick brown fox jumps over the", return_tensors="pt")["input_ids"]
    words = [tok(w, add_special_tokens=False)["input_ids"][0] for w in (" lazy", " dog", " cat", " old", " fence")]
    tree = DraftTree(np.array(words), np.array([-1, 0, 0, -1, 3]), np.array([1, 2, 2, 1, 2]))
    root = tok(" the", add_special_tokens=False)["input_ids"][0]
    batch = tree_inputs([root], [tree])
    cache = DynamicCache()
    n = batch.tokens.shape[1]
    with torch.inference_mode():
        model(prompt, cache=cache, use_cache=True)
        past = prompt.shape[1]
        allowed = torch.cat([torch.ones(1, n, past, dtype=torch.bool), batch.ancestors], dim=2)
        mask = torch.zeros(allowed.shape).masked_fill_(~allowed, torch.finfo(torch.float32).min)
        with skinny_layout(model), (skinny_rows() if skinny else nullcontext()):  # 6 rows
            logits = model(batch.tokens, cache=cache, attention_mask=mask[:, None],
                           position_ids=past + batch.depths).logits[0]
        for i in range(n):
            path = []
            j = i
            while j >= 0:
                path.append(int(batch.tokens[0, j]))
                j = int(batch.parents[0, j])
            alone = model(torch.cat([prompt, torch.tensor([path[::-1]])], dim=1)).logits[0, -1]
            assert torch.allclose(logits[i], alone, atol=1e-3), i
    assert not any("forward" in vars(m) for m in model.modules())  # the layers are as they were


@pytest.mark.parametrize("batch_size,max_new", [(1, 8), (1, 40), (3, 24), (2, 48)])
def test_greedy_output_equals_plain_generate(model_and_tokenizer, batch_size, max_new):
    model, tok = model_and_tokenizer
    table = build_trigram_table(CORPUS, tok)
    for start in range(0, len(PROMPTS), batch_size):
        inputs = chat(tok, PROMPTS[start:start + batch_size])
        plain = model.generate(**inputs, max_new_tokens=max_new, do_sample=False)
        stats_: dict = {}
        ours = model.generate(**inputs, max_new_tokens=max_new, do_sample=False,
                              custom_generate=aded_generate, trigram_table=table,
                              draft_stats=stats_)
        width = min(plain.shape[1], ours.shape[1])
        assert torch.equal(ours[:, :width], plain[:, :width])
        assert ours.shape == plain.shape
        assert stats_["steps"] <= stats_["new_tokens"]


def test_grammar_constrained_greedy_is_unchanged(model_and_tokenizer):
    model, tok = model_and_tokenizer
    compiled = compile_for_tokenizer("json", tok, model=model)
    inputs = chat(tok, ["Describe a cat as JSON with a name and an age."])
    plain = model.generate(**inputs, max_new_tokens=40, do_sample=False,
                           logits_processor=[GrammarLogitsProcessor(compiled)])
    ours = model.generate(**inputs, max_new_tokens=40, do_sample=False,
                          logits_processor=[GrammarLogitsProcessor(compiled)],
                          custom_generate=aded_generate, trigram_table=build_trigram_table(CORPUS, tok))
    assert torch.equal(ours, plain)


def test_grammar_aware_drafting_prunes_and_jumps_forward(model_and_tokenizer):
    from decoding.drafting import constrain_tree
    from grammars import Grammar, GrammarMatcher

    model, tok = model_and_tokenizer
    cg = compile_for_tokenizer(Grammar.from_lark('start: "The answer is " /[0-9]+/ "."'), tok, model=model)
    ids = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    good, bad = ids(" answer is 42."), ids(" cat sat")
    tree = DraftTree(np.array(good + bad), np.array([-1] + list(range(len(good) - 1)) + [-1] +
                                                    list(range(len(good), len(good) + len(bad) - 1))),
                     np.array(list(range(1, len(good) + 1)) + list(range(1, len(bad) + 1))))
    matcher = GrammarMatcher(cg)
    matcher.advance(ids("The")[0])
    pruned = constrain_tree(tree, matcher, 16)
    spelled = {tok.decode(list(p)) for p in pruned.token_paths()}
    assert " answer is 42." in spelled  # kept (the forced " answer is " shares its first tokens)
    assert not any("cat" in s for s in spelled)  # the forbidden branch is cut
    fresh = GrammarMatcher(cg)
    forced = constrain_tree(DraftTree(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                      np.zeros(0, np.int64)), fresh, 16)
    assert tok.decode(list(forced.token_paths()[0])) == "The answer is "  # jump-forward drafts


def tiny_model(vocab: int = 6, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                         bos_token_id=0, eos_token_id=5, pad_token_id=5)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)  # a peaked, far from uniform, distribution
    return model


def test_sampling_follows_the_models_distribution():
    """Two sampled tokens after a fixed prompt, on a small real Llama: ADED's output frequencies
    against the exact distribution (temperature and top-k applied)."""
    model = tiny_model()
    prompt = torch.tensor([[0, 1, 2]])
    temperature, top_k = 0.9, 4

    def warped_logprobs(ids):
        with torch.no_grad():
            logits = model(ids).logits[0, -1] / temperature
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -float("inf"))
        return torch.log_softmax(logits, dim=-1)

    exact = {}
    first = warped_logprobs(prompt)
    for a in range(6):
        if first[a] == -float("inf"):
            continue
        if a == 5:
            exact[(5,)] = float(first[a].exp())
            continue
        second = warped_logprobs(torch.cat([prompt, torch.tensor([[a]])], dim=1))
        for b in range(6):
            if second[b] > -float("inf"):
                exact[(a, b)] = float((first[a] + second[b]).exp())
    # Drafts that are often right and often wrong: a table from random sequences.
    rng = np.random.default_rng(0)
    table = TrigramTable.from_token_ids([rng.integers(0, 6, 40).tolist() for _ in range(20)], "tiny")
    torch.manual_seed(1)
    counts = dict.fromkeys(exact, 0)
    rows, calls = 50, 60  # each call samples 50 rows of the same prompt, in one batch
    n = rows * calls
    accepted = 0
    for _ in range(calls):
        stats_: dict = {}
        ids = prompt.expand(rows, -1)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=2,
                             do_sample=True, temperature=temperature, top_k=top_k, top_p=1.0,
                             custom_generate=aded_generate, trigram_table=table.copy(),
                             draft_config=DraftConfig(max_batch_nodes=16 * rows),
                             draft_stats=stats_, pad_token_id=5, eos_token_id=5)
        for gen in out[:, 3:].tolist():
            key = (5,) if gen[0] == 5 else tuple(gen[:2])
            counts[key] += 1
        accepted += stats_["accepted_draft_tokens"]
    assert accepted > n // 10  # drafts were accepted often: the test exercises the tree walk
    keys = [k for k in exact if exact[k] * n >= 5]
    obs = [counts[k] for k in keys] + [n - sum(counts[k] for k in keys)]
    exp = [exact[k] * n for k in keys] + [n - sum(exact[k] * n for k in keys)]
    assert stats.chisquare(obs, exp).pvalue > 1e-3


def test_warpers_and_processors_are_split():
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
    )

    from decoding.drafting import _Processing

    proc = _Processing(LogitsProcessorList([RepetitionPenaltyLogitsProcessor(2.0),
                                            TemperatureLogitsWarper(0.5)]), do_sample=False)
    assert len(proc.warpers) == 1 and len(proc.others) == 1
    logits = torch.tensor([[[1.0, 1.5, 0.0], [1.0, 0.0, 0.0]]])
    # Node 0's prefix contains token 1: the penalty halves its score, so token 0 wins there.
    choice = proc.choose([[[1], [2]]], logits)
    assert choice.tolist() == [[0, 0]]
    assert list(itertools.chain(*choice.tolist())) == [0, 0]
