"""Byte DFAs of lexer terminals (grammars.regex) against Python's ``re.fullmatch``."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import lark
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grammars.errors import UnsupportedRegexError
from grammars.regex import ByteDFA, literal_byte_dfa, regex_byte_dfa
from grammars.regex.compile import _regex_byte_dfa_cached
from grammars.regex.minimize import minimize as _minimize
from grammars.regex.utf8 import utf8_sequences as _utf8_sequences

_RE_FLAGS = {"i": re.I, "m": re.M, "s": re.S, "x": re.X, "u": re.U, "a": re.A}


def _re_flags(flags) -> int:
    out = 0
    for f in flags:
        out |= _RE_FLAGS[f]
    return out


# (pattern, lark flags): shapes that lark grammars use.
PATTERNS: list[tuple[str, str]] = [
    (r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"', ""),  # JSON string
    (r'".*?(?<!\\)(\\\\)*?"', ""),  # lark ESCAPED_STRING
    (r'"(?:[^"\\]|\\.)*"', ""),
    (r"(?:(?:\+|\-))?(?:(?:(?:[0-9])+(?:e|E)(?:(?:\+|\-))?(?:[0-9])+|(?:(?:[0-9])+\.(?:(?:[0-9])+)?"
     r"|\.(?:[0-9])+)(?:(?:e|E)(?:(?:\+|\-))?(?:[0-9])+)?)|(?:[0-9])+)", ""),  # SIGNED_NUMBER
    (r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", ""),  # JSON number (Unicode \d!)
    (r"(?:(?:[A-Z]|[a-z])|_)(?:(?:(?:[A-Z]|[a-z])|[0-9]|_))*", ""),  # CNAME
    (r"(?:[ \t\x0c\r\n])+", ""),  # WS
    (r"(?:(?:\r)?\n)+", ""),  # NEWLINE
    (r"[^\n]+", ""),
    (r"#[^\n]*", ""),
    (r"/\*(.|\n)*?\*/", ""),  # C_COMMENT
    (r"(?i)select", ""),
    (r"select", "i"),
    (r"(?i:ab)c", ""),
    (r".+", "s"),
    (r".+", ""),
    (r"[\u4e00-\u9fff]+", ""),
    (r"[^\W\d]\w*", ""),  # Unicode identifier
    (r"\w+", "a"),
    (r"\s+", ""),
    (r"[\W\S]+", ""),
    (r"[α-ωΑ-Ω]+", "i"),
    (r"(?i)[a-zäöüß]+", ""),
    (r"(?i)stra(ss|ß)e", ""),
    (r"(?i)k+", ""),
    (r"😀+|🎉", ""),
    (r"[😀-🙏]{1,3}", ""),
    (r"é+", ""),
    (r"\x00|\xff|\uffff|\U0010ffff|\ud7ff|\ue000", ""),
    (r"a b  # spaces are ignored\n c", "x"),
    (r"^(?:true|false|null)$", ""),
    (r"\A[+-]?\d{1,3}(?:,\d{3})*\Z", ""),
    (r"(?:ab|a)(?:bc|c)*", ""),
    (r"[^a-z0-9]{2,4}", ""),
    (r"\w+@\w+\.\w{2,}", ""),
    (r"", ""),
]

_IDS = [f"{p!r}/{f}" for p, f in PATTERNS]

# Characters that make the random strings interesting for these patterns.
_INTERESTING = list(
    "\"\\/abcdefkKsStTuUeE0123456789_+-.,:;@#*\n\r\t \x0c\x00\x1f\x7fé€ßẞſKİı中文αΩσςΣ😀🎉🙏\u00a0\u2028\uffff"
) + ["\U0010ffff", "\ud7ff", "\ue000", "select", "SELECT", "true", "straße", "/*", "*/", "\\\\", '\\"']

_CHARS = st.one_of(
    st.sampled_from(_INTERESTING),
    st.characters(exclude_categories=("Cs",)),
    st.characters(max_codepoint=0x7F),
)
_TEXT = st.lists(_CHARS, max_size=12).map("".join)


@pytest.fixture(scope="module")
def dfas():
    return {(p, f): regex_byte_dfa(p, f) for p, f in PATTERNS}


def _check_invariants(dfa: ByteDFA):
    t, acc = dfa.transitions, dfa.accepting
    assert t.dtype == np.int32 and t.ndim == 2 and t.shape[1] == 256
    assert acc.dtype == bool and acc.shape == (t.shape[0],)
    n = t.shape[0]
    assert ((t >= -1) & (t < n)).all()
    # Reachable from 0.
    seen = {0}
    stack = [0]
    while stack:
        for s in set(t[stack.pop()].tolist()) - {-1}:
            if s not in seen:
                seen.add(s)
                stack.append(s)
    assert seen == set(range(n))
    # Co-reachable (trimmed).
    live = acc.copy()
    while True:
        tt = np.where(t >= 0, t, 0)
        new = live | ((t >= 0) & live[tt]).any(axis=1)
        if (new == live).all():
            break
        live = new
    assert live.all() or (n == 1 and not acc.any())
    # Minimal: minimisation does not shrink it, and yields the same numbering.
    t2, a2 = _minimize(t, acc)
    assert t2.shape[0] == n and (t2 == t).all() and (a2 == acc).all()
    # Only bytes that can occur in UTF-8 at all.
    assert (t[:, [0xC0, 0xC1]] == -1).all() and (t[:, 0xF5:] == -1).all()


@pytest.mark.parametrize("pattern,flags", PATTERNS, ids=_IDS)
def test_invariants(dfas, pattern, flags):
    _check_invariants(dfas[(pattern, flags)])


@pytest.mark.parametrize("pattern,flags", PATTERNS, ids=_IDS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_random_strings_agree_with_re(dfas, pattern, flags, text):
    dfa = dfas[(pattern, flags)]
    expected = re.fullmatch(pattern, text, _re_flags(flags)) is not None
    assert dfa.matches(text.encode()) == expected
    if expected:
        assert dfa.is_live_prefix(text.encode())


@pytest.mark.parametrize("pattern,flags", PATTERNS, ids=_IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_matching_strings_and_their_prefixes(dfas, pattern, flags, data):
    dfa = dfas[(pattern, flags)]
    text = data.draw(st.from_regex(re.compile(pattern, _re_flags(flags)), fullmatch=True))
    assume(re.fullmatch(pattern, text, _re_flags(flags)))
    raw = text.encode()
    assert dfa.matches(raw)
    for i in range(len(raw) + 1):  # byte prefixes, also inside a multi-byte character
        assert dfa.is_live_prefix(raw[:i])


@pytest.mark.parametrize("pattern,flags", PATTERNS, ids=_IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rnd=st.randoms(use_true_random=False))
def test_dfa_walks_are_valid_utf8_matches(dfas, pattern, flags, rnd):
    """Soundness from the automaton's side: every accepted byte string decodes and matches."""
    dfa = dfas[(pattern, flags)]
    if not dfa.accepting.any():
        return
    rows = dfa.transitions.tolist()
    s, out = 0, bytearray()
    for _ in range(60):
        if dfa.accepting[s] and rnd.random() < 0.3:
            break
        choices = [b for b in range(256) if rows[s][b] >= 0]
        if not choices:
            break
        b = rnd.choice(choices)
        out.append(b)
        s = rows[s][b]
    dist = _distance(dfa)
    while not dfa.accepting[s]:  # finish along a shortest path to acceptance (states are live)
        b = next(b for b in range(256) if rows[s][b] >= 0 and dist[rows[s][b]] == dist[s] - 1)
        out.append(b)
        s = rows[s][b]
    text = bytes(out).decode("utf-8")  # raises on invalid UTF-8
    assert re.fullmatch(pattern, text, _re_flags(flags)), (pattern, text)


