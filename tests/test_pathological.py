"""Pathological grammars: each gives a result or a clear bounded error, never a hang or a blow-up.

Nested counted repetition (nullable and not), huge character classes with counts, thousands of
literal alternatives and deep rule chains. After each, the process must still compile and run a
small grammar, and its peak memory (``resource.getrusage``) must stay bounded. Timing belongs to
``benchmarks/compile_speed.py``, not here.
"""

from __future__ import annotations

import resource

import pytest

from grammars import Grammar, GrammarMatcher, Vocabulary, compile_grammar
from grammars.errors import GrammarError, GrammarTooLargeError, RegexSyntaxError, RegexTooLargeError

# Peak resident memory may grow by at most this much over the whole file (bytes).
MAX_GROWTH = 1_500 * 2**20
_BYTES = [bytes([b]) for b in range(32, 127)] + [b"\n", "é".encode(), "ж".encode()]
VOCAB = Vocabulary(_BYTES + [None], eos_token_ids=(len(_BYTES),))


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


@pytest.fixture(scope="module")
def baseline() -> int:
    _still_usable()
    return _peak()


def _compile(text: str):
    return compile_grammar(Grammar.from_lark(text), VOCAB, use_disk_cache=False)


def _accepts(compiled, text: str) -> bool:
    """Feed ``text`` byte by byte (one token per character) and report acceptance."""
    m = GrammarMatcher(compiled)
    for ch in text:
        token = _BYTES.index(ch.encode())
        if token not in m.allowed_token_ids():
            return False
        m.advance(token)
    return m.is_accepting()


def _still_usable() -> None:
    cg = _compile('start: "a" NUM\nNUM: /[0-9]+/')
    assert _accepts(cg, "a42") and not _accepts(cg, "a")


def _check_after(baseline: int) -> None:
    _still_usable()
    assert _peak() - baseline < MAX_GROWTH, f"peak memory grew by {(_peak() - baseline) >> 20} MiB"


@pytest.mark.parametrize(
    "pattern, sample",
    [
        (r"((a{0,50}){0,50}){0,50}b", "aaab"),  # the case: not nullable (needs the b)
        (r"((a{0,50}){0,50}){0,50}", None),  # nullable: matches the empty string
        (r"((a{1,6}){1,6}){1,6}", "aaa"),  # small enough to build
        (r"(((ab|a){0,4}){0,4}){0,4}c", "ababc"),
    ],
)
def test_nested_counted_repetition(baseline, pattern, sample):
    text = f'start: "<" T ">"\nT: /{pattern}/'
    try:
        cg = _compile(text)
    except (RegexTooLargeError, RegexSyntaxError) as e:
        assert "T" in str(e), f"error does not name the terminal: {e}"
        assert len(str(e).splitlines()) <= 3
    except GrammarError as e:  # lark's own refusal of a zero-width terminal
        assert sample is None and "T" in str(e) and "zero-width" in str(e)
        assert len(str(e).splitlines()) <= 3
    else:
        assert sample is not None, "a nullable terminal must be refused"
        assert _accepts(cg, f"<{sample}>")
        assert not _accepts(cg, "<>")
    _check_after(baseline)


@pytest.mark.parametrize(
    "pattern, sample",
    [
        (r"[\u0100-\uffff]{300}", "ж" * 300),
        (r"[^\n]{2000}", "x" * 2000),
        (r"\w{60}", "é" * 60),
        (r"[a-zé]{1,40}[0-9]{1,40}", "é1"),
        (r"([^\"\\]|\\.){0,4000}x", "ab\\nx"),
    ],
)
def test_huge_character_classes_with_counts(baseline, pattern, sample):
    try:
        cg = _compile(f'start: "<" T ">"\nT: /{pattern}/')
    except GrammarTooLargeError as e:
        assert "T" in str(e) and len(str(e).splitlines()) <= 3
    else:
        assert _accepts(cg, f"<{sample}>")
        assert not _accepts(cg, "<>")
    _check_after(baseline)


@pytest.mark.parametrize("n", [5000, 20000])
def test_many_literal_alternatives(baseline, n):
    """``start: "w0x" | ... | "w{n-1}x"``: one lexer terminal for the interchangeable literals,
    so the lexer and the LR tables grow with the text, not with its square."""
    cg = _compile("start: " + " | ".join(f'"w{i}x"' for i in range(n)))
    assert len(cg.terminal_names) == 1
    assert cg.tables.action.size < 100
    assert _accepts(cg, f"w{n - 1}x") and _accepts(cg, "w0x")
    assert not _accepts(cg, f"w{n}x") and not _accepts(cg, "w01x")
    _check_after(baseline)


def test_literal_alternatives_in_context(baseline):
    """Literals merged inside a longer rule, beside literals that are not interchangeable."""
    names = " | ".join(f'"k{i}"' for i in range(3000))
    cg = _compile(f'start: "[" key ("," key)* "]" | "k7" "!"\nkey: {names}')
    assert _accepts(cg, "[k1,k2999,k7]") and _accepts(cg, "k7!")
    assert not _accepts(cg, "[k3000]") and not _accepts(cg, "k1!")
    _check_after(baseline)


@pytest.mark.parametrize("wrap", [False, True])
def test_deep_rule_chain(baseline, wrap):
    depth = 200
    rules = [f'r{i}: "(" r{i + 1} ")" | "x"' if wrap else f"r{i}: r{i + 1}" for i in range(depth)]
    cg = _compile("start: r0\n" + "\n".join(rules) + f'\nr{depth}: "y"')
    assert _accepts(cg, "y" if not wrap else "(" * depth + "y" + ")" * depth)
    if wrap:
        assert _accepts(cg, "((x))") and not _accepts(cg, "((x)")
    _check_after(baseline)


def test_refusal_messages_are_short(baseline):
    """A grammar with many conflicts: a result on the general path, its conflicts a few lines."""
    alts = " | ".join(f'e "{op}" e' for op in "+-*/%^&|<>")
    grammar = Grammar.from_lark(f'start: e\ne: {alts} | "1"')
    assert 0 < len(grammar.conflicts) <= 4
    assert sum(len(c) for c in grammar.conflicts) < 400
    with pytest.raises(GrammarError) as err:
        _compile("start: " + " ".join(f"a{i}" for i in range(300)))
    assert len(str(err.value)) < 2000
    _check_after(baseline)
