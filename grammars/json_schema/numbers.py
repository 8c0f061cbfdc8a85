"""Regexes for the canonical JSON spellings of the numbers in an interval.

    int_range_regex(lo, hi)                              -->  regex of the integers in [lo, hi]
    number_range_regex(lo, hi, lo_exclusive=..., ...)    -->  regex of the numbers lo <(=) x <(=) hi

Canonical spelling (the language of every regex here): an integral value is written as an integer
(``0``, ``7``, ``-12``: never ``-0``, no leading zeros, no fraction, no exponent); a non-integral
value as a plain decimal: optional ``-``, the integer part (``0`` or without leading zeros), ``.``,
then digits whose last one is not ``0`` (``0.5``, ``-3.25``, ``0.0001``), no exponent. Every
rational with a finite decimal expansion has exactly one canonical spelling, so for a canonical
spelling ``s`` of ``x``, ``re.fullmatch(regex, s)`` succeeds iff ``x`` is in the range, and no
other spelling (``1.0``, ``01``, ``-0``, ``1.50``, ``1e3``) ever matches.

Construction: a canonical spelling is ``[-] N [. F]``; the integer part ``N`` splits the range into
at most three pieces (the integer part of the lower bound, those strictly between, that of the upper
bound). Integer parts are handled by digit count (one ``[1-9][0-9]{a,b}`` for all the lengths that
are wholly inside, a digit-by-digit range for the partial lengths), so bounds like ``1e308`` stay
small. Fraction digits ``F`` (no trailing zero) compare numerically exactly as they compare
lexicographically, so a bound on the fraction is a lexicographic bound on ``F``, written per run of
equal digits. The output uses only character classes, ``(?:...)`` groups, alternation and
quantifiers (no anchors, lookarounds or backreferences), keeps group nesting shallow (a constant,
whatever the bounds), and is safe to concatenate (a top-level alternation is wrapped in ``(?:...)``).

Size: the DFA of a range is linear in the bounds' digit counts (a few hundred states for bounds
near ``1e308`` or ``5e-324``), except that an *integer part* bound with a long run of ``0``s (lower
bound) or ``9``s (upper bound) followed by other digits, such as ``10**300 + 1`` (only exact huge
integers, never a float's 17 significant digits), costs states quadratic in that run's length.

An empty range raises :class:`EmptyRange` (a ``ValueError``); nothing here returns ``None``.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from fractions import Fraction

__all__ = ["EmptyRange", "INTEGER", "NONINTEGRAL", "int_range_regex", "number_range_regex"]


class EmptyRange(ValueError):
    """No canonical number satisfies the requested bounds (and integrality)."""


_ANY = "[0-9]*[1-9]"  # nonempty fraction digits without a trailing zero
_OPT_TAIL = f"(?:{_ANY})?"  # what may follow a nonzero fraction digit


# -- small regex builders ------------------------------------------------------------------------

def _cls(a: int, b: int) -> str:
    """One digit in [a, b]."""
    if a == b:
        return str(a)
    if b == a + 1:
        return f"[{a}{b}]"
    return f"[{a}-{b}]"


def _rep(atom: str, lo: int, hi: int | None = -1) -> str:
    """``atom`` repeated lo..hi times (hi -1: exactly lo; None: unbounded). ``atom``: one atom."""
    if hi == -1:
        hi = lo
    if hi is None:
        return atom + ("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
    if hi == 0:
        return ""
    if lo == hi:
        return atom * lo if lo <= 3 else f"{atom}{{{lo}}}"
    if (lo, hi) == (0, 1):
        return atom + "?"
    return f"{atom}{{{lo},{hi}}}"


def _any(n: int) -> str:
    """Exactly n digits."""
    return _rep("[0-9]", n)


def _runs(digits: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for c in digits:
        if out and out[-1][0] == c:
            out[-1] = (c, out[-1][1] + 1)
        else:
            out.append((c, 1))
    return out


def _lit(digits: str) -> str:
    """A digit string, long runs as counted repetitions."""
    return "".join(_rep(c, r) for c, r in _runs(digits))


def _grp(alts: list[str]) -> str:
    """The alternatives as one atom-like sequence (grouped when there are several)."""
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def _opt(alts: list[str]) -> str:
    return "(?:" + "|".join(alts) + ")?"


# -- integer parts -------------------------------------------------------------------------------

def _fixed_ge(d: str) -> list[str]:
    """Digit strings of length len(d) that are >= d."""
    alts, prefix, pos, n = [], "", 0, len(d)
    for c, r in _runs(d):
        if c == "0" and pos + r == n:  # only zeros left: everything from here on is >= d
            return alts + [prefix + _any(n - pos)]
        if c != "9":
            for j in range(r):
                alts.append(prefix + _rep(c, j) + _cls(int(c) + 1, 9) + _any(n - pos - j - 1))
        prefix += _rep(c, r)
        pos += r
    return alts + [prefix]


def _fixed_le(e: str) -> list[str]:
    """Digit strings of length len(e) that are <= e."""
    alts, prefix, pos, n = [], "", 0, len(e)
    for c, r in _runs(e):
        if c == "9" and pos + r == n:  # only nines left: everything from here on is <= e
            return alts + [prefix + _any(n - pos)]
        if c != "0":
            for j in range(r):
                alts.append(prefix + _rep(c, j) + _cls(0, int(c) - 1) + _any(n - pos - j - 1))
        prefix += _rep(c, r)
        pos += r
    return alts + [prefix]


def _fixed_range(lo: str, hi: str) -> list[str]:
    """Digit strings s of length len(lo) == len(hi) with lo <= s <= hi."""
    i = 0
    while i < len(lo) and lo[i] == hi[i]:
        i += 1
    if i == len(lo):
        return [_lit(lo)]
    common, d, e, m = _lit(lo[:i]), int(lo[i]), int(hi[i]), len(lo) - i - 1
    lo_full, hi_full = lo[i + 1:] == "0" * m, hi[i + 1:] == "9" * m
    alts = []
    if not hi_full:
        alts.append(common + str(e) + _grp(_fixed_le(hi[i + 1:])))
    a, b = d + (0 if lo_full else 1), e - (0 if hi_full else 1)
    if a <= b:
        alts.append(common + _cls(a, b) + _any(m))
    if not lo_full:
        alts.append(common + str(d) + _grp(_fixed_ge(lo[i + 1:])))
    return alts


def _nat(lo: int, hi: int | None) -> list[str]:
    """Naturals in [lo, hi] (hi None: unbounded), without leading zeros; longer ones first."""
    if hi is not None and lo > hi:
        return []
    if lo == 0:
        return [_cls(0, hi)] if hi is not None and hi <= 9 else _nat(1, hi) + ["0"]
    l1 = len(str(lo))
    if hi is not None and len(str(hi)) == l1:
        return _fixed_range(str(lo), str(hi))
    alts = []
    first = l1 if lo == 10 ** (l1 - 1) else l1 + 1  # the lengths wholly inside: first..last
    if hi is None:
        last = None
    else:
        l2 = len(str(hi))
        last = l2 if hi == 10 ** l2 - 1 else l2 - 1
        if last < l2:
            alts += _fixed_range("1" + "0" * (l2 - 1), str(hi))
    if last is None or first <= last:
        alts.append("[1-9]" + _rep("[0-9]", first - 1, None if last is None else last - 1))
    if first > l1:
        alts += _fixed_range(str(lo), "9" * l1)
    return alts


# -- fraction digits (lexicographic order == numeric order) --------------------------------------

def _frac_ge(d: str, inclusive: bool) -> list[str]:
    """Fraction digit strings f (nonempty, no trailing zero) with f >= d (f > d if not inclusive)."""
    alts, prefix = [], ""
    runs = _runs(d)
    if inclusive and runs[-1][1] == 1:  # d = p c: p [c-9] (anything) covers p c..., p [>c]...
        runs, last = runs[:-1], runs[-1][0]
    else:
        last = None
    for c, r in runs:
        if c != "9":  # c^j then a bigger digit (j < r), then anything
            alts.append(prefix + _rep(c, 0, r - 1) + _cls(int(c) + 1, 9) + _OPT_TAIL)
        prefix += _rep(c, r)
    if last is not None:
        alts.append(prefix + _cls(int(last), 9) + _OPT_TAIL)
    else:  # d itself (d ends in 1-9), d...
        alts.append(prefix + (_OPT_TAIL if inclusive else _ANY))
    return alts


def _frac_le(e: str, inclusive: bool) -> list[str]:
    """Fraction digit strings f (nonempty, no trailing zero) with f <= e (f < e if not inclusive)."""
    alts, prefix = [], ""
    runs = _runs(e)
    for k, (c, r) in enumerate(runs):
        v = int(c)
        if v > 0:
            lower = _cls(0, v - 1) + _ANY if v == 1 else f"(?:{_cls(0, v - 1)}{_ANY}|{_cls(1, v - 1)})"
            alts.append(prefix + _rep(c, 0, r - 1) + lower)  # c^j then a smaller digit, j < r
            top = r if k < len(runs) - 1 or inclusive else r - 1  # proper prefixes (and e itself)
            if top >= 1:
                alts.append(prefix + _rep(c, 1, top))
        prefix += _rep(c, r)
    return alts


def _frac_range(d: str | None, d_incl: bool, e: str | None, e_incl: bool) -> list[str]:
    """Fraction digit strings f with d <(=) f <(=) e; None: that side unbounded."""
    if d is None and e is None:
        return [_ANY]
    if e is None:
        return _frac_ge(d, d_incl)
    if d is None:
        return _frac_le(e, e_incl)
    if d == e:
        return [_lit(d)] if d_incl and e_incl else []
    i = 0
    while i < len(d) and i < len(e) and d[i] == e[i]:
        i += 1
    common = _lit(d[:i])
    if i == len(d):  # d is a proper prefix of e (d < e)
        rest = _frac_le(e[i:], e_incl)
        return [common + (_opt(rest) if d_incl else _grp(rest))]
    a, b = int(d[i]), int(e[i])  # a < b
    alts = []
    if i + 1 < len(e):
        alts.append(common + e[i] + _opt(_frac_le(e[i + 1:], e_incl)))
    elif e_incl:
        alts.append(common + e[i])
    if a + 1 <= b - 1:
        alts.append(common + _cls(a + 1, b - 1) + _OPT_TAIL)
    if i + 1 < len(d):
        alts.append(common + d[i] + _grp(_frac_ge(d[i + 1:], d_incl)))
    else:
        alts.append(common + d[i] + (_OPT_TAIL if d_incl else _ANY))
    return alts


def _frac_digits(f: Fraction) -> str:
    """The decimal digits of 0 <= f < 1 (finite expansion), without trailing zeros ('' for 0)."""
    if f == 0:
        return ""
    den, k2, k5 = f.denominator, 0, 0
    while den % 2 == 0:
        den //= 2
        k2 += 1
    while den % 5 == 0:
        den //= 5
        k5 += 1
    k = max(k2, k5)
    return str(f.numerator * 10 ** k // f.denominator).rjust(k, "0").rstrip("0")


# -- magnitudes ----------------------------------------------------------------------------------

def _mag(a: Fraction, a_excl: bool, b: Fraction | None, b_excl: bool,
         integral: bool | None) -> list[str]:
    """Alternatives for the unsigned spellings of the m with a <(=) m <(=) b (0 <= a)."""
    if b is not None and (a > b or (a == b and (a_excl or b_excl))):
        return []
    want_int, want_frac = integral is not False, integral is not True
    na = math.floor(a)
    fa = _frac_digits(a - na) or None
    pieces = []  # (lo, hi, integers?, fraction alternatives or None)
    if b is not None and math.floor(b) == na:
        fb = _frac_digits(b - na) or None
        int_ok = want_int and fa is None and not a_excl and (fb is not None or not b_excl)
        frac = _frac_range(fa, not a_excl, fb, not b_excl) if want_frac and fb else None
        pieces.append((na, na, int_ok, frac))
    else:
        frac = (_frac_ge(fa, not a_excl) if fa else [_ANY]) if want_frac else None
        pieces.append((na, na, want_int and fa is None and not a_excl, frac))
        nb = None if b is None else math.floor(b)
        if nb is None or na + 1 <= nb - 1:
            pieces.append((na + 1, None if nb is None else nb - 1, want_int, [_ANY] if want_frac else None))
        if nb is not None:
            fb = _frac_digits(b - nb) or None
            frac = _frac_le(fb, not b_excl) if want_frac and fb else None
            pieces.append((nb, nb, want_int and (fb is not None or not b_excl), frac))
    merged: list[list] = []
    for lo, hi, int_ok, frac in pieces:
        if frac == []:
            frac = None
        if not int_ok and frac is None:
            continue
        if merged and merged[-1][1] is not None and merged[-1][1] + 1 == lo \
                and merged[-1][2:] == [int_ok, frac]:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi, int_ok, frac])
    alts: list[str] = []
    for lo, hi, int_ok, frac in reversed(merged):  # larger integer parts (longer) first
        nat = _nat(lo, hi)
        if frac is None:
            alts += nat
        elif int_ok:
            alts.append(_grp(nat) + r"(?:\." + _grp(frac) + ")?")
        else:
            alts.append(_grp(nat) + r"\." + _grp(frac))
    return alts


def _bound(x, name: str) -> Fraction | None:
    if x is None:
        return None
    if isinstance(x, (bool, float)) or not isinstance(x, (numbers.Rational, Decimal)):
        raise TypeError(f"{name} must be an int, Fraction or Decimal (for a float x pass "
                        f"Fraction(Decimal(repr(x)))), not {type(x).__name__}")
    try:
        f = Fraction(x)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be finite, not {x!r}") from None
    den = f.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        raise ValueError(f"{name}={x} has no finite decimal expansion")
    return f


# -- public API ----------------------------------------------------------------------------------

def number_range_regex(
    lo: Fraction | None = None,
    hi: Fraction | None = None,
    *,
    lo_exclusive: bool = False,
    hi_exclusive: bool = False,
    integral: bool | None = None,
) -> str:
    """Regex of the canonical spellings of the numbers x with lo <(=) x <(=) hi.

    ``lo``/``hi``: exact bounds (``Fraction``, ``int`` or ``Decimal``; ``None``: unbounded) with a
    finite decimal expansion (else ``ValueError``); a float ``x`` is refused (``TypeError``), pass
    ``Fraction(Decimal(repr(x)))``. ``lo_exclusive``/``hi_exclusive``: strict bounds.
    ``integral``: ``True`` only integers, ``False`` only non-integral numbers, ``None`` both.

    Raises :class:`EmptyRange` (a ``ValueError``) when no number qualifies (``lo > hi``, an
    exclusive ``lo == hi``, no integer in the range with ``integral=True``...).

        >>> r = number_range_regex(Fraction("1.1"), 3)
        >>> import re
        >>> [s for s in ["1", "1.1", "1.05", "2", "2.5", "3", "3.01", "1.10"] if re.fullmatch(r, s)]
        ['1.1', '2', '2.5', '3']
        >>> number_range_regex(0, 1, lo_exclusive=True, hi_exclusive=True, integral=True)
        Traceback (most recent call last):
        ...
        grammars.json_schema.numbers.EmptyRange: no integer x with 0 < x < 1
    """
    lo_f, hi_f = _bound(lo, "lo"), _bound(hi, "hi")
    if integral not in (None, True, False):
        raise TypeError(f"integral must be None, True or False, not {integral!r}")
    what = {True: "integer", False: "non-integral number", None: "number"}[integral]
    desc = "x"
    if lo_f is not None:
        desc = f"{lo_f} {'<' if lo_exclusive else '<='} {desc}"
    if hi_f is not None:
        desc = f"{desc} {'<' if hi_exclusive else '<='} {hi_f}"
    if lo_f is not None and hi_f is not None and (lo_f > hi_f or (lo_f == hi_f and (lo_exclusive or hi_exclusive))):
        raise EmptyRange(f"empty range: {desc}" + (" (lo > hi)" if lo_f > hi_f else ""))
    pos: list[str] = []
    if hi_f is None or hi_f > 0 or (hi_f == 0 and not hi_exclusive):
        a, a_excl = (Fraction(0), False) if lo_f is None or lo_f < 0 else (lo_f, lo_exclusive)
        pos = _mag(a, a_excl, hi_f, hi_exclusive, integral)
    neg: list[str] = []
    if lo_f is None or lo_f < 0:  # x = -m, m > 0
        a, a_excl = (Fraction(0), True) if hi_f is None or hi_f >= 0 else (-hi_f, hi_exclusive)
        neg = _mag(a, a_excl, None if lo_f is None else -lo_f, lo_exclusive, integral)
    if not pos and not neg:
        raise EmptyRange(f"no {what} x with {desc}")
    both = [s for s in pos if s in neg]  # the same magnitudes on both sides: one optional sign
    alts = ([f"-?{_grp(both)}"] if both else []) + [s for s in pos if s not in both]
    rest = [s for s in neg if s not in both]
    if rest:
        alts.append("-" + _grp(rest))
    return _grp(alts)


def int_range_regex(lo: int | None, hi: int | None) -> str:
    """Regex of the canonical spellings of the integers in [lo, hi] (``None``: unbounded).

    Raises :class:`EmptyRange` (a ``ValueError``) when ``lo > hi``.

        >>> int_range_regex(1, 12)
        '(?:1[0-2]|[1-9])'
        >>> int_range_regex(-3, None)
        '(?:[1-9][0-9]*|0|-[1-3])'
    """
    for name, v in (("lo", lo), ("hi", hi)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            raise TypeError(f"{name} must be an int or None, not {type(v).__name__}")
    if lo is not None and hi is not None and lo > hi:
        raise EmptyRange(f"empty integer range: lo > hi ({lo} > {hi})")
    return number_range_regex(lo, hi, integral=True)


INTEGER = int_range_regex(None, None)
"""All canonical integers: ``(?:[1-9][0-9]*|0|-[1-9][0-9]*)``-like, never ``-0``."""

NONINTEGRAL = number_range_regex(integral=False)
"""All canonical non-integral numbers (``-?(?:0|[1-9][0-9]*)\\.[0-9]*[1-9]``-like)."""


def multiple_regex(m: int) -> str | None:
    """Regex for the integers that are multiples of ``m``, when ``m = 2**a * 5**b`` (divisibility
    is decided by the last ``max(a, b)`` digits); None for other ``m``.

        >>> import re
        >>> r = multiple_regex(4)
        >>> [s for s in ["0", "4", "-8", "12", "100", "6", "102", "-2"] if re.fullmatch(r, s)]
        ['0', '4', '-8', '12', '100']
    """
    rest, a, b = m, 0, 0
    while rest % 2 == 0:
        rest, a = rest // 2, a + 1
    while rest % 5 == 0:
        rest, b = rest // 5, b + 1
    if rest != 1 or m > 10_000:
        return None
    k = max(a, b)
    if k == 0:
        return INTEGER
    small = [str(x) for x in range(m, 10 ** k, m)]
    suffixes = [f"{x:0{k}d}" for x in range(0, 10 ** k, m)]
    return f"(?:0|-?(?:{'|'.join(small)}|[1-9][0-9]*(?:{'|'.join(suffixes)})))"