_DISTANCES: dict[int, tuple[ByteDFA, np.ndarray]] = {}


def _distance(dfa) -> np.ndarray:
    """Per state, the length of the shortest byte path to an accepting state."""
    hit = _DISTANCES.get(id(dfa))
    if hit is not None and hit[0] is dfa:
        return hit[1]
    t, acc = dfa.transitions, dfa.accepting
    dist = np.where(acc, 0, -1)
    d = 0
    while (dist < 0).any():
        frontier = np.isin(t, np.nonzero(dist == d)[0]) & (t >= 0)
        new = (dist < 0) & frontier.any(axis=1)
        assert new.any()  # every state is live
        d += 1
        dist[new] = d
    _DISTANCES[id(dfa)] = (dfa, dist)
    return dist


# ---------------------------------------------------------------------------------------------
# Character classes: exhaustively, over every code point


def _all_code_points():
    cps = np.concatenate([np.arange(0, 0xD800), np.arange(0xE000, 0x110000)]).astype(np.int64)
    return cps


def _dfa_accepts_each_char(dfa: ByteDFA, cps: np.ndarray) -> np.ndarray:
    """Vectorised: does the DFA accept chr(cp) (one character) for every cp?"""
    enc = np.zeros((len(cps), 4), dtype=np.int64)
    length = np.where(cps < 0x80, 1, np.where(cps < 0x800, 2, np.where(cps < 0x10000, 3, 4)))
    for i in range(4):
        # byte i of each encoding
        shift_from_end = (length - 1 - i) * 6
        cont = 0x80 | ((cps >> np.maximum(shift_from_end, 0)) & 0x3F)
        lead = np.select(
            [length == 1, length == 2, length == 3, length == 4],
            [cps, 0xC0 | (cps >> 6), 0xE0 | (cps >> 12), 0xF0 | (cps >> 18)],
        )
        enc[:, i] = np.where(i == 0, lead, cont)
    table = np.vstack([dfa.transitions, np.full((1, 256), -1, dtype=np.int32)])
    dead = table.shape[0] - 1
    table = np.where(table < 0, dead, table)
    state = np.zeros(len(cps), dtype=np.int64)
    for i in range(4):
        state = np.where(i < length, table[state, enc[:, i]], state)
    acc = np.append(dfa.accepting, False)
    return acc[state]


