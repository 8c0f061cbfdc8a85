"""grammars.json_numbers: range regexes over canonical JSON number spellings, against exact Fractions."""

from __future__ import annotations

import math
import random
import re
import time
from decimal import Decimal
from fractions import Fraction

import pytest

try:  # Python >= 3.11
    import re._parser as sre_parse
    import re._constants as sre_c
except ImportError:  # pragma: no cover
    import sre_parse
    import sre_constants as sre_c

from grammars.json_schema.numbers import (
    INTEGER,
    NONINTEGRAL,
    EmptyRange,
    int_range_regex,
    number_range_regex,
)
from grammars.regex_dfa import regex_byte_dfa


# -- the oracle ----------------------------------------------------------------------------------

def canon(x: Fraction) -> str:
    """The canonical spelling of x (finite decimal expansion): integer, or plain decimal."""
    if x.denominator == 1:
        return str(x.numerator)
    sign, x = ("-" if x < 0 else ""), abs(x)
    k = 0
    while (x * 10**k).denominator != 1:
        k += 1
        assert k < 2000, "no finite decimal expansion"
    s = str(x.numerator * 10**k // x.denominator).rjust(k + 1, "0")
    return f"{sign}{s[:-k]}.{s[-k:].rstrip('0')}"


def parse(s: str) -> Fraction:
    return Fraction(Decimal(s))


def in_range(x, lo, hi, lo_ex, hi_ex, integral) -> bool:
    if lo is not None and (x < lo or (lo_ex and x == lo)):
        return False
    if hi is not None and (x > hi or (hi_ex and x == hi)):
        return False
    if integral is True:
        return x.denominator == 1
    if integral is False:
        return x.denominator != 1
    return True


def expect_empty(lo, hi, lo_ex, hi_ex, integral) -> bool:
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_ex or hi_ex))):
        return True
    if lo is None or hi is None:
        return False
    if integral is True:
        k = math.floor(lo) + 1 if lo_ex else math.ceil(lo)
        return not (k < hi or (k == hi and not hi_ex))
    if integral is False:
        return lo == hi and lo.denominator == 1
    return False


_ALLOWED_OPS = {sre_c.LITERAL, sre_c.IN, sre_c.RANGE, sre_c.BRANCH, sre_c.SUBPATTERN, sre_c.MAX_REPEAT}


def assert_plain_regex(pattern: str) -> None:
    """Only literals, classes, non-capturing groups, alternation and greedy quantifiers."""

    def walk(items):
        for op, av in items:
            assert op in _ALLOWED_OPS, (op, pattern[:200])
            if op is sre_c.SUBPATTERN:
                assert av[0] is None, f"capturing group in {pattern[:200]}"
                walk(av[3])
            elif op is sre_c.BRANCH:
                for b in av[1]:
                    walk(b)
            elif op is sre_c.MAX_REPEAT:
                walk(av[2])
            elif op is sre_c.IN:
                for iop, _ in av:
                    assert iop in (sre_c.LITERAL, sre_c.RANGE), (iop, pattern[:200])

    walk(sre_parse.parse(pattern))


# -- generators ----------------------------------------------------------------------------------

def rand_decimal(rng: random.Random) -> Fraction:
    kind = rng.random()
    if kind < 0.25:
        return Fraction(rng.randint(-60, 60))
    if kind < 0.6:
        return Fraction(rng.randint(-5000, 5000), 10 ** rng.randint(1, 4))
    if kind < 0.75:
        return Fraction(rng.randint(-99, 99), 10 ** rng.randint(3, 6))
    if kind < 0.85:
        return Fraction(rng.choice([-1, 1]) * (10 ** rng.randint(2, 25) + rng.randint(-3, 3)))
    if kind < 0.92:
        return Fraction(rng.choice([0, 1, -1, 10, -10, 100]))
    return Fraction(rng.randint(-10**6, 10**6), 10 ** rng.randint(0, 4))


def rand_case(rng: random.Random):
    lo = None if rng.random() < 0.2 else rand_decimal(rng)
    hi = None if rng.random() < 0.2 else rand_decimal(rng)
    r = rng.random()
    if lo is not None and hi is not None:
        if r < 0.1:
            hi = lo
        elif r < 0.2:
            hi = lo + Fraction(rng.randint(1, 30), 10 ** rng.randint(0, 4))
        elif lo > hi and r < 0.9:
            lo, hi = hi, lo
    return lo, hi, rng.random() < 0.4, rng.random() < 0.4, rng.choice([None, True, False])


