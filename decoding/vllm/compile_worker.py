"""Grammars build and compile off the hot path, and off the engine's GIL: worker processes build
each request's grammar (a JSON Schema's translation, lark's tables) and compile it when vLLM admits
the request, so the batch already running keeps decoding (vLLM's own backends compile in the
background too); the step that first samples the request waits only for what is left of it.

Compiling is Python work: in a thread it would take turns with the engine's own Python (the
scheduler, the step, the masks) for the GIL, so a burst of new schemas would slow every running
request. In processes it does not: the engine only unpickles the result (the token trie, the same
for every grammar of the vocabulary, stays behind in the worker and is re-attached here). The
number of processes is ``GUIDED_DECODING_COMPILE_PROCESSES`` or the number of CPUs (at most 4): a
step that samples a request whose compile still runs waits for it, so the compiles are on the
critical path; ``0`` compiles on one thread in this process instead, and so does a daemonic process
(vLLM's multiprocessing executor runs its workers as daemons, which may not have children).

The processes start with the worker, before the first request, and each warms up (imports, the
vocabulary's token trie, the Numba kernels: seconds) while the engine is still starting.

Example:
    >>> import functools
    >>> from grammars import Grammar, Vocabulary
    >>> vocab = Vocabulary([b"a", b"b", None], eos_token_ids=(2,))
    >>> worker = CompileWorker(vocab, processes=1)
    >>> build = functools.partial(Grammar.from_regex, "ab")  # picklable: it runs in the worker
    >>> future = worker.submit("regex ab", build)
    >>> future.result().logits_width, worker.submit("regex ab", build) is future
    (3, True)
    >>> worker.submit("regex a(", functools.partial(Grammar.from_regex, "a(")).exception() is not None
    True
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from grammars import CompiledGrammar, Grammar, Vocabulary, compile_grammar
from grammars.compiler import token_trie
from grammars.warmup import compile_kernels

MAX_COMPILED = 64  # compiled grammars kept per engine (most recently used)
MAX_PROCESSES = 4


class CompileFailed(RuntimeError):
    """A grammar that did not build or compile in a worker process: its error type and message
    (the original exception may not survive pickling)."""


class CompileWorker:
    """Builds and compiles grammars for one vocabulary in worker processes (or on one thread), each
    once (by the caller's key for what was asked), and keeps the last ``max_compiled`` of them.

    ``submit``'s ``grammar`` callable runs in the worker, so it must be picklable with processes
    (a ``functools.partial`` of a module-level function or a bound method, not a lambda). A build
    or compile that fails leaves its exception in the future (``future.exception()``); it is
    forgotten so that a later request tries again."""

    def __init__(self, vocabulary: Vocabulary, *, max_compiled: int = MAX_COMPILED,
                 processes: int | None = None) -> None:
        self.vocabulary = vocabulary
        self.max_compiled = max_compiled
        self.processes = default_processes() if processes is None else processes
        if multiprocessing.current_process().daemon:  # it may not start processes
            self.processes = 0
        self._futures: OrderedDict[str, Future[CompiledGrammar]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: Executor
        if self.processes > 0:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker, initargs=(vocabulary,))
            for _ in range(self.processes):  # each submit starts a process (there is no idle one yet)
                self._pool.submit(int)
        else:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guided-decoding-compile")
            self._pool.submit(_warm_up, vocabulary)
        weakref.finalize(self, self._pool.shutdown, wait=False)  # an engine's processes end with it

    def submit(self, key: str, grammar: Callable[[], Grammar]) -> Future[CompiledGrammar]:
        """The compile of what ``key`` names (``grammar()`` builds it): started now, already
        running, or done."""
        with self._lock:
            future = self._futures.pop(key, None)
            if future is None or (future.done() and future.exception() is not None):
                future = self._start(grammar)
            self._futures[key] = future  # most recently used last
            while len(self._futures) > self.max_compiled:
                self._futures.popitem(last=False)
        return future

    def _start(self, grammar: Callable[[], Grammar]) -> Future[CompiledGrammar]:
        if self.processes == 0:
            return self._pool.submit(lambda: compile_grammar(grammar(), self.vocabulary))
        done: Future[CompiledGrammar] = Future()

        def attach_trie(remote: Future) -> None:  # the worker's result lacks the vocabulary's trie
            error = remote.exception()
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(dataclasses.replace(remote.result(), trie=token_trie(self.vocabulary)))

        self._pool.submit(_compile_in_worker, grammar).add_done_callback(attach_trie)
        return done


def default_processes() -> int:
    """``GUIDED_DECODING_COMPILE_PROCESSES``, or the number of CPUs (1 to 4)."""
    configured = os.environ.get("GUIDED_DECODING_COMPILE_PROCESSES")
    if configured is not None:
        return max(0, int(configured))
    return max(1, min(MAX_PROCESSES, os.cpu_count() or 1))


_vocabulary: Vocabulary | None = None  # in a worker process: the engine's vocabulary


def _start_worker(vocabulary: Vocabulary) -> None:
    global _vocabulary
    _vocabulary = vocabulary
    _warm_up(vocabulary)


def _warm_up(vocabulary: Vocabulary) -> None:
    """What every compile needs first, done before the first request: the Numba kernels (loaded
    from their cache, or compiled) and the vocabulary's token trie."""
    compile_kernels()
    token_trie(vocabulary)


def _compile_in_worker(grammar: Callable[[], Grammar]) -> CompiledGrammar:
    try:
        compiled = compile_grammar(grammar(), _vocabulary)
    except Exception as e:  # noqa: BLE001 - reported to the engine as text: it must unpickle there
        raise CompileFailed(f"{type(e).__name__}: {e}") from None
    return dataclasses.replace(compiled, trie=None)