CLASS_PATTERNS = [
    r".", r"(?s).", r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", r"(?a)\w", r"(?a)[\W]",
    r"[^\"\\]", r"[\W\S]", r"[\w\d]", r"[^\W\d]", r"[\u4e00-\u9fff]", r"[^\x00-\x7f]",
    r"(?i)k", r"(?i)s", r"(?i)[a-z]", r"(?i)[^a-z]", r"(?i)ß", r"(?i)[ß]", r"(?i)[ßx]",
    r"(?i)σ", r"(?i)[\u0100-\u017f]", r"(?i)[^\x00-\x7f]", r"(?i)[\U00010400-\U0001044f]",
    r"(?i)[\U00010400]", r"(?i)\U00010428", r"(?i)[\w]", r"(?i)[a\W]", r"(?i)[a\d]", r"(?ia)[a-z]",
    r"(?ia)[a\W]", r"(?i)[^k]", r"(?i)[^\W\d]", r"(?i)ǅ", r"(?i)[ǅ]", r"(?i)İ", r"(?i)ı", r"(?i)[İı]",
    r"(?i)\u1e9e", r"(?i)µ", r"(?i)[Ω]", r"(?i).", r"(?i)[\x00-\uffff]", r"(?i)[^\uffff]",
]


@pytest.fixture(scope="module")
def universe():
    cps = _all_code_points()
    a = np.arange(0x110000, dtype="<u4")
    a[0xD800:0xE000] = 0
    return cps, a.tobytes().decode("utf-32-le")


@pytest.mark.parametrize("pattern", CLASS_PATTERNS)
def test_character_class_exhaustive(universe, pattern):
    cps, text = universe
    expected = np.zeros(0x110000, dtype=bool)
    for m in re.finditer(pattern, text):
        assert m.end() == m.start() + 1
        expected[m.start()] = True
    expected = expected[cps]
    got = _dfa_accepts_each_char(regex_byte_dfa(pattern), cps)
    bad = cps[got != expected]
    assert len(bad) == 0, f"{pattern!r}: {len(bad)} code points differ, e.g. {[hex(c) for c in bad[:10]]}"


