"""Exactness of the grammar engine's token masks against an independent oracle (tests/oracle.py).

For every bundled grammar, prefixes of hand-written valid strings (cut at character boundaries by
a seeded random, plus the empty prefix and the full strings) are walked through the engine with
``GrammarMatcher.advance_bytes``; the engine's ``allowed_token_ids()`` must then equal, as a set,
the ids the oracle computes over the whole SmolLM2 vocabulary (49,152 tokens), EOS included.

A few byte-level prefixes (ending inside multi-byte characters; Unicode case folding of the SQL
keywords) and small custom grammars (the lexing tie-breaks) are compared the same way.

The oracle itself is checked too: the example strings must be complete for the oracle (and parse
with Lark where Lark's own lexer follows the same rules), hand-made cases must come out as the
semantics say, and a sample of the strings the oracle calls viable (prefix + an allowed token)
must really complete (the oracle decides viability as "the lexer/parser state is live", which is
exact for the bundled grammars; ``test_live_but_uncompletable_prefix_is_not_viable`` shows a
grammar where it is not, for the engine).
"""

from __future__ import annotations

import random

import lark
import pytest

try:
    from tests import oracle
except ImportError:  # tests/ itself on sys.path (pytest's rootdir-less "prepend" import mode)
    import oracle

# Number of prefixes compared in total, split over the grammars by PREFIX_SHARE.
N_PREFIXES = 600
PREFIX_SHARE = {"json": 0.28, "sql": 0.22, "csv": 0.15, "arithmetic": 0.1, "expression": 0.2, "choices": 0.05}
# Per prefix, how many oracle-allowed tokens are completed as a check of the oracle's viability.
N_COMPLETION_SAMPLES = 2
SEED = 20240611

EXAMPLES: dict[str, list[str]] = {
    "json": [
        '{"name": "Zoë", "age": 42, "tags": ["a", "b\\n"], "ok": true, "none": null}',
        "[1, -2.5, 3e10, 4.0E-2, 0, -0, 1E+2, null, false, {\"k\": {}}, []]",
        '{\n  "emoji": "😀 日本語 Ωμέγα",\n'
        '  "esc": "q \\" bs \\\\ \\u00e9\\uD83D\\ude00 \\/ \\b\\f\\r\\t",\n'
        '  "nested": [[1, [2, [3]]], {"a": [], "b": {"c": [true]}}]\n}',
        '"just a string with ünïcödé and tabs\\t"',
        "\t -0.001e+5 \r\n",
        '[{"id":1,"v":[0.5,1.25e-3]},{"id":2,"v":[]}]',
    ],
    "sql": [
        "SELECT * FROM users",
        "select name, COUNT(*) AS n from orders as o join users AS u on o.user_id = u.id "
        "where o.total >= 100 and not u.name = 'Bob' group by name order by n desc, name limit 10;",
        "SELECT DISTINCT a.x + 2 * (b.y - 1) FROM t AS a "
        "WHERE (a.x < 3 OR a.y <> 'héllo wörld') ORDER BY x ASC",
        "Select avg(price), Max(qty)\nFROM items\nWHERE price / 2 != 7 AND qty <= 3 OR NOT (qty > 1)",
        "SELECT sum(t.amount) AS total_amount FROM payments AS t "
        "JOIN accounts ON t.acc = accounts.id LIMIT 5",
    ],
    "csv": [
        "name,age,city\nAlice,30,Paris\nBob,25,\"New York, NY\"\n",
        '"He said ""hi""",x\r\n,,\r\nüñí,日本,😀 emoji',
        "a",
        "1,2,3\n4,5,6",
        '"multi\nline",plain text with spaces ,"",',
    ],
    "arithmetic": [
        "(1 + 2.5) * -3 / 4 ^ 2",
        "-(-(7))^2^3",
        "10.25/  5 - 3*   2",
        "42",
        " ((0.5)) ",
    ],
    "expression": [
        'x => x.y(1, "a\\"b")[0] ? true : null',
        "a && !b || c == d != e",
        'f(g(1.5, [1, 2, 3]), "str\\n") + -x * y % 3 <= 10 >= z',
        '[[], [null, false], "ünicode ☃"]',
        "acc => y => acc + y\t- 2",
        "obj.items[i + 1].name_2()",
    ],
    "choices": ["positive", "negative", "neutral", "mixed", "unknown"],
}


