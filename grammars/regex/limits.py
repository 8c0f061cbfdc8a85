"""Size limits of the regex pipeline and the errors it raises when a pattern goes past them."""

from __future__ import annotations

from ..errors import UnsupportedRegexError

DEFAULT_MAX_STATES = 20_000


def unsupported(feature: str, pattern: str) -> UnsupportedRegexError:
    return UnsupportedRegexError(f"unsupported regex feature: {feature} in pattern {pattern!r}")


def too_large(pattern: str, what: str, n: int, max_states: int) -> UnsupportedRegexError:
    return UnsupportedRegexError(
        f"byte DFA of pattern {pattern!r} is too large "
        f"({what}: {n} states; max_states={max_states})"
    )