# ---------------------------------------------------------------------------------------------
# UTF-8


def test_utf8_sequences_exhaustive_small_ranges():
    rng = np.random.default_rng(0)
    edges = [0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x3FFFF,
             0x40000, 0x10FFFF]
    ranges = [(a, b) for a in edges for b in edges if a <= b and b - a < 70_000]
    ranges += [tuple(sorted(rng.integers(0, 0x110000, 2))) for _ in range(40)]
    for lo, hi in ranges:
        if lo <= 0xDFFF and hi >= 0xD800:
            continue
        if hi - lo > 70_000:
            hi = lo + 70_000 if not (lo <= 0xDFFF and lo + 70_000 >= 0xD800) else 0xD7FF
        seqs = _utf8_sequences(lo, hi)
        want = {chr(c).encode() for c in range(lo, hi + 1)}
        got = set()
        for seq in seqs:
            prods = [b""]
            for a, b in seq:
                prods = [p + bytes([x]) for p in prods for x in range(a, b + 1)]
            got.update(prods)
        assert got == want, (hex(lo), hex(hi))


INVALID_UTF8 = [
    b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80", b"\xc3", b"\xc3\xc3", b"\xe2\x82",
]


@pytest.mark.parametrize("bad", INVALID_UTF8)
def test_invalid_utf8_never_accepted(bad):
    any_text = regex_byte_dfa(r".*", "s")
    assert not any_text.matches(bad)
    complete = bad not in (b"\xc3", b"\xe2\x82")  # these two are only truncated
    assert any_text.is_live_prefix(bad) == (not complete)
    for p, f in [(r"[^a]*", ""), (r"\W+", ""), (r"(?i)[^k]+", ""), (r".+", "")]:
        assert not regex_byte_dfa(p, f).matches(bad)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=12))
def test_dotall_star_is_exactly_valid_utf8(raw):
    try:
        raw.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert regex_byte_dfa(r".*", "s").matches(raw) == valid


def test_live_prefix_splits_multibyte_character():
    dfa = regex_byte_dfa("é+")
    e = "é".encode()
    assert dfa.is_live_prefix(b"") and dfa.is_live_prefix(e[:1]) and not dfa.matches(e[:1])
    assert dfa.matches(e) and dfa.matches(e * 3) and dfa.is_live_prefix(e + e[:1])
    assert not dfa.is_live_prefix(b"e") and not dfa.is_live_prefix(e[1:])
    emoji = regex_byte_dfa("😀+")
    raw = "😀".encode()
    assert all(emoji.is_live_prefix(raw[:i]) for i in range(5))
    assert not emoji.matches(raw[:3]) and emoji.matches(raw * 2)


# ---------------------------------------------------------------------------------------------
# Literals


@pytest.mark.parametrize("text", ["if", "", "😀", "é", "a\nb", "\x00", "→ ∞", "SELECT", "ß", "ǅ"])
@pytest.mark.parametrize("flags", ["", "i"])
def test_literal(text, flags):
    dfa = literal_byte_dfa(text, flags)
    _check_invariants(dfa)
    candidates = {text, text.upper(), text.lower(), text.swapcase(), text + "x", text[:-1], "x" + text}
    for s in candidates:
        want = re.fullmatch(re.escape(text), s, _re_flags(flags)) is not None
        assert dfa.matches(s.encode()) == want, (text, flags, s)
    raw = text.encode()
    assert all(dfa.is_live_prefix(raw[:i]) for i in range(len(raw) + 1))


def test_literal_without_i_is_a_chain():
    dfa = literal_byte_dfa("😀!")
    assert dfa.n_states == 6 and dfa.accepting.tolist() == [False] * 5 + [True]


def test_empty_language():
    dfa = regex_byte_dfa(r"[^\s\S]")
    assert dfa.n_states == 1 and not dfa.accepting.any()
    assert not dfa.matches(b"") and not dfa.is_live_prefix(b"")