def _cut_points(text: str, rng: random.Random, k: int) -> set[int]:
    return {rng.randint(0, len(text)) for _ in range(k)}


def _prefixes(name: str) -> list[str]:
    """The prefixes compared for grammar ``name``: deterministic, at character boundaries."""
    examples = EXAMPLES[name]
    quota = max(len(examples) + 1, round(N_PREFIXES * PREFIX_SHARE[name]))
    rng = random.Random(f"{SEED}-{name}")
    chosen: dict[str, None] = {"": None}
    for ex in examples:
        chosen[ex] = None
    # Distinct prefixes available in total (all cut points of all examples).
    available = len({ex[:i] for ex in examples for i in range(len(ex) + 1)})
    quota = min(quota, available)
    while len(chosen) < quota:
        ex = rng.choice(examples)
        chosen[ex[: rng.randint(0, len(ex))]] = None
    return list(chosen)


CASES = [(name, prefix) for name in EXAMPLES for prefix in _prefixes(name)]
CASE_IDS = [f"{name}-{i:03d}" for i, (name, _) in enumerate(CASES)]


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab(test_tokenizer):
    from decoding.tokenizers import vocabulary_from_hf

    return vocabulary_from_hf(test_tokenizer)


@pytest.fixture(scope="module")
def grammar_texts():
    from grammars import Grammar

    return {name: Grammar.bundled(name).text for name in EXAMPLES}


@pytest.fixture(scope="module")
def compiled(vocab):
    """``compiled(name)``: a bundled grammar, or one of CUSTOM_GRAMMARS, compiled for the vocab."""
    from grammars import Grammar, compile_grammar

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            g = Grammar.from_lark(CUSTOM_GRAMMARS[name]) if name in CUSTOM_GRAMMARS else Grammar.bundled(name)
            cache[name] = compile_grammar(g, vocab)
        return cache[name]

    return get


# ------------------------------------------------------------------------------------------------
# The oracle's own checks
# ------------------------------------------------------------------------------------------------


def test_prefix_count():
    assert abs(len(CASES) - N_PREFIXES) <= 0.05 * N_PREFIXES, len(CASES)
    assert len(set(CASES)) == len(CASES)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_examples_parse_and_oracle_agrees_with_lark(name, grammar_texts):
    text = grammar_texts[name]
    parser = lark.Lark(text, parser="lalr")
    for ex in EXAMPLES[name]:
        complete = oracle.is_complete(text, ex.encode())
        assert complete, f"{name}: oracle says incomplete: {ex!r}"
        for i in range(len(ex)):  # every prefix of a valid string is viable for the oracle
            ok = oracle.viable(text, ex[:i].encode())
            assert ok, f"{name}: oracle says not viable: {ex[:i]!r}"
        parser.parse(ex)  # Lark's full parse succeeds, and the oracle allows EOS (above)


# (grammar, text, viable, complete) worked out by hand from the semantics in tests/oracle.py.
HAND_CASES = [
    ("json", '{"a": [1, 2.5e-3, true, null, "x\\u00e9"]}', True, True),
    ("json", '{"a" 1}', False, False),
    ("json", "01", False, False),  # "0" ends (no NUMBER continues "01"), then "1" cannot follow it
    ("json", "-", True, False),
    ("json", " 1 ", True, True),
    ("json", b'"\xc3', True, False),  # inside a 2-byte character of a string
    ("json", b"1\xc3", False, False),  # no character starting with \xc3 may follow a number
    ("json", b'"\xc0', False, False),  # invalid UTF-8
    ("json", b'"\xed\xa0', False, False),  # a surrogate
    ("json", "truex", False, False),
    ("sql", "SELECT COUNT FROM t", False, False),  # COUNT is the keyword (literals beat NAME)
    ("sql", "SELECTa FROM t", True, True),  # contextual: only SELECT is acceptable first
    ("sql", "SELECT a ASC FROM t", True, True),  # "AS" then NAME "C"
    ("sql", "SELECT DISTINCT FROM FROM t", True, True),  # NAME "FROM": FROM is not acceptable there
    ("sql", "select Distinct x from t;", True, True),
    ("csv", "", True, True),
    ("csv", '"ab"c', False, False),
    ("csv", "a\r", True, False),
    ("arithmetic", "1.", True, False),
    ("arithmetic", "1.2.", False, False),
    ("expression", "true => 1", False, False),  # "true" is the literal (literals beat NAME)
    ("expression", "truex => 1", True, True),
    ("expression", "!= 1", False, False),
    ("expression", "a != !b", True, True),
    ("choices", "neu", True, False),
    ("choices", "neutrals", False, False),
]


