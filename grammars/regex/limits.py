"""Size limits of the regex pipeline and the errors it raises when a pattern goes past them."""

from __future__ import annotations

from ..errors import RegexTooLargeError, UnsupportedRegexError

DEFAULT_MAX_STATES = 20_000
# Subset construction may touch at most this many NFA states per allowed DFA state (closures and
# moves together): a bound on work and memory, since a few states can each hold huge subsets.
WORK_PER_STATE = 250


def _short(pattern: str) -> str:
    return pattern if len(pattern) <= 80 else pattern[:77] + "..."


def unsupported(feature: str, pattern: str) -> UnsupportedRegexError:
    return UnsupportedRegexError(f"unsupported regex feature: {feature} in pattern {pattern!r}")


def too_large(pattern: str, what: str, n: int, max_states: int) -> RegexTooLargeError:
    return RegexTooLargeError(
        f"byte DFA of pattern {_short(pattern)!r} is too large "
        f"({what}: {n} states; max_states={max_states})"
    )



def too_much_work(pattern: str, work: int, max_states: int) -> RegexTooLargeError:
    return RegexTooLargeError(
        f"byte DFA of pattern {_short(pattern)!r} is too large (subset construction stopped after "
        f"{work} steps, the budget for max_states={max_states}; nested counted repetitions multiply)"
    )
