"""In-context navigation (ICN; Peng, An and Shang, ICLR 2025): put what was explored so far into
the context and let the model's first-token ranking move away from it.

- :func:`navigate` (knowledge probing, open-ended lists): each round ranks the first tokens of the
  next list item after a numbered list of the items explored so far, and greedily completes the
  best unprobed first tokens from the *plain* prompt (the list is only used to choose where to
  start). ``navigate=False`` is the baseline: the top distinct first tokens of the plain prompt.
- :func:`navigate_reasoning` (chain-of-thought self-consistency): the same for solution paths,
  with a majority vote over the numeric answers.

Prompts are raw text by default, as in the reference code: a :class:`Prompt` is a user part and
the start of the response, joined by a blank line; an adapter may render them through a chat
template instead. The model is anything with the two methods of :class:`TextModel`
(:class:`decoding.navigation.HFTextModel` for Hugging Face models). Knows no model library.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Attempt", "NavigationResult", "Prompt", "ReasoningPath", "ReasoningResult",
           "TextModel", "anchored_ranking", "extract_item", "extract_number", "list_prompt", "navigate",
           "navigate_reasoning", "normalise_item", "plausible_item", "reasoning_prompt", "truncate_after"]

ITEM_STOP = '"'
PATH_STOP = "###"
ANSWER_CUE = '**Final Answer (Only Number):** "'
LIST_CUE = "Answer:\n"
WAYS_REQUEST = "Please show me some different ways to solve this problem."
WAYS_CUE = "Here are different ways to solve the problem:\n"
STEP_ONE = "* **Step 1:**\n"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Prompt:
    """A prompt: the user's part and the start of the response. As raw text (the default for
    ICN) they are joined by a blank line.

    Example:
        >>> Prompt("Name a planet.", 'Answer:\\n1. "').text
        'Name a planet.\\n\\nAnswer:\\n1. "'
        >>> Prompt("Name a planet.", 'Answer:\\n1. "').extended("Mars").response
        'Answer:\\n1. "Mars'
    """

    user: str
    response: str

    @property
    def text(self) -> str:
        return f"{self.user}\n\n{self.response}"

    def extended(self, continuation: str) -> Prompt:
        """The same prompt with ``continuation`` appended to the response."""
        return Prompt(self.user, self.response + continuation)


class TextModel(Protocol):
    """What ICN needs from a language model, on text."""

    def rank_first_tokens(self, prompt: Prompt) -> list[str]:
        """Decoded next tokens after ``prompt``, most likely first (a top-k of the vocabulary is
        enough; special and whitespace-only tokens left out)."""
        ...

    def complete(self, prompts: Sequence[Prompt], stop: str, max_new_tokens: int, *,
                 greedy: bool = True) -> list[str]:
        """The continuation of each prompt (greedy, or sampled at temperature 1), ending right
        after the first occurrence of ``stop`` in the decoded text, or where generation ended
        (end of sequence, ``max_new_tokens``) when ``stop`` never appeared."""
        ...


# --------------------------------------------------------------------------------------------------
# Algorithm A: lists


def list_prompt(instruction: str, explored: Sequence[str]) -> Prompt:
    """The instruction, then a numbered list of the explored items, then the next number and an
    opening quote.

    Example:
        >>> print(list_prompt("Name some planets.", ["Mars", "Venus"]).text)
        Name some planets.
        <BLANKLINE>
        Answer:
        1. "Mars"
        2. "Venus"
        3. "
    """
    listing = "".join(f'{i}. "{item}"\n' for i, item in enumerate(explored, 1))
    return Prompt(instruction, f'{LIST_CUE}{listing}{len(explored) + 1}. "')


def extract_item(text: str, stop: str = ITEM_STOP) -> str | None:
    """The item in ``text`` (what was generated after the opening quote): everything before the
    first ``stop``, stripped; ``None`` when ``stop`` never came or the item is empty.

    Example:
        >>> extract_item('Mars",\\n2. "Venus"')
        'Mars'
        >>> extract_item("Mars is the fourth planet") is None
        True
    """
    end = text.find(stop)
    if end < 0:
        return None
    return text[:end].strip() or None


def truncate_after(text: str, stop: str) -> str:
    """``text`` up to and including the first ``stop``, or all of it when ``stop`` is absent: the
    stop matcher over detokenised text, so a stop inside a longer token (``",``) or split across
    tokens is found as well.

    Example:
        >>> truncate_after('Mars",\\n2. "', '"'), truncate_after("Mars is", '"')
        ('Mars"', 'Mars is')
    """
    end = text.find(stop)
    return text if end < 0 else text[:end + len(stop)]


def normalise_item(item: str) -> str:
    """The key under which items count as the same: whitespace collapsed, case folded.

    Example:
        >>> normalise_item("  North   America ") == normalise_item("north america")
        True
    """
    return " ".join(item.split()).casefold()


@dataclass(frozen=True)
class Attempt:
    """One probed first token: the text generated after the opening quote (the first token and
    its completion), the item in it (``None``: no closing quote, or empty) and whether the item
    was new."""

    first_token: str
    text: str
    item: str | None
    new: bool


@dataclass(frozen=True)
class NavigationResult:
    """The distinct items found, in order, and every attempt that led to them."""

    items: list[str]
    attempts: list[Attempt]

    @property
    def first_tokens(self) -> list[str]:
        """The first token of each item in :attr:`items`."""
        return [a.first_token for a in self.attempts if a.new]

    @property
    def tried(self) -> int:
        """How many first tokens were completed."""
        return len(self.attempts)

    @property
    def failed(self) -> list[Attempt]:
        """The attempts whose text held no item."""
        return [a for a in self.attempts if a.item is None]


def plausible_item(item: str, max_words: int = 6) -> bool:
    """The default format check of :func:`navigate`: a list item of one to ``max_words`` words on
    one line, with at least two letters (a lone capital letter or a number is refused).

    Example:
        >>> plausible_item("New Zealand"), plausible_item("K"), plausible_item("a b c d e f g")
        (True, False, False)
    """
    words = item.split()
    return 1 <= len(words) <= max_words and "\n" not in item and sum(map(str.isalpha, item)) >= 2


def anchored_ranking(ranking: Sequence[str], plain: Sequence[str]) -> list[str]:
    """The tokens of both rankings ordered by the sum of their positions in ``ranking`` (the
    navigation prompt's) and in ``plain`` (the plain prompt's); a token missing from one list
    counts at that list's end, and ties keep ``ranking``'s order.

    Example:
        >>> anchored_ranking(["K", "Venus", "Mars"], ["Mars", "Venus", "Earth", "Moon"])
        ['Venus', 'Mars', 'K', 'Earth', 'Moon']
    """
    ranking, plain = list(dict.fromkeys(ranking)), list(dict.fromkeys(plain))
    here = {t: i for i, t in enumerate(ranking)}
    there = {t: i for i, t in enumerate(plain)}
    tokens = ranking + [t for t in plain if t not in here]
    position = {t: i for i, t in enumerate(tokens)}
    return sorted(tokens, key=lambda t: (here.get(t, len(ranking)) + there.get(t, len(plain)),
                                         position[t]))


def navigate(model: TextModel, instruction: str, rounds: int, per_round: int, *,
             navigate: bool = True, complete_from: Literal["plain", "icn"] = "plain",
             completion: Literal["greedy", "sample"] = "greedy", max_new_tokens: int = 64,
             max_listed: int = 50, max_attempts: int | None = None,
             accept: Callable[[str], bool] | None = plausible_item,
             restart: bool = True, anchor: bool = False) -> NavigationResult:
    """Up to ``rounds * per_round`` distinct items for ``instruction``.

    Each round ranks the first tokens after :func:`list_prompt` of the items found so far (the
    last ``max_listed`` of them; with ``navigate=False``, of none) and walks that ranking: a first
    token already probed is skipped, a new one is completed from the plain prompt (or from the
    round's prompt, ``complete_from="icn"``) until the closing quote. Items are kept once
    (:func:`normalise_item`); a repeat or a completion without an item costs an attempt and the
    walk goes on, until the round has ``per_round`` new items. Stops early when a round finds
    nothing new or after ``max_attempts`` completions.

    Drift control (``navigate=True``): an item that ``accept`` (the format check; ``None``: any
    item) refuses is not kept. With ``restart``, a refused attempt, a completion without an item
    or a repeat sends the rest of the round back to the original query: its next candidates are
    the best untried first tokens of the plain prompt's ranking, and a round whose own ranking has
    nothing untried left starts from there too instead of ending the search. With ``anchor``, a
    round walks :func:`anchored_ranking` of its ranking and the plain prompt's: the listing
    reorders what the query itself finds likely, instead of leading to first tokens that only the
    listing makes likely (runs in alphabetical order). Off by default: on the test model's list
    questions it found no more answers than the unanchored walk (``benchmarks/selection.py``).

    Example:
        >>> class Planets:   # a stand-in model: "M" always completes to Mars
        ...     def rank_first_tokens(self, prompt):
        ...         return ["M", "Mars", "V", "E"] if "Mars" not in prompt.text else ["V", "E"]
        ...     def complete(self, prompts, stop, max_new_tokens, *, greedy=True):
        ...         rest = {"M": 'ars"', "Mars": '"', "V": 'enus"', "E": "arth is"}
        ...         return [rest[p.response.split('"')[-1]] for p in prompts]
        >>> r = navigate(Planets(), "Name some planets.", rounds=2, per_round=1)
        >>> r.items, r.first_tokens, r.tried, [a.text for a in r.failed]
        (['Mars', 'Venus'], ['M', 'V'], 2, [])
        >>> r = navigate(Planets(), "Name some planets.", rounds=2, per_round=1, navigate=False)
        >>> r.items, r.tried                    # "Mars" repeats the item of "M": one more attempt
        (['Mars', 'Venus'], 3)
    """
    if not instruction.strip():
        raise ValueError("the instruction is empty")
    if rounds < 1 or per_round < 1:
        raise ValueError(f"rounds and per_round must be at least 1 (got {rounds} and {per_round})")
    if max_listed < 1:
        raise ValueError(f"max_listed must be at least 1 (got {max_listed})")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1 (got {max_attempts})")
    if complete_from not in ("plain", "icn"):
        raise ValueError(f"complete_from must be 'plain' or 'icn' (got {complete_from!r})")
    if completion not in ("greedy", "sample"):
        raise ValueError(f"completion must be 'greedy' or 'sample' (got {completion!r})")
    plain = list_prompt(instruction, [])
    items: list[str] = []
    seen: set[str] = set()
    attempts: list[Attempt] = []
    probed: set[str] = set()
    budget = math.inf if max_attempts is None else max_attempts
    warned = False
    restarts = restart and navigate
    plain_ranking: list[str] | None = None

    def plain_order() -> list[str]:
        nonlocal plain_ranking
        if plain_ranking is None:
            plain_ranking = list(dict.fromkeys(model.rank_first_tokens(plain)))
        return plain_ranking

    def untried_plain() -> list[str]:
        return [t for t in plain_order() if t not in probed]

    for _ in range(rounds):
        if navigate and len(items) > max_listed and not warned:
            warnings.warn(f"the navigation prompt lists only the last {max_listed} of the "
                          f"explored items", stacklevel=2)
            warned = True
        context = list_prompt(instruction, items[-max_listed:]) if navigate else plain
        source = plain if complete_from == "plain" else context
        ranking = model.rank_first_tokens(context)
        if navigate and anchor and items:
            ranking = anchored_ranking(ranking, plain_order())
        candidates = [t for t in dict.fromkeys(ranking) if t not in probed]
        if not candidates and restarts:
            candidates = untried_plain()
        found = 0
        while candidates and found < per_round and len(attempts) < budget:
            batch = candidates[:min(per_round - found, budget - len(attempts))]
            del candidates[:len(batch)]
            probed.update(batch)
            texts = model.complete([source.extended(t) for t in batch], ITEM_STOP,
                                   max_new_tokens, greedy=completion == "greedy")
            drifted = False
            for token, rest in zip(batch, texts):
                item = extract_item(token + rest)
                if item is not None and navigate and accept is not None and not accept(item):
                    item = None  # refused by the format check: not an item
                new = item is not None and normalise_item(item) not in seen
                attempts.append(Attempt(token, token + rest, item, new))
                drifted |= not new
                if new:
                    items.append(item)
                    seen.add(normalise_item(item))
                    found += 1
            if drifted and restarts:
                candidates = [t for t in untried_plain() if t not in batch]
        if found == 0 or len(attempts) >= budget:
            break
    return NavigationResult(items, attempts)


# --------------------------------------------------------------------------------------------------
# Algorithm B: chain-of-thought self-consistency


def reasoning_prompt(question: str, explored: Sequence[str]) -> Prompt:
    """The question, a request for different ways to solve it, the explored solution paths as
    ``### Way i:`` sections and the start of the next one.

    Example:
        >>> print(reasoning_prompt("What is 2 + 3?", ["2 + 3 = 5."]).response)
        Here are different ways to solve the problem:
        ### Way 1:
        2 + 3 = 5.
        ### Way 2:
        * **Step 1:**
        <BLANKLINE>
    """
    ways = "".join(f"### Way {i}:\n{path}\n" for i, path in enumerate(explored, 1))
    return Prompt(f"{question}\n\n{WAYS_REQUEST}",
                  f"{WAYS_CUE}{ways}### Way {len(explored) + 1}:\n{STEP_ONE}")


def extract_number(text: str) -> str | None:
    """The first number in ``text``, without thousands separators or a zero fraction; ``None``
    when there is none.

    Example:
        >>> extract_number("$1,250.00 in total"), extract_number("-3.5"), extract_number("none")
        ('1250', '-3.5', None)
    """
    match = _NUMBER.search(text)
    if match is None:
        return None
    number = match.group().replace(",", "")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number


@dataclass(frozen=True)
class ReasoningPath:
    """One solution path: its first token, its text (after ``### Way 1:``, up to the next
    ``###``), whether it reached that ``###`` within the token cap, and its numeric answer."""

    first_token: str
    text: str
    finished: bool
    answer: str | None


@dataclass(frozen=True)
class ReasoningResult:
    """The solution paths and the majority vote over their answers (``None``: no path gave a
    number; ties go to the answer given first)."""

    paths: list[ReasoningPath]

    @property
    def answers(self) -> list[str | None]:
        return [p.answer for p in self.paths]

    @property
    def vote(self) -> str | None:
        counts = Counter(a for a in self.answers if a is not None)
        return counts.most_common(1)[0][0] if counts else None


def navigate_reasoning(model: TextModel, question: str, n_paths: int = 4, *,
                       navigate: bool = True, top_k: int = 100, max_path_tokens: int = 256,
                       max_answer_tokens: int = 8) -> ReasoningResult:
    """``n_paths`` solution paths for ``question`` and a vote over their numeric answers.

    Each path starts with the best first token among the top ``top_k`` after
    :func:`reasoning_prompt` of the paths so far (``navigate=False``: of none) that was not used
    yet, and is completed greedily from the plain prompt until ``###``. Its answer is the number
    in a greedy completion of ``question``, the path and ``**Final Answer (Only Number):** "``.
    Fewer paths come back when the ranking runs out of new first tokens.

    Example:
        >>> class Adder:   # a stand-in model that always answers 5
        ...     def rank_first_tokens(self, prompt):
        ...         return ["Add", "Count", "Sum"]
        ...     def complete(self, prompts, stop, max_new_tokens, *, greedy=True):
        ...         return [' the numbers: 5.\\n###' if stop == "###" else '5"' for _ in prompts]
        >>> r = navigate_reasoning(Adder(), "What is 2 + 3?", n_paths=2)
        >>> [p.first_token for p in r.paths], r.answers, r.vote
        (['Add', 'Count'], ['5', '5'], '5')
    """
    if not question.strip():
        raise ValueError("the question is empty")
    if n_paths < 1 or top_k < 1:
        raise ValueError(f"n_paths and top_k must be at least 1 (got {n_paths} and {top_k})")
    plain = reasoning_prompt(question, [])
    paths: list[tuple[str, str, bool]] = []
    probed: set[str] = set()
    for _ in range(n_paths):
        context = reasoning_prompt(question, [p[1] for p in paths]) if navigate else plain
        ranked = model.rank_first_tokens(context)[:top_k]
        token = next((t for t in ranked if t not in probed), None)
        if token is None:
            break
        probed.add(token)
        rest = model.complete([plain.extended(token)], PATH_STOP, max_path_tokens)[0]
        finished = rest.endswith(PATH_STOP)
        path = (STEP_ONE + token + rest.removesuffix(PATH_STOP)).strip()
        paths.append((token, path, finished))
    answer_prompts = [Prompt(plain.user, f"{WAYS_CUE}{path}\n{ANSWER_CUE}") for _, path, _ in paths]
    answers = model.complete(answer_prompts, ITEM_STOP, max_answer_tokens) if paths else []
    return ReasoningResult([ReasoningPath(token, path, finished, extract_number(answer))
                            for (token, path, finished), answer in zip(paths, answers)])