@pytest.mark.parametrize("name,text,want_viable,want_complete", HAND_CASES)
def test_oracle_hand_cases(name, text, want_viable, want_complete, grammar_texts):
    data = text if isinstance(text, bytes) else text.encode()
    g = grammar_texts[name]
    assert oracle.viable(g, data) is want_viable
    assert oracle.is_complete(g, data) is want_complete


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_oracle_viable_strings_complete(name, grammar_texts, vocab):
    """What the oracle calls viable can be completed, and Lark parses the completed string."""
    text = grammar_texts[name]
    parser = lark.Lark(text, parser="lalr")
    rng = random.Random(f"{SEED}-complete-{name}")
    prefixes = [p for n, p in CASES if n == name]
    eos = set(vocab.eos_token_ids)
    checked = 0
    for prefix in rng.sample(prefixes, min(len(prefixes), 25)):
        allowed = sorted(oracle.allowed_tokens(text, prefix.encode(), vocab.token_bytes, eos) - eos)
        for tid in rng.sample(allowed, min(len(allowed), N_COMPLETION_SAMPLES)):
            s = prefix.encode() + vocab.token_bytes[tid]
            w = oracle.find_completion(text, s)
            assert w is not None, f"{name}: no completion found for viable {s!r}"
            full = (s + w).decode("utf-8")
            assert oracle.is_complete(text, full.encode())
            try:
                parser.parse(full)
            except lark.exceptions.LarkError as e:
                pytest.fail(f"{name}: oracle-complete {full!r} does not parse with Lark: {e}")
            checked += 1
    assert checked > 0


# ------------------------------------------------------------------------------------------------
# The engine against the oracle
# ------------------------------------------------------------------------------------------------


def _describe(ids, token_bytes, limit: int = 10) -> str:
    ids = sorted(ids)
    shown = ", ".join(f"{i}:{token_bytes[i]!r}" for i in ids[:limit])
    return f"{len(ids)} [{shown}{', ...' if len(ids) > limit else ''}]"


def _compare(name: str, grammar_text: str, data: bytes, compiled, vocab) -> None:
    from grammars import GrammarMatcher

    matcher = GrammarMatcher(compiled(name))
    if data:  # advance_bytes(b"") is False by design (an empty step); nothing to walk then
        assert matcher.advance_bytes(data) is True, f"{name}: engine rejects viable prefix {data!r}"
    engine = {int(i) for i in matcher.allowed_token_ids()}
    want = oracle.allowed_tokens(grammar_text, data, vocab.token_bytes, vocab.eos_token_ids)
    if engine != want:
        pytest.fail(
            f"grammar {name!r}, prefix {data!r}: engine and oracle disagree\n"
            f"  allowed by the engine only: {_describe(engine - want, vocab.token_bytes)}\n"
            f"  allowed by the oracle only: {_describe(want - engine, vocab.token_bytes)}"
        )
    complete = bool(set(vocab.eos_token_ids) & want)
    assert matcher.is_accepting() is complete, f"{name}: is_accepting() wrong after {data!r}"


@pytest.mark.parametrize("name,prefix", CASES, ids=CASE_IDS)
def test_engine_mask_equals_oracle(name, prefix, compiled, grammar_texts, vocab):
    _compare(name, grammar_texts[name], prefix.encode("utf-8"), compiled, vocab)


