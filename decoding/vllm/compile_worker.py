"""Grammars compile off the hot path: a background thread starts each request's compile when vLLM
admits it, so the batch already running keeps decoding (vLLM's own backends do the same); the step
that first samples the request waits only for what is left of it.

Example:
    >>> from grammars import Grammar, Vocabulary
    >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
    >>> worker = CompileWorker(vocab)
    >>> future = worker.submit(Grammar.from_regex("ab"))
    >>> future.result().logits_width, worker.submit(Grammar.from_regex("ab")) is future
    (3, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from grammars import CompiledGrammar, Grammar, Vocabulary, compile_grammar

MAX_COMPILED = 64  # compiled grammars kept per engine (most recently used)


class CompileWorker:
    """Compiles grammars for one vocabulary on a background thread, each grammar once, and keeps the
    last ``max_compiled`` of them (by :attr:`Grammar.digest`).

    A compile that fails leaves its exception in the future (``future.exception()``); the grammar
    is forgotten so that a later request compiles it again."""

    def __init__(self, vocabulary: Vocabulary, *, max_compiled: int = MAX_COMPILED) -> None:
        self.vocabulary = vocabulary
        self.max_compiled = max_compiled
        self._futures: OrderedDict[str, Future[CompiledGrammar]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guided-decoding-compile")

    def submit(self, grammar: Grammar) -> Future[CompiledGrammar]:
        """The compile of ``grammar``: started now, already running, or done."""
        with self._lock:
            future = self._futures.pop(grammar.digest, None)
            if future is None or (future.done() and future.exception() is not None):
                future = self._pool.submit(compile_grammar, grammar, self.vocabulary)
            self._futures[grammar.digest] = future  # most recently used last
            while len(self._futures) > self.max_compiled:
                self._futures.popitem(last=False)
        return future
