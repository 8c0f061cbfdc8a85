"""Terminals for scalar schemas: constants, strings (length, ``pattern``, ``format`` as one token
with lookaheads), numbers (ranges, ``multipleOf``).
"""

from __future__ import annotations

import functools
import math
import warnings
from decimal import Decimal
from fractions import Fraction

from ..errors import UnsupportedRegexError
from ..regex import regex_byte_dfa
from .errors import UnsupportedSchemaError, _Never
from .formats import FORMATS
from .jsonvalues import _is_num, _lit, _ptr
from .keywords import _BODY_MARK, _WS_MARK, KNOWN_FORMATS, MAX_REPEAT, NUMBER, _quote_safe
from .numbers import INTEGER, NONINTEGRAL, EmptyRange, multiple_regex, number_range_regex
from .patterns import CH, PatternError, class_loop, contained_class, enc_str, pattern_parts, pattern_regex


LONG_STRING = 1024  # a plain string with a longer maxLength is a chain of chunk tokens (long_string)
MAX_LISTED_MULTIPLES = 1024  # integer multipleOf between bounds: the multiples listed, up to this many


class Scalars:
    """Methods of the translator (mixed into :class:`~grammars.json_schema.translate.Translator`)."""

    def enum(self, schema, path):
        vals = self.listed_values(schema)
        out, seen = [], set()
        for v in vals:
            try:
                r = _lit(v)
            except _Never:
                continue
            if r not in seen:
                seen.add(r)
                out.append(r)
        if not out:
            raise _Never()
        if self.ws and any(isinstance(v, (dict, list)) for v in vals):
            raise UnsupportedSchemaError("object or array constants with flexible whitespace", "enum", path)
        return [("(?:" + "|".join(out) + ")") if len(out) > 1 else out[0]], []

    def string(self, schema, path) -> str:
        """The string terminal: the most specific constraint as its body, the others as
        lookaheads (see :meth:`guarded`)."""
        checks, body = self.string_parts(schema, path)
        token = self.guarded(checks, f'"{body}"')
        combined = "$alsoPattern" in schema or "$matching" in schema or (("pattern" in schema or "format" in schema)
                                                                     and ("$notMatching" in schema or "$notIn" in schema))
        if combined and self.matches_nothing(token.replace(_WS_MARK, "").replace(_BODY_MARK, "")):
            raise _Never()  # e.g. two patterns no string meets (allOf, or merged anyOf branches)
        return token

    def matches_nothing(self, regex: str) -> bool:
        """Whether the token ``regex`` matches no text (its byte DFA, which the compiler builds
        anyway, has no accepting state); False when it cannot be built here (the compile then
        refuses it, naming the schema path)."""
        try:
            return not regex_byte_dfa(_quote_safe(regex)).accepting.any()
        except UnsupportedRegexError:
            return False

    def guarded(self, checks: list, body: str, after: str = "") -> str:
        """``body`` (a token regex) with ``checks`` ``[(negated, content regex)]`` as lookaheads on the
        token's JSON string contents, up to its closing quote and ``after`` (so each is decided
        within the token); ``_WS_MARK`` marks where whitespace may come, ``_BODY_MARK`` where the
        body starts."""
        if not checks:
            return body
        la = "".join(f'(?{"!" if neg else "="}{_WS_MARK}"(?:{r})"{after})' for neg, r in checks)
        return la + _BODY_MARK + body

    def long_string(self, schema, path) -> str | None:
        """A rule for a string without ``format`` whose ``maxLength`` is past what one token holds
        (``LONG_STRING``), with no ``pattern`` or one that is a fixed head then a run of one class
        (:func:`~grammars.json_schema.patterns.class_loop`) or a search for one character of a class
        (:func:`~grammars.json_schema.patterns.contained_class`): ``"``, up to ``maxLength // k``
        chunk tokens of exactly ``k`` characters, a last token of fewer, ``"`` — a chain of rules
        counting chunks (:meth:`chunk_chain`), so the work is linear in ``maxLength / k`` rules and
        ``k`` DFA states, not ``maxLength`` states. None: the string is one token (:meth:`string`)."""
        hi = schema.get("maxLength")
        if hi is None or hi <= LONG_STRING or any(k in schema for k in ("$notIn", "$notMatching", "$matching", "$alsoPattern")):
            return None
        if self.asserted_format(schema, path) is not None:
            return None
        head, ch, found, lo, hi = "", CH, None, int(schema.get("minLength", 0)), int(hi)
        if "pattern" in schema:
            loop, found = class_loop(schema["pattern"]), contained_class(schema["pattern"])
            if loop is None and found is None:
                return None
            if loop is not None:
                head, ch, a, b = loop
                lo, hi = max(lo - len(head), a), hi - len(head) if b is None else min(hi - len(head), b)
        if lo > hi:
            raise _Never()
        k = 256 if hi <= 256 * 1024 else -(-hi // 1024)
        if k > 1024:
            raise UnsupportedSchemaError(f"maxLength {hi} is above the bound {1024 * 1024} (1024 chunks of "
                                         "1024 characters)", "maxLength", _ptr(path, "maxLength"))
        name = self.new_rule("longstr")
        term = functools.partial(self.term, path=path)
        free = functools.partial("(?:{}){{{},{}}}".format, ch)
        if found is None:
            self.chunk_chain(name, lo, hi, k, term(free(k, k)), lambda a, b: term(free(a, b)), True)
        else:  # until a chunk holds a C, chunks of not-C; that chunk and the rest of the string any
            hit = f"(?=(?:{found[1]})*(?:{found[0]})(?:{CH})*$)"  # (the whole token) holds a C
            self.chunk_chain(f"{name}_seen", lo, hi, k, term(free(k, k)), lambda a, b: term(free(a, b)), True)
            self.chunk_chain(name, lo, hi, k, term(f"(?:{found[1]}){{{k}}}"), lambda a, b: term(hit + free(a, b)),
                             False, (term(hit + free(k, k)), f"{name}_seen"))
        self.rules.append(f'{name}: {term(self.ws + chr(34) + enc_str(head))} {name}_0 {term(chr(34))}')
        return name

    def chunk_chain(self, name: str, lo: int, hi: int, k: int, stay: str, rest, ends: bool,
                    switch: tuple[str, str] | None = None) -> None:
        """Rules ``{name}_j``: the rest of a string of ``lo`` to ``hi`` characters after ``j`` chunks of
        ``k``: the chunk terminal ``stay`` then ``{name}_{j+1}``, or (``switch``: a chunk terminal
        and a chain) that chunk then the other chain's rule ``j+1``, or a last part ``rest(a, b)``
        (a terminal of ``a`` to ``b`` characters); ``ends``: the string may end after a ``stay``
        chunk or here (a chain that still waits for something may not)."""
        q = hi // k
        last = q if hi % k else q - 1  # rule j: the rest after j chunks (none left after q chunks of k)
        for j in range(last + 1):
            a, b = max(0, lo - j * k), min(k - 1, hi - j * k)
            alts = [rest(max(a, 1), b)] if b >= max(a, 1) else []
            for chunk, chain, may_end in [(stay, name, ends)] + ([(*switch, True)] if switch else []):
                if j < last:
                    alts.append(f"{chunk} {chain}_{j + 1}")
                elif j < q and may_end:
                    alts.append(chunk)  # the last chunk ends the string
            if not alts:
                raise _Never()
            self.rules.append(f"{name}_{j}: ({' | '.join(alts)})" + ("?" if a == 0 and ends else ""))

    def asserted_format(self, schema, path) -> str | None:
        """The ``format`` of a string schema that constrains it (one of ``FORMATS``); None when there
        is none or it is an unknown one (an annotation, warned about); refuses a known one that is
        not supported."""
        fmt = schema.get("format")
        if fmt is not None and fmt not in FORMATS:
            if fmt in KNOWN_FORMATS:
                self.unsupported("format", path, f"format {fmt!r} is not supported (supported: {', '.join(sorted(FORMATS))})")
            else:
                warnings.warn(f"{_ptr(path, 'format')}: unknown format {fmt!r}: JSON Schema 2020-12 makes an unknown "
                              "format an annotation, so it does not constrain the string", stacklevel=5)
            return None
        return fmt

    def string_parts(self, schema, path) -> tuple[list, str]:
        """([(negated, content regex)], content regex of the body) for a string schema."""
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        fmt = self.asserted_format(schema, path)
        pat = schema.get("pattern")
        if hi is not None and hi > MAX_REPEAT * 16:
            raise UnsupportedSchemaError(f"maxLength {hi} with pattern or format is above the bound {MAX_REPEAT * 16}",
                                         "maxLength", _ptr(path, "maxLength"))
        if hi is not None and lo > hi:
            raise _Never()
        positive = []
        if fmt is not None:
            positive.append(FORMATS[fmt])
        pattern_checks = []
        for p in ([pat] if pat is not None else []) + list(schema.get("$alsoPattern", [])):
            more, body = self.pattern_parts(p, path)
            positive.append(body)
            pattern_checks += more
        if lo or hi is not None:
            positive.append(f"{CH}{{{int(lo)},{'' if hi is None else int(hi)}}}")
        checks = [(False, r) for r in positive[1:]] + pattern_checks
        if schema.get("$notIn"):
            checks.append((True, "|".join(enc_str(v) for v in schema["$notIn"])))
        checks += [(True, r) for r in schema.get("$notMatching", [])] + [(False, r) for r in schema.get("$matching", [])]
        return checks, positive[0] if positive else f"{CH}*"

    def pattern_regex(self, pat, path) -> str:
        try:
            return pattern_regex(pat)
        except PatternError as e:
            raise UnsupportedSchemaError(f"pattern {pat!r} cannot be translated exactly ({e})", "pattern",
                                         _ptr(path, "pattern")) from None

    def pattern_parts(self, pat, path) -> tuple[list, str]:
        try:
            return pattern_parts(pat)
        except PatternError as e:
            raise UnsupportedSchemaError(f"pattern {pat!r} cannot be translated exactly ({e})", "pattern",
                                         _ptr(path, "pattern")) from None

    def number(self, schema, path, ty) -> str:
        bounds = {}
        for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            if k in schema:
                if not _is_num(schema[k]) or not math.isfinite(schema[k]):
                    raise UnsupportedSchemaError(f"{k} must be a finite number", k, _ptr(path, k))
                bounds[k] = Fraction(Decimal(repr(schema[k])))
        if ty == "integer" and schema.get("$nonintegral"):
            raise _Never()
        integral = True if ty == "integer" else (False if schema.get("$nonintegral") else None)
        lo = hi = None
        lo_x = hi_x = False
        for k, strict in (("minimum", False), ("exclusiveMinimum", True)):
            if k in bounds and (lo is None or bounds[k] > lo or (bounds[k] == lo and strict)):
                lo, lo_x = bounds[k], strict
        for k, strict in (("maximum", False), ("exclusiveMaximum", True)):
            if k in bounds and (hi is None or bounds[k] < hi or (bounds[k] == hi and strict)):
                hi, hi_x = bounds[k], strict
        m = schema.get("multipleOf")
        if _is_num(m) and m == int(m) and m > 1 and integral is not False:
            # integer multiples of m: decided by the last digits, or listed between bounds
            regex = (multiple_regex(int(m)) if not bounds
                     else bounded_multiples(int(m), lo, lo_x, hi, hi_x))
            if regex is not None:
                return regex
        if "multipleOf" in schema:
            integral, digits = self.multiple_of(schema["multipleOf"], integral, path)
        else:
            digits = None
        if not bounds and digits is None:
            return {True: INTEGER, False: NONINTEGRAL, None: NUMBER}[integral]
        try:
            regex = number_range_regex(lo, hi, lo_exclusive=lo_x, hi_exclusive=hi_x, integral=integral)
        except EmptyRange:
            raise _Never() from None
        if digits is not None:  # at most `digits` fraction digits
            if bounds:
                raise UnsupportedSchemaError("multipleOf a power of ten beside bounds is not supported",
                                             "multipleOf", _ptr(path, "multipleOf"))
            frac = rf"\.[0-9]{{0,{digits - 1}}}[1-9]"
            regex = {None: rf"-?(?:0|[1-9][0-9]*)(?:{frac})?", False: rf"-?(?:0|[1-9][0-9]*){frac}",
                     True: INTEGER}[integral]
        return regex

    def multiple_of(self, m, integral, path) -> tuple[bool | None, int | None]:
        """``multipleOf m`` as (integral, most fraction digits): exact when ``1/m`` is an integer
        (every integer is a multiple; with ``m = 10**-d`` the numbers with at most d digits)."""
        if not _is_num(m) or m <= 0:
            raise UnsupportedSchemaError(f"multipleOf must be a positive number, not {m!r}", "multipleOf",
                                         _ptr(path, "multipleOf"))
        q = Fraction(Decimal(repr(m)))
        if (1 / q).denominator == 1:  # every integer is a multiple
            if integral is True:
                return True, None
            if q == 1:
                if integral is False:
                    raise _Never()
                return True, None
        d = next((d for d in range(1, 21) if q * 10 ** d == 1), None)
        if d is not None:  # m = 10**-d: at most d fraction digits
            return integral, d
        raise UnsupportedSchemaError(f"multipleOf {m} is supported only for integers when 1/multipleOf is an "
                                     "integer, and as 1 or 10**-d for numbers", "multipleOf", _ptr(path, "multipleOf"))


def bounded_multiples(m: int, lo: Fraction | None, lo_exclusive: bool, hi: Fraction | None,
                      hi_exclusive: bool) -> str | None:
    """The multiples of the integer ``m`` between finite bounds, listed, when there are at most
    ``MAX_LISTED_MULTIPLES``; None otherwise (or for an open side)."""
    if lo is None or hi is None:
        return None
    first = math.floor(lo / m) + 1 if lo_exclusive else math.ceil(lo / m)
    last = math.ceil(hi / m) - 1 if hi_exclusive else math.floor(hi / m)
    if last - first + 1 > MAX_LISTED_MULTIPLES:
        return None
    if first > last:
        raise _Never()
    return "(?:" + "|".join(str(k * m) for k in range(first, last + 1)) + ")"