# Small grammars for the lexing tie-breaks and case folding.
CUSTOM_GRAMMARS = {
    # A higher priority beats a literal: "go" is WORD, so "go x?" is impossible, "go!" fine.
    "priority": 'start: WORD "!" | "go" WORD "?"\nWORD.1: /[a-z]+/\n%ignore " "\n',
    # Equal priority: the literal X beats the regex Y, so "ab2" is impossible.
    "literal_first": 'start: X "1" | Y "2"\nX: "ab"\nY: /ab/\n',
    # Two regexes of one maximum width: the longer pattern (Y) wins, so "ab3" is impossible.
    "alphabetical": 'start: Z "3" | Y "2"\nY: /a[b]/\nZ: /ab/\n',
    # Python's re folds K (U+212A KELVIN SIGN, 3 bytes) to k, and İ/ı to i.
    "casefold": 'start: "kelvin"i " " "is"i\n',
    # /a*b/ reads "a" without leaving its start state: after "ba" a lexeme is pending, the end is not allowed.
    "start_loop": 'start: X*\nX: /a*b/\n',
}

# Prefixes beyond the character-boundary ones: inside multi-byte characters, case folding.
EDGE_CASES = [
    ("json", b'"\xe6'),
    ("json", b'"\xe6\x97'),
    ("json", b'"\xf0'),
    ("json", b'"\xf0\x9f'),
    ("json", b'"\xf0\x9f\x98'),
    ("json", b'{"a": "\\u00'),
    ("csv", b"x,\xe6\x97"),
    ("csv", b'"\xf4\x8f'),
    ("expression", b'"\xc3'),
    ("sql", b"SELECT a A"),  # "\xc5" may follow: "Aſ" is AS
    ("sql", "SELECT D\u0130".encode()),  # İ folds to i for re: DİSTINCT
    ("sql", "SELECT D\u0131".encode()),  # and so does ı
    ("sql", b"SELECT a FROM t L"),
    ("sql", b"SELECT a FROM t ORDER BY a D"),
    ("sql", b"SELECT a FROM t WHERE x = '\xe6"),
    ("priority", b""),
    ("priority", b"go"),
    ("priority", b"go "),
    ("literal_first", b""),
    ("literal_first", b"ab"),
    ("alphabetical", b"ab"),
    ("casefold", b""),
    ("casefold", b"\xe2"),
    ("casefold", b"\xe2\x84"),
    ("casefold", "\u212aelvin ".encode()),
    ("casefold", "kelvin \u0131".encode()),
    ("start_loop", b""),
    ("start_loop", b"a"),
    ("start_loop", b"ba"),
    ("start_loop", b"baa"),
    ("start_loop", b"bab"),
]


@pytest.mark.parametrize("name,data", EDGE_CASES, ids=[f"{n}-{i:02d}" for i, (n, _) in enumerate(EDGE_CASES)])
def test_engine_mask_equals_oracle_edge_cases(name, data, compiled, grammar_texts, vocab):
    text = CUSTOM_GRAMMARS.get(name) or grammar_texts[name]
    assert oracle.viable(text, data), f"{name}: edge case {data!r} should be viable"
    _compare(name, text, data, compiled, vocab)


def test_live_but_uncompletable_prefix_is_refused_at_compile_time(vocab):
    """Viable means "a prefix of a complete string", not only "not rejected yet".

    With no separator, greedy lexing makes a NAME swallow every following letter, so after "#"
    the required second NAME can never start: no complete string begins with "#" (the only one
    is "."). A mask cannot express this dead end exactly, so the engine refuses the grammar when
    it compiles, naming the terminals. (The oracle's own "live state" test cannot see it either;
    it is exact only for grammars like the bundled ones.)
    """
    from grammars import EmptyLanguageError, Grammar, compile_grammar

    text = 'start: "#" NAME NAME | "."\nNAME: /[a-z]+/\n'
    assert oracle.find_completion(text, b"#") is None
    assert oracle.find_completion(text, b"") == b"."
    with pytest.raises(EmptyLanguageError, match="NAME"):
        compile_grammar(Grammar.from_lark(text), vocab)