def samples(rng: random.Random, bounds) -> list[Fraction]:
    out = {Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-1, 2)}
    for b in bounds:
        if b is None:
            continue
        out |= {b, -b, Fraction(math.floor(b)), Fraction(math.ceil(b)), Fraction(math.floor(b) - 1),
                Fraction(math.ceil(b) + 1)}
        for k in range(0, 7):
            e = Fraction(1, 10**k)
            out |= {b + e, b - e, b + e * rng.randint(1, 9), b - e * rng.randint(1, 9)}
        for _ in range(6):
            d = Fraction(rng.randint(-999, 999), 10 ** rng.randint(0, 6))
            out.add(b + d)
    for _ in range(20):
        out.add(rand_decimal(rng))
        out.add(Fraction(rng.randint(-10**7, 10**7), 10 ** rng.randint(0, 7)))
    out.add(Fraction(10**40 + 7, 10))
    out.add(-Fraction(10**40 + 7, 10))
    return sorted(out)


# Spellings of numbers that are never canonical.
NON_CANONICAL = ["-0", "-0.0", "0.0", "00", "01", "-01", "1.0", "1.50", "0.10", "1e3", "1E3", "1e0",
                 "+1", "+0", "1.", ".5", "-.5", "0.", "1e-1", "15e-1", "0.15e1", "- 1", " 1", "1 ", "",
                 "-", ".", "-00.5", "00.5", "1.5e0", "2.000", "-3.0", "1_000", "0x1"]


def non_canonical_variants(x: Fraction) -> list[str]:
    s = canon(x)
    neg, body = s.startswith("-"), s.lstrip("-")
    sign = "-" if neg else ""
    out = [s + "e0", s + "E0", "+" + s, sign + "0" + body, s + "."]
    if "." in s:
        out += [s + "0", s + "00", s + "e1"]
        if body.startswith("0."):
            out.append(sign + body[1:])
        ip, fp = body.split(".")
        out.append(sign + ip + fp + f"e-{len(fp)}")  # same value, exponent form
    else:
        out += [s + ".0", s + ".00", s + "e00"]
        if s == "0":
            out += ["-0", "-0.0"]
    return out


def check(regex: str, lo, hi, lo_ex, hi_ex, integral, xs) -> None:
    rx = re.compile(regex)
    for x in xs:
        want = in_range(x, lo, hi, lo_ex, hi_ex, integral)
        got = rx.fullmatch(canon(x)) is not None
        assert got == want, (canon(x), lo, hi, lo_ex, hi_ex, integral, regex)
        for v in non_canonical_variants(x):
            assert rx.fullmatch(v) is None, (v, regex)
    for v in NON_CANONICAL:
        assert rx.fullmatch(v) is None, (v, regex)


# -- tests ---------------------------------------------------------------------------------------

def test_canon_helper():
    for s in ["0", "7", "-12", "0.5", "-3.25", "0.0001", "12.010101", "100", "-0.001"]:
        assert canon(parse(s)) == s
    assert canon(Fraction(3, 2)) == "1.5" and canon(Fraction(-1, 8)) == "-0.125"
    assert canon(Fraction(0)) == "0" and canon(Fraction(-10)) == "-10"


@pytest.mark.parametrize("seed", range(10))
def test_number_range_random(seed):
    rng = random.Random(seed)
    for _ in range(120):
        lo, hi, lo_ex, hi_ex, integral = rand_case(rng)
        xs = samples(rng, [lo, hi])
        kw = dict(lo_exclusive=lo_ex, hi_exclusive=hi_ex, integral=integral)
        if expect_empty(lo, hi, lo_ex, hi_ex, integral):
            with pytest.raises(EmptyRange):
                number_range_regex(lo, hi, **kw)
            assert not any(in_range(x, lo, hi, lo_ex, hi_ex, integral) for x in xs)
            continue
        regex = number_range_regex(lo, hi, **kw)
        check(regex, lo, hi, lo_ex, hi_ex, integral, xs)


@pytest.mark.parametrize("seed", range(4))
def test_random_strings_are_canonical_and_in_range(seed):
    """Whatever string matches is a canonical spelling of a value in range (never two spellings)."""
    rng = random.Random(1000 + seed)
    alphabet = "0123456789" * 3 + "00--..eE+"
    for _ in range(60):
        lo, hi, lo_ex, hi_ex, integral = rand_case(rng)
        try:
            rx = re.compile(number_range_regex(lo, hi, lo_exclusive=lo_ex, hi_exclusive=hi_ex,
                                               integral=integral))
        except EmptyRange:
            continue
        near = [canon(b) for b in (lo, hi) if b is not None]
        for _ in range(300):
            if near and rng.random() < 0.5:  # mutate a bound's spelling
                s = list(rng.choice(near))
                for _ in range(rng.randint(1, 3)):
                    i = rng.randrange(len(s) + 1)
                    op = rng.random()
                    if op < 0.4 and i < len(s):
                        s[i] = rng.choice(alphabet)
                    elif op < 0.7:
                        s.insert(i, rng.choice(alphabet))
                    elif i < len(s):
                        del s[i]
                s = "".join(s)
            else:
                s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
            if rx.fullmatch(s):
                x = parse(s)
                assert canon(x) == s, (s, rx.pattern)
                assert in_range(x, lo, hi, lo_ex, hi_ex, integral), (s, rx.pattern)


