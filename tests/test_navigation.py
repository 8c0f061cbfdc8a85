"""In-context navigation (samplers.navigation, decoding.navigation) on the real test model."""

from __future__ import annotations

import warnings

import pytest
import torch

from decoding.navigation import HFTextModel, TextStoppingCriteria, navigate_hf
from samplers.navigation import (
    ITEM_STOP,
    anchored_ranking,
    extract_item,
    list_prompt,
    navigate,
    navigate_reasoning,
    normalise_item,
    reasoning_prompt,
    truncate_after,
)

PLANETS = "Please name some planets of the solar system."
PLANET_NAMES = {"mercury", "venus", "earth", "mars", "jupiter", "saturn", "uranus", "neptune"}
ATTEMPTS = 10
MAX_ITEM_TOKENS = 24


class Recorder:
    """A text model that records the prompts it ranks and completes."""

    def __init__(self, model):
        self.model = model
        self.ranked = []
        self.completed = []

    def rank_first_tokens(self, prompt):
        self.ranked.append(prompt)
        return self.model.rank_first_tokens(prompt)

    def complete(self, prompts, stop, max_new_tokens, *, greedy=True):
        self.completed.extend(prompts)
        return self.model.complete(prompts, stop, max_new_tokens, greedy=greedy)


class Letters:
    """A stand-in model: every first token is a whole item, except "?" (which never closes)."""

    def rank_first_tokens(self, prompt):
        return ["?", "Aa", "Bb", "Cc", "Dd", "Ee", "Ff"]

    def complete(self, prompts, stop, max_new_tokens, *, greedy=True):
        return [" and so on" if p.response.endswith("?") else stop for p in prompts]


@pytest.fixture(scope="module")
def lm(test_model, test_tokenizer):
    return HFTextModel(test_model, test_tokenizer)


@pytest.fixture(scope="module")
def icn_run(lm):
    recorder = Recorder(lm)
    result = navigate(recorder, PLANETS, rounds=ATTEMPTS, per_round=1, max_attempts=ATTEMPTS,
                      max_new_tokens=MAX_ITEM_TOKENS)
    return recorder, result


@pytest.fixture(scope="module")
def baseline_run(lm):
    recorder = Recorder(lm)
    result = navigate(recorder, PLANETS, rounds=ATTEMPTS, per_round=1, navigate=False,
                      max_attempts=ATTEMPTS, max_new_tokens=MAX_ITEM_TOKENS)
    return recorder, result


def correct_planets(result):
    return {normalise_item(item) for item in result.items} & PLANET_NAMES


@pytest.mark.parametrize("run", ["icn_run", "baseline_run"])
def test_navigation_never_repeats_an_explored_item(run, request):
    _, result = request.getfixturevalue(run)
    keys = [normalise_item(item) for item in result.items]
    assert len(keys) == len(set(keys))
    seen = set()
    for attempt in result.attempts:
        if attempt.item is not None:
            assert attempt.new == (normalise_item(attempt.item) not in seen), attempt
            seen.add(normalise_item(attempt.item))
    assert result.tried == ATTEMPTS
    assert len({a.first_token for a in result.attempts}) == ATTEMPTS  # no first token twice


def test_icn_prompt_lists_the_explored_items_numbered(icn_run):
    recorder, result = icn_run
    assert len(recorder.ranked) >= 2
    for prompt in recorder.ranked:
        explored = result.items[:prompt.response.count("\n") - 1]
        listing = "".join(f'{i}. "{item}"\n' for i, item in enumerate(explored, 1))
        assert prompt.user == PLANETS
        assert prompt.response == f'Answer:\n{listing}{len(explored) + 1}. "'
    # Restarts rank the plain prompt too, so the longest listing is the last navigated round's.
    assert max(p.response.count("\n") for p in recorder.ranked) - 1 >= len(result.items) - 1


def test_baseline_ranks_from_the_plain_prompt(baseline_run):
    recorder, _ = baseline_run
    assert recorder.ranked and all(p == list_prompt(PLANETS, []) for p in recorder.ranked)


def test_completions_start_from_the_plain_prompt_and_the_first_token(icn_run):
    recorder, result = icn_run
    plain = list_prompt(PLANETS, [])
    assert recorder.completed == [plain.extended(a.first_token) for a in result.attempts]


def test_completion_from_the_icn_prompt(lm):
    recorder = Recorder(lm)
    result = navigate(recorder, PLANETS, rounds=2, per_round=1, complete_from="icn",
                      max_new_tokens=MAX_ITEM_TOKENS)
    assert recorder.completed[-1] == list_prompt(PLANETS, result.items[:1]).extended(
        result.attempts[-1].first_token)


