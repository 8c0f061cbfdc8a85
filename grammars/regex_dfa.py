"""The old import path of the regex engine, which now lives in :mod:`grammars.regex`.

Example:
    >>> from grammars.regex_dfa import regex_byte_dfa
    >>> regex_byte_dfa("ab?").n_states
    3
"""

from .regex import DEFAULT_MAX_STATES, ByteDFA, UnsupportedRegexError, literal_byte_dfa, regex_byte_dfa

__all__ = ["ByteDFA", "DEFAULT_MAX_STATES", "UnsupportedRegexError", "literal_byte_dfa", "regex_byte_dfa"]