def test_flags_as_lark_gives_them():
    assert regex_byte_dfa("a.b", frozenset({"s", "i"})).matches(b"A\nB")
    assert not regex_byte_dfa("a.b", ("i",)).matches(b"A\nB")
    assert regex_byte_dfa("a # comment\n b", "x").matches(b"ab")
    assert regex_byte_dfa(r"(?s)a.b").matches(b"a\nb")
    assert regex_byte_dfa(r"(?i)a(?-i:b)").matches(b"Ab")
    assert not regex_byte_dfa(r"(?i)a(?-i:b)").matches(b"AB")


def test_leading_and_trailing_anchors_are_no_ops():
    for p in [r"^ab$", r"\Aab\Z", r"(?m)^ab$", r"(?:^a|^x)b$", r"^$"]:
        dfa = regex_byte_dfa(p)
        for s in ["ab", "xb", "", "ab\n", "\nab"]:
            assert dfa.matches(s.encode()) == (re.fullmatch(p, s) is not None), (p, s)


def test_lookbehind_inside_the_token():
    p = r'".*?(?<!\\)(\\\\)*?"'
    dfa = regex_byte_dfa(p)
    for s in ['""', '"a"', '"\\"', '"\\\\"', '"a\\"b"', '"a\\\\"b"', '"\\\\\\"', '"é\\\\"']:
        assert dfa.matches(s.encode()) == (re.fullmatch(p, s) is not None), s
    q = r"[ab]+(?<=b)c"
    for s in ["abc", "bc", "bac", "c", "abbc"]:
        assert regex_byte_dfa(q).matches(s.encode()) == (re.fullmatch(q, s) is not None), s


def _same(a: ByteDFA, b: ByteDFA) -> bool:
    """Minimal DFAs in canonical numbering: equal languages <=> equal arrays."""
    return a.transitions.shape == b.transitions.shape and (a.transitions == b.transitions).all() and (
        a.accepting == b.accepting
    ).all()


def test_canonical_form_decides_equivalence():
    assert _same(regex_byte_dfa(r"(?:a|b)*"), regex_byte_dfa(r"[ab]*"))
    assert _same(regex_byte_dfa(r"a+"), regex_byte_dfa(r"aa*"))
    assert not _same(regex_byte_dfa(r"a+"), regex_byte_dfa(r"a*"))


def test_prefix_free_gives_lazy_first_end_language():
    escaped = regex_byte_dfa(r'".*?(?<!\\)(\\\\)*?"')
    assert escaped.matches(b'"a" "b"') and not escaped.prefix_free().matches(b'"a" "b"')
    assert _same(escaped.prefix_free(), regex_byte_dfa(r'"(?:[^"\\\n]|\\[^\n])*"'))
    comment = regex_byte_dfa(r"/\*(.|\n)*?\*/")
    assert _same(comment.prefix_free(), regex_byte_dfa(r"/\*(?:[^*]|\*+[^*/])*\*+/"))
    _check_invariants(comment.prefix_free())


# ---------------------------------------------------------------------------------------------
# Lookaheads at the start, decided within the token


@pytest.mark.parametrize("pattern", [
    r'(?!"(?:ab|c)")"[a-c]*"',
    r'(?="a)(?!"[a-c]*c")"[a-c]{0,4}"',
    r'(?=ab$)[a-z]*',
    r'(?=[ \n]*"[ab]+")[ \n]{0,3}"[a-c]*"',
    r'(?:(?!"a")"[ab]{0,2}"|(?="b)"[a-c]*"|z)',
])
def test_leading_lookahead_agrees_with_fullmatch(pattern):
    rng = random.Random(7)
    dfa = regex_byte_dfa(pattern)
    _check_invariants(dfa)
    for _ in range(3000):
        text = "".join(rng.choice('abcz" \n') for _ in range(rng.randint(0, 7)))
        assert dfa.matches(text.encode()) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_lookahead_that_can_look_past_the_token_raises():
    with pytest.raises(UnsupportedRegexError, match="past the end of the token"):
        regex_byte_dfa(r"(?!if)\w+")