def test_each_completion_is_the_greedy_continuation(lm, test_model, test_tokenizer, icn_run):
    _, result = icn_run
    prompts = [list_prompt(PLANETS, []).extended(a.first_token) for a in result.attempts[:4]]
    batched = lm.complete(prompts, ITEM_STOP, MAX_ITEM_TOKENS)  # left-padded, one batch
    for prompt, completion, attempt in zip(prompts, batched, result.attempts):
        ids = test_tokenizer(prompt.text, return_tensors="pt")
        with torch.inference_mode():
            out = test_model.generate(**ids, max_new_tokens=MAX_ITEM_TOKENS, do_sample=False)
        direct = test_tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        assert completion == truncate_after(direct, ITEM_STOP)
        assert attempt.text == attempt.first_token + completion


def test_icn_finds_more_planets_than_the_first_token_baseline(icn_run, baseline_run):
    # Measured (fp32): ICN 4 planets in 10 attempts (Earth, Mars, Jupiter, Saturn; 3 with
    # anchor=True), the top-10 distinct first tokens 2 (Mercury, Earth).
    icn, baseline = correct_planets(icn_run[1]), correct_planets(baseline_run[1])
    assert len(icn) >= 4, icn_run[1].items
    assert len(icn) > len(baseline), (icn, baseline)


def test_stop_criteria_finds_the_quote_inside_a_token(test_tokenizer):
    ids = test_tokenizer('1. "Mars",')["input_ids"]
    assert test_tokenizer.convert_ids_to_tokens(ids[-1:]) == ['",']
    prompt_length = len(test_tokenizer('1. "')["input_ids"])
    rows = torch.tensor([ids, ids[:-1] + [test_tokenizer.pad_token_id]])
    stops = TextStoppingCriteria(test_tokenizer, '"', prompt_length)(rows, None)
    assert stops.tolist() == [True, False]


def test_stop_string_across_tokens(test_tokenizer):
    ids = test_tokenizer("Step 1: add.\n#")["input_ids"] + test_tokenizer("##")["input_ids"]
    stops = TextStoppingCriteria(test_tokenizer, "###", prompt_length=2)
    assert stops(torch.tensor([ids]), None).tolist() == [True]
    assert stops(torch.tensor([ids[:-1]]), None).tolist() == [False]


def test_item_ends_at_the_first_closing_quote():
    assert extract_item('Mars",\n2. "Venus"') == "Mars"
    assert truncate_after('Mars",\n2. "Venus"', '"') == 'Mars"'
    assert extract_item('"') is None                  # empty item
    assert extract_item("Mars and Venus") is None     # no closing quote


def test_no_closing_quote_is_no_item_not_the_word_nothing():
    result = navigate(Letters(), "Name some letters.", rounds=2, per_round=2)
    assert result.items == ["Aa", "Bb", "Cc", "Dd"]
    assert [(a.first_token, a.text, a.item) for a in result.failed] == [("?", "? and so on", None)]
    assert result.tried == 5 and result.first_tokens == ["Aa", "Bb", "Cc", "Dd"]


def test_the_listed_items_are_capped_with_one_warning():
    recorder = Recorder(Letters())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = navigate(recorder, "Name some letters.", rounds=5, per_round=1, max_listed=2)
    assert result.items == ["Aa", "Bb", "Cc", "Dd", "Ee"]
    assert [str(w.message) for w in caught] == [
        "the navigation prompt lists only the last 2 of the explored items"]
    assert recorder.ranked[-1] == list_prompt("Name some letters.", ["Cc", "Dd"])


def test_max_attempts_counts_repeats_and_failures():
    result = navigate(Letters(), "Name some letters.", rounds=3, per_round=2, max_attempts=3)
    assert result.tried == 3 and result.items == ["Aa", "Bb"]


class Drifter:
    """A stand-in model whose navigation ranking drifts to lone capital letters once a planet is
    listed, while the plain prompt's ranking keeps good first tokens."""

    def rank_first_tokens(self, prompt):
        if prompt.response.endswith('Answer:\n1. "'):
            return ["Mars", "Venus", "Earth", "Pluto"]
        return ["K", "Q", "Mars"]

    def complete(self, prompts, stop, max_new_tokens, *, greedy=True):
        return [stop for _ in prompts]


def test_drifting_answers_are_refused_and_navigation_restarts_from_the_plain_ranking():
    result = navigate(Drifter(), PLANETS, rounds=4, per_round=1)
    assert result.items == ["Mars", "Venus", "Earth", "Pluto"]
    assert [(a.first_token, a.item) for a in result.failed] == [("K", None), ("Q", None)]
    assert result.tried == 6


