"""Compile-time check that a vocabulary can spell the start of a grammar's language."""

from __future__ import annotations

from .errors import VocabularyError
from .parsing.general import general_parser


def check_vocabulary_can_start(compiled, grammar, vocab) -> None:
    """Raise :class:`VocabularyError` when no token of ``vocab`` is allowed first although the
    grammar needs some text: every generation would fail at its first mask.

    Example:
        >>> from grammars import Grammar, Vocabulary, compile_grammar
        >>> compile_grammar(Grammar.from_lark('start: "a"'), Vocabulary([b"x", b"y", None]),
        ...                 use_disk_cache=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        grammars.errors.VocabularyError: none of the vocabulary's 3 tokens (2 with text, e.g. b'x', b'y') can begin a string of the grammar <string>...
    """
    if compiled.tables.general:
        parser = general_parser(compiled)
        mask = parser.mask(parser.initial)
    else:
        init = compiled.initial_state
        mask = compiled.state_mask(init.stack, init.q, init.acc)
    if mask is not None:
        return
    spelled = [b for b in vocab.token_bytes if b]
    examples = ", ".join(repr(b) for b in spelled[:3])
    raise VocabularyError(
        f"none of the vocabulary's {vocab.size} tokens ({len(spelled)} with text"
        f"{', e.g. ' + examples if examples else ''}) can begin a string of the grammar "
        f"{grammar.source}; is the tokenizer built for this grammar's characters?"
    )