# ---------------------------------------------------------------------------------------------
# Unsupported features


@pytest.mark.parametrize(
    "pattern,flags,feature",
    [
        (r"a(?=b)", "", "lookahead"),
        (r"(?<=a)b", "", "lookbehind"),
        (r"(?<!\\)x", "", "lookbehind"),
        (r"(a)\1", "", "backreference"),
        (r"(?P<q>['\"]).*(?P=q)", "", "backreference"),
        (r"(a)?(?(1)b|c)", "", "conditional"),
        (r"a^b", "", "anchor"),
        (r"a$b", "", "anchor"),
        (r"(?m)a$\n^b", "", "anchor"),
        (r"(^a)+", "", "anchor"),
        (r"\bfoo\b", "", "word boundary"),
        (r"foo\B", "", "word-boundary"),
        (r"(?>ab|a)b", "", "atomic"),
        (r"a*+a", "", "possessive"),
        (r"abc", "l", "LOCALE"),
        (r"[", "", "invalid"),
    ],
)
def test_unsupported_features_raise(pattern, flags, feature):
    with pytest.raises(UnsupportedRegexError) as info:
        regex_byte_dfa(pattern, flags)
    msg = str(info.value)
    assert feature in msg and repr(pattern) in msg
    assert isinstance(info.value, ValueError)


def test_too_large_raises():
    with pytest.raises(UnsupportedRegexError, match="too large"):
        regex_byte_dfa(r"[a-z]{300}", max_states=200)
    with pytest.raises(UnsupportedRegexError, match="too large"):
        regex_byte_dfa(r"\w{1,100}")
    with pytest.raises(UnsupportedRegexError, match="too large"):
        regex_byte_dfa(r"(?:a{1000}){1000}")
    with pytest.raises(UnsupportedRegexError, match="too large"):
        literal_byte_dfa("x" * 50, max_states=20)
    assert regex_byte_dfa(r"[a-z]{300}").n_states == 301


def test_no_blowup_for_negated_classes():
    assert regex_byte_dfa(r'"[^"\\]*"').n_states <= 12
    assert regex_byte_dfa(r"(?s).*").n_states <= 8
    assert regex_byte_dfa(r"[^\n]*").n_states <= 8


# ---------------------------------------------------------------------------------------------
# Speed: every terminal of lark's common.lark and unicode.lark


def _lark_terminals(grammar_file: str):
    path = Path(lark.__file__).parent / "grammars" / grammar_file
    names = re.findall(r"^([A-Z][A-Z_]*)\s*:", path.read_text(), re.M)
    module = grammar_file.removesuffix(".lark")
    text = f"%import {module} ({', '.join(names)})\nstart: {' | '.join(names)}\n"
    return lark.Lark(text, parser="lalr", lexer="basic").terminals


def _convert(terminal):
    pattern = terminal.pattern
    if isinstance(pattern, lark.lexer.PatternStr):
        return literal_byte_dfa(pattern.value, pattern.flags)
    return regex_byte_dfa(pattern.value, pattern.flags)


@pytest.mark.parametrize("grammar_file", ["common.lark", "unicode.lark"])
def test_lark_terminals_convert_fast_and_agree(grammar_file):
    terminals = _lark_terminals(grammar_file)
    _regex_byte_dfa_cached.cache_clear()
    t0 = time.perf_counter()
    converted = [_convert(t) for t in terminals]
    elapsed = time.perf_counter() - t0
    print(f"{grammar_file}: {len(terminals)} terminals in {elapsed * 1000:.1f} ms")
    assert elapsed < 0.5
    samples = ["0", "12", "-3.5e+7", ".5", "1.", '"a\\"b"', '""', "_x1", "abc", " \t", "\r\n\n",
               "# c", "// c", "/* x */", "-- c", "A", "f", "\xa0 ", "1e5"]
    for t, dfa in zip(terminals, converted):
        _check_invariants(dfa)
        regexp = t.pattern.to_regexp()
        for s in samples:
            assert dfa.matches(s.encode()) == (re.fullmatch(regexp, s) is not None), (t.name, s)
