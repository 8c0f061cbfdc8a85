"""Grammars build and compile off the hot path: a background thread builds each request's grammar
(a JSON Schema's translation, lark's tables) and compiles it when vLLM admits the request, so the
batch already running keeps decoding (vLLM's own backends do the same); the step that first samples
the request waits only for what is left of it.

Example:
    >>> from grammars import Grammar, Vocabulary
    >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
    >>> worker = CompileWorker(vocab)
    >>> future = worker.submit("regex ab", lambda: Grammar.from_regex("ab"))
    >>> future.result().logits_width, worker.submit("regex ab", lambda: Grammar.from_regex("ab")) is future
    (3, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from grammars import CompiledGrammar, Grammar, Vocabulary, compile_grammar

MAX_COMPILED = 64  # compiled grammars kept per engine (most recently used)


class CompileWorker:
    """Builds and compiles grammars for one vocabulary on a background thread, each once (by the
    caller's key for what was asked), and keeps the last ``max_compiled`` of them.

    A build or compile that fails leaves its exception in the future (``future.exception()``); it is
    forgotten so that a later request tries again."""

    def __init__(self, vocabulary: Vocabulary, *, max_compiled: int = MAX_COMPILED) -> None:
        self.vocabulary = vocabulary
        self.max_compiled = max_compiled
        self._futures: OrderedDict[str, Future[CompiledGrammar]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guided-decoding-compile")

    def submit(self, key: str, grammar: Callable[[], Grammar]) -> Future[CompiledGrammar]:
        """The compile of what ``key`` names (``grammar()`` builds it): started now, already
        running, or done."""
        with self._lock:
            future = self._futures.pop(key, None)
            if future is None or (future.done() and future.exception() is not None):
                future = self._pool.submit(self._compile, grammar)
            self._futures[key] = future  # most recently used last
            while len(self._futures) > self.max_compiled:
                self._futures.popitem(last=False)
        return future

    def _compile(self, grammar: Callable[[], Grammar]) -> CompiledGrammar:
        return compile_grammar(grammar(), self.vocabulary)