def test_without_drift_control_navigation_keeps_the_drift():
    result = navigate(Drifter(), PLANETS, rounds=4, per_round=1, accept=None, restart=False)
    assert result.items == ["Mars", "K", "Q"]   # then the ranking has nothing untried: it stops


class Alphabet:
    """A stand-in model whose navigation ranking runs down the alphabet once an item is listed
    (plausible-looking items the format check cannot refuse), while the plain prompt ranks the
    planets first and the fruit nowhere in its top tokens."""

    FILLER = [f"?{i}" for i in range(20)]  # never closed: no item

    def rank_first_tokens(self, prompt):
        if prompt.response.endswith('Answer:\n1. "'):
            return ["Mars", "Venus", "Earth", *self.FILLER]
        return ["Apple", "Banana", "Cherry", "Earth", "Venus", *self.FILLER]

    def complete(self, prompts, stop, max_new_tokens, *, greedy=True):
        return [" and so on" if "?" in p.response.split('"')[-1] else stop for p in prompts]


def test_anchoring_keeps_navigation_on_what_the_plain_prompt_finds_likely():
    anchored = navigate(Alphabet(), PLANETS, rounds=3, per_round=1, anchor=True)
    assert anchored.items == ["Mars", "Earth", "Venus"] and anchored.tried == 3
    drifting = navigate(Alphabet(), PLANETS, rounds=3, per_round=1)
    assert drifting.items == ["Mars", "Apple", "Banana"]


def test_anchored_ranking_sums_positions_and_keeps_every_token():
    ranking, plain = ["K", "Venus", "Mars"], ["Mars", "Venus", "Earth", "Moon"]
    # positions summed (missing: the list's length): K 0 + 4, Venus 1 + 1, Mars 2 + 0,
    # Earth 3 + 2, Moon 3 + 3; Venus and Mars tie and keep the round's order
    assert anchored_ranking(ranking, plain) == ["Venus", "Mars", "K", "Earth", "Moon"]
    assert anchored_ranking(plain, plain) == plain  # one ranking against itself: unchanged
    assert anchored_ranking(["A", "A", "B"], []) == ["A", "B"]


def test_reasoning_paths_start_with_distinct_tokens(lm):
    recorder = Recorder(lm)
    question = "Tom has 3 apples and buys 4 more. How many apples does he have now?"
    result = navigate_reasoning(recorder, question, n_paths=2, max_path_tokens=12,
                                max_answer_tokens=4)
    assert len(result.paths) == 2
    assert result.paths[0].first_token != result.paths[1].first_token
    assert recorder.ranked == [reasoning_prompt(question, []),
                               reasoning_prompt(question, [result.paths[0].text])]
    assert result.vote in {a for a in result.answers if a is not None} | {None}


@pytest.mark.parametrize("call, message", [
    (lambda m: navigate(m, "  ", 1, 1), "instruction is empty"),
    (lambda m: navigate(m, PLANETS, 0, 1), "rounds and per_round"),
    (lambda m: navigate(m, PLANETS, 1, 0), "rounds and per_round"),
    (lambda m: navigate(m, PLANETS, 1, 1, max_attempts=0), "max_attempts"),
    (lambda m: navigate(m, PLANETS, 1, 1, complete_from="list"), "complete_from"),
    (lambda m: navigate_reasoning(m, "", 2), "question is empty"),
    (lambda m: navigate_reasoning(m, "What is 2 + 2?", 0), "n_paths"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(Letters())


def test_hf_adapter_refuses_a_bad_top_k(test_model, test_tokenizer):
    with pytest.raises(ValueError, match="top_k"):
        HFTextModel(test_model, test_tokenizer, top_k=0)


def test_navigate_hf_is_one_call(test_model, test_tokenizer):
    result = navigate_hf(test_model, test_tokenizer, PLANETS, rounds=1, per_round=2,
                         max_new_tokens=MAX_ITEM_TOKENS)
    assert result.items == ["The Sun", "Planets of the Solar System"]


def test_chat_rendering_puts_the_response_in_the_assistant_turn(test_model, test_tokenizer):
    lm = HFTextModel(test_model, test_tokenizer, chat=True)
    prompt = list_prompt(PLANETS, ["Mars"])
    text = lm.render(prompt)
    assert text.startswith("<|im_start|>") and f"{PLANETS}<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n" + prompt.response)
    assert lm.encode([prompt])["input_ids"][0].tolist() == test_tokenizer(
        text, add_special_tokens=False)["input_ids"]
    assert lm.rank_first_tokens(prompt)
