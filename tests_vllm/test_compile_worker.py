"""The compile worker: grammars compile in worker processes, and in a daemonic process (vLLM's
multiprocessing executor runs its workers as daemons) on a thread instead of failing."""

from __future__ import annotations

import functools
import multiprocessing

from decoding.vllm.compile_worker import CompileFailed, CompileWorker
from grammars import Grammar, GrammarMatcher, Vocabulary

VOCAB = Vocabulary([b"a", b"b", b"ab", None], eos_token_ids=(3,))


def _allowed_after_a(processes):
    worker = CompileWorker(VOCAB, processes=processes)
    compiled = worker.submit("regex ab+", functools.partial(Grammar.from_regex, "ab+")).result(timeout=120)
    matcher = GrammarMatcher(compiled)
    matcher.advance(0)
    return worker.processes, matcher.allowed_token_ids().tolist()


def _in_daemon(queue):
    queue.put(_allowed_after_a(None))


def test_compiles_in_a_worker_process_and_names_failures():
    assert _allowed_after_a(1) == (1, [1])
    worker = CompileWorker(VOCAB, processes=1)
    error = worker.submit("regex a(", functools.partial(Grammar.from_regex, "a(")).exception(timeout=120)
    assert isinstance(error, CompileFailed) and str(error).startswith("RegexSyntaxError: ")


def test_a_daemonic_process_compiles_on_a_thread():
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_daemon, args=(queue,), daemon=True)
    child.start()
    try:
        assert queue.get(timeout=180) == (0, [1])
    finally:
        child.join(timeout=30)