@pytest.mark.parametrize("seed", range(3))
def test_byte_dfa_agrees(seed):
    rng = random.Random(2000 + seed)
    for _ in range(40):
        lo, hi, lo_ex, hi_ex, integral = rand_case(rng)
        try:
            regex = number_range_regex(lo, hi, lo_exclusive=lo_ex, hi_exclusive=hi_ex, integral=integral)
        except EmptyRange:
            continue
        assert_plain_regex(regex)
        dfa = regex_byte_dfa(regex)
        assert dfa.n_states < 300, (dfa.n_states, regex)
        for x in samples(rng, [lo, hi]):
            s = canon(x)
            assert dfa.matches(s.encode()) == in_range(x, lo, hi, lo_ex, hi_ex, integral), (s, regex)
            for v in non_canonical_variants(x)[:4]:
                assert not dfa.matches(v.encode()), (v, regex)


@pytest.mark.parametrize("seed", range(4))
def test_int_range_random(seed):
    rng = random.Random(3000 + seed)
    for _ in range(150):
        def b():
            r = rng.random()
            if r < 0.15:
                return None
            if r < 0.3:
                return rng.choice([-1, 1]) * (10 ** rng.randint(1, 40) + rng.randint(-12, 12))
            return rng.randint(-1200, 1200)
        lo, hi = b(), b()
        if lo is not None and hi is not None and lo > hi:
            with pytest.raises(ValueError, match="lo > hi"):
                int_range_regex(lo, hi)
            lo, hi = hi, lo
        regex = int_range_regex(lo, hi)
        rx = re.compile(regex)
        xs = samples(rng, [None if lo is None else Fraction(lo), None if hi is None else Fraction(hi)])
        check(regex, lo, hi, False, False, True, xs)
        assert regex == number_range_regex(lo, hi, integral=True)
        for x in xs:
            for k in (x.numerator // x.denominator, lo, hi):
                if k is not None:
                    for v in (k - 1, k, k + 1):
                        ok = (lo is None or v >= lo) and (hi is None or v <= hi)
                        assert (rx.fullmatch(str(v)) is not None) == ok, (v, lo, hi, regex)


def test_constants():
    check(INTEGER, None, None, False, False, True, samples(random.Random(5), [Fraction(7, 4)]))
    check(NONINTEGRAL, None, None, False, False, False, samples(random.Random(6), [Fraction(-3, 5)]))
    check(number_range_regex(), None, None, False, False, None, samples(random.Random(7), [Fraction(9)]))
    assert INTEGER == int_range_regex(None, None)
    assert NONINTEGRAL == number_range_regex(integral=False)
    for r in (INTEGER, NONINTEGRAL, number_range_regex()):
        assert_plain_regex(r)
        assert regex_byte_dfa(r).n_states < 20


def test_int_range_matches_exhaustively():
    for lo in range(-25, 26, 3):
        for hi in range(lo, 130, 7):
            rx = re.compile(int_range_regex(lo, hi))
            for v in range(-140, 140):
                assert (rx.fullmatch(str(v)) is not None) == (lo <= v <= hi), (v, lo, hi)
    assert int_range_regex(1, 12) == "(?:1[0-2]|[1-9])"


def test_empty_ranges():
    F = Fraction
    with pytest.raises(EmptyRange, match="lo > hi"):
        number_range_regex(F(2), F(1))
    with pytest.raises(ValueError, match="lo > hi"):
        int_range_regex(5, 4)
    for kw in (dict(lo_exclusive=True), dict(hi_exclusive=True)):
        with pytest.raises(EmptyRange):
            number_range_regex(F("1.5"), F("1.5"), **kw)
    with pytest.raises(EmptyRange):
        number_range_regex(F("1.1"), F("1.9"), integral=True)
    with pytest.raises(EmptyRange):
        number_range_regex(F(0), F(1), lo_exclusive=True, hi_exclusive=True, integral=True)
    with pytest.raises(EmptyRange):
        number_range_regex(F(3), F(3), integral=False)
    assert re.fullmatch(number_range_regex(F(3), F(3)), "3")
    assert re.fullmatch(number_range_regex(F("-2.5"), F("-2.5")), "-2.5")
    assert number_range_regex(F(0), F(1), lo_exclusive=True, hi_exclusive=True, integral=False)
    assert issubclass(EmptyRange, ValueError)


def test_bad_bounds():
    with pytest.raises(TypeError):
        number_range_regex(1.5)
    with pytest.raises(TypeError):
        int_range_regex(1.0, 2)
    with pytest.raises(ValueError):
        number_range_regex(Fraction(1, 3))
    with pytest.raises(ValueError):
        number_range_regex(Decimal("NaN"))
    with pytest.raises(ValueError):
        number_range_regex(hi=Decimal("Infinity"))
    # Decimal and int bounds are exact
    assert number_range_regex(Decimal("1.10")) == number_range_regex(Fraction(11, 10))


def _fd(f: float) -> Fraction:
    return Fraction(Decimal(repr(f)))


NAMED = {
    "minimum 1.1": dict(lo=_fd(1.1)),
    "maximum 3.0": dict(hi=_fd(3.0)),
    "exclusiveMinimum 1.1": dict(lo=_fd(1.1), lo_exclusive=True),
    "minimum -2.0001": dict(lo=_fd(-2.0001)),
    "minimum 1e-8": dict(lo=_fd(1e-8)),
    "integers 0..1e308": dict(lo=Fraction(0), hi=_fd(1e308), integral=True),
    "minimum 1e308": dict(lo=_fd(1e308)),
    "5e-324..1.7976931348623157e308": dict(lo=_fd(5e-324), hi=_fd(1.7976931348623157e308)),
    "-1.7976931348623157e308 < x < 1.7976931348623157e308":
        dict(lo=_fd(-1.7976931348623157e308), hi=_fd(1.7976931348623157e308),
             lo_exclusive=True, hi_exclusive=True),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_bounds_are_small(name):
    kw = NAMED[name]
    t = time.perf_counter()
    regex = number_range_regex(**kw)
    dfa = regex_byte_dfa(regex)
    assert time.perf_counter() - t < 5
    assert_plain_regex(regex)
    assert dfa.n_states < 2000, (name, dfa.n_states)
    if name in ("minimum 1.1", "maximum 3.0", "exclusiveMinimum 1.1", "minimum -2.0001", "minimum 1e-8"):
        assert dfa.n_states < 30, (name, dfa.n_states)
    lo, hi = kw.get("lo"), kw.get("hi")
    args = (lo, hi, kw.get("lo_exclusive", False), kw.get("hi_exclusive", False), kw.get("integral"))
    rng = random.Random(name)
    xs = samples(rng, [lo, hi])
    for b in (lo, hi):
        if b is not None:  # neighbours at the bound's own scale and far below it
            ulp = Fraction(10) ** (len(canon(abs(b)).replace(".", "").lstrip("0")) - 20)
            for k in (1, 10**5, 10**30):
                xs += [b + ulp / k, b - ulp / k]
    for x in xs:
        s = canon(x)
        assert dfa.matches(s.encode()) == in_range(x, *args), (name, s[:60])


@pytest.mark.parametrize("seed", range(2))
def test_random_float_bounds(seed):
    """Bounds as JSON Schema gives them (floats of any exponent): small DFAs, exact answers."""
    rng = random.Random(4000 + seed)
    for _ in range(12):
        def f():
            return rng.choice([-1, 1]) * rng.random() * 10.0 ** rng.randint(-320, 307)
        lo, hi = sorted([_fd(f()), _fd(f())])
        if rng.random() < 0.3:
            lo = None
        kw = dict(lo_exclusive=rng.random() < 0.5, hi_exclusive=rng.random() < 0.5,
                  integral=rng.choice([None, True, False]))
        args = (lo, hi, kw["lo_exclusive"], kw["hi_exclusive"], kw["integral"])
        try:
            regex = number_range_regex(lo, hi, **kw)
        except EmptyRange:
            assert expect_empty(*args)
            continue
        dfa = regex_byte_dfa(regex)
        assert dfa.n_states < 2500, dfa.n_states
        xs = samples(rng, [lo, hi])
        for b in (lo, hi):
            if b is not None:
                for k in (1, 17, 40):
                    e = Fraction(1, 10**k) * abs(b)
                    xs += [b + e, b - e]
        rx = re.compile(regex)
        for x in xs:
            s = canon(x)
            want = in_range(x, *args)
            assert (rx.fullmatch(s) is not None) == want, (s[:60], regex[:200])
            assert dfa.matches(s.encode()) == want
