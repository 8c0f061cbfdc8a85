"""Regular expressions for the JSON Schema (draft 2020-12) ``format`` keyword.

``FORMATS`` maps a format name to a Python regex (a ``str``) whose *full-match* language is the
set of string values (decoded, i.e. after JSON unescaping) that are valid for that format:

    >>> import re; bool(re.fullmatch(FORMATS["ipv4"], "192.168.0.1"))
    True
    >>> bool(re.fullmatch(FORMATS["date"], "2021-02-29"))  # not a leap year
    False

The patterns use only character classes, non-capturing groups, alternation and (bounded)
quantifiers: no anchors, lookarounds, backreferences or ``\\b``, so each one compiles with
``grammars.regex_dfa.regex_byte_dfa`` into a byte DFA of under 2,000 states. Digits
and letters are always spelled as ASCII ranges (``[0-9]``, never ``\\d``, which also matches
e.g. Bengali digits). No pattern matches a string holding ``"``, ``\\`` or a control character
U+0000-U+001F, so a pattern can be used unchanged between the quotes of a JSON string literal.

Formats and the specification each one follows
-----------------------------------------------
* ``date``, ``time``, ``date-time``: RFC 3339 section 5.6 (``full-date``, ``full-time``,
  ``date-time``), ``T``/``Z`` in either case (5.6 NOTE), fractional seconds of any length,
  offsets ``+hh:mm``/``-hh:mm`` with hh <= 23. Dates are calendar-checked exactly: days per
  month and Gregorian leap years (divisible by 4, centuries only when divisible by 400).
* ``duration``: RFC 3339 appendix A, as written: ``P`` then a date part (``nY[nM[nD]]``,
  ``nM[nD]`` or ``nD``) with an optional time part, or ``T`` + (``nH[nM[nS]]``, ``nM[nS]`` or
  ``nS``) alone, or ``nW`` alone. Following the ABNF, units cannot be skipped inside a chain
  (``P1Y1D`` and ``PT1H1S`` are not in the grammar) and there are no fractions.
* ``email``: RFC 5321 ``Mailbox``: a dot-string local part (``atext`` runs joined by single
  dots), ``@``, then a ``hostname`` (below) or an address literal ``[IPv4]`` / ``[IPv6:ipv6]``.
* ``idn-email``: RFC 6531: as ``email`` with non-ASCII characters also allowed in the local part
  and the domain an ``idn-hostname`` with ``.`` as the only separator.
* ``hostname``: RFC 1123 section 2.1: dot-separated labels of 1-63 ASCII letters, digits and
  hyphens, not starting or ending with a hyphen. (Punycode ``xn--`` labels are accepted as LDH
  labels, not decoded.)
* ``idn-hostname``: an approximation of IDNA2008 (RFC 5890-5893): labels as in ``hostname``
  (1-63 characters, no leading/trailing hyphen) whose characters may also be non-ASCII letters,
  marks and digits taken from a fixed list of Unicode blocks; no ``--`` in the 3rd and 4th
  positions except in ``xn--`` labels (RFC 5891 4.2.3.1); labels separated by ``.``, U+3002,
  U+FF0E or U+FF61 (RFC 3490 3.1).
* ``ipv4``: RFC 2673 dotted-quad, octets 0-255 without leading zeros (as ``ipaddress`` and
  ``jsonschema`` check it).
* ``ipv6``: RFC 4291 section 2.2 text forms (the ``IPv6address`` ABNF of RFC 3986 3.2.2): eight
  groups of 1-4 hex digits, one optional ``::``, an optional dotted-quad tail. No zone id.
* ``uri``, ``uri-reference``: RFC 3986 ``URI`` and ``URI-reference``.
* ``iri``, ``iri-reference``: RFC 3987 ``IRI`` and ``IRI-reference``: ``ucschar`` wherever
  ``unreserved`` is allowed, ``iprivate`` in the query.
* ``uri-template``: RFC 6570, level 4: literals and ``{...}`` expressions with the operators
  ``+ # . / ; ? &``, ``,``-separated varspecs with ``:N`` (1 <= N <= 9999) or ``*`` modifiers.
* ``uuid``: RFC 4122 string form, 8-4-4-4-12 hex digits, either case; any version/variant.
* ``json-pointer``: RFC 6901: ``""`` or ``("/" reference-token)*`` where ``~`` only appears in
  ``~0``/``~1``.
* ``relative-json-pointer``: draft-handrews-relative-json-pointer-01: a non-negative integer
  without leading zeros followed by ``#`` or a JSON pointer.

``regex`` is left out: the language of ECMA-262 regular expressions is not regular.

Deliberate deviations
---------------------
* JSON-literal safety: ``"``, ``\\`` and U+0000-U+001F are never matched. This only removes
  strings from ``json-pointer``/``relative-json-pointer`` (RFC 6901 allows any character in a
  reference token, e.g. ``/k"l``) and quoted-string local parts of ``email``/``idn-email``
  (``"joe bloggs"@example.com``).
* Leap seconds (``time``, ``date-time``): second ``60`` is accepted only when the time is
  23:59:60 UTC, and (except for ``Z``) only with an offset whose minutes are 00, 30 or 45 --
  every UTC offset in use since leap seconds began in 1972. ``00:19:60+00:20`` is valid by RFC
  3339 but rejected: allowing every offset would make the DFA remember all 1440 local
  ``HH:MM`` values (thousands of states).
  Whether a leap second actually happened on that date is not checked.
* ``date``, ``date-time``: year ``0000`` is rejected (RFC 3339 allows it; Python's ``datetime``,
  hence ``jsonschema``, cannot represent it).
* ``duration``: designators must be upper case (ABNF literals are case-insensitive, but ISO 8601
  and validators use upper case).
* ``hostname``: the 253-character bound on the whole name is left out (only labels are bounded);
  no trailing dot. Same for the domains of ``email``/``idn-email``/``idn-hostname``.
* ``email``, ``idn-email``: the 64-octet local-part bound is left out; RFC 5321
  ``General-address-literal`` (``[tag:...]`` other than ``IPv6:``) is left out.
* ``idn-email``: the non-ASCII characters allowed in the local part are U+00A0-U+D7FF,
  U+F900-U+FDCF, U+FDF0-U+FFEF and U+10000-U+10FFFD (RFC 6531 allows any non-ASCII character;
  C1 controls, BMP private use and U+FDD0-U+FDEF are left out).
* ``idn-hostname`` is an approximation of IDNA2008: it does not apply the per-code-point tables
  (e.g. it accepts non-ASCII upper case, and U+0640), the CONTEXTJ/CONTEXTO rules (middle dot,
  Greek keraia, Hebrew geresh, katakana middle dot, Arabic-Indic digits, ZWJ/ZWNJ), the rule
  against a leading combining mark, the Bidi rule, Punycode validity of ``xn--`` labels, or the
  63-octet bound on the *A-label* (it bounds U-labels to 63 characters instead).
* ``uri-template``: the reserved operators ``= , ! @ |`` (RFC 6570 ``op-reserve``) are rejected.
"""

from __future__ import annotations

import re

__all__ = ["FORMATS"]


# --------------------------------------------------------------------------------------------------
# Building blocks


def _alt(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


_HEX = "[0-9A-Fa-f]"

# RFC 3987 ucschar / iprivate (no surrogates, no per-plane xFFFE-xFFFF non-characters).
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(p << 16)}-{chr((p << 16) | 0xFFFD)}" for p in range(1, 14))
    + "\U000e1000-\U000efffd"
)
_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
# Non-ASCII characters allowed in idn-email local parts.
_UCS_LOOSE = "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0010fffd"

# --- date / time (RFC 3339) -----------------------------------------------------------------------

_YEAR = _alt("[1-9][0-9]{3}", "0[1-9][0-9]{2}", "00[1-9][0-9]", "000[1-9]")  # not 0000
_LEAP_YEAR = _alt(
    "[0-9]{2}(?:0[48]|[2468][048]|[13579][26])",  # divisible by 4, not a century
    "(?:0[48]|[2468][048]|[13579][26])00",  # century divisible by 400 (not 0000)
)
_DATE = _alt(
    _YEAR
    + "-"
    + _alt(
        "(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])",
        "(?:0[13-9]|1[0-2])-(?:29|30)",
        "(?:0[13578]|1[02])-31",
    ),
    _LEAP_YEAR + "-02-29",
)

_HOUR = "(?:[01][0-9]|2[0-3])"
_MINUTE = "[0-5][0-9]"
_SECFRAC = r"(?:\.[0-9]+)?"
_OFFSET = _alt("[Zz]", f"[+-]{_HOUR}:{_MINUTE}")


def _leap_second_times() -> str:
    """``HH:MM:60[.frac]offset`` for every local time and offset (minutes 00/30/45) that make
    23:59:60 UTC."""
    by_local: dict[str, list[str]] = {"23:59": ["[Zz]"]}
    utc = 23 * 60 + 59
    for sign in (1, -1):
        for hh in range(24):
            for mm in (0, 30, 45):
                local = (utc + sign * (hh * 60 + mm)) % (24 * 60)
                key = f"{local // 60:02d}:{local % 60:02d}"
                by_local.setdefault(key, []).append(
                    re.escape(f"{'+' if sign > 0 else '-'}{hh:02d}:{mm:02d}")
                )
    return _alt(
        *(f"{local}:60{_SECFRAC}{_alt(*offs)}" for local, offs in sorted(by_local.items()))
    )


_FULL_TIME = _alt(f"{_HOUR}:{_MINUTE}:[0-5][0-9]{_SECFRAC}{_OFFSET}", _leap_second_times())
_DATE_TIME = f"{_DATE}[Tt]{_FULL_TIME}"


def _duration() -> str:
    n = "[0-9]+"
    second = f"{n}S"
    minute = f"{n}M(?:{second})?"
    hour = f"{n}H(?:{minute})?"
    time = f"T{_alt(hour, minute, second)}"
    day = f"{n}D"
    month = f"{n}M(?:{day})?"
    year = f"{n}Y(?:{month})?"
    date = f"{_alt(day, month, year)}(?:{time})?"
    return f"P{_alt(date, time, f'{n}W')}"


# --- IP addresses ---------------------------------------------------------------------------------

_DEC_OCTET = _alt("25[0-5]", "2[0-4][0-9]", "1[0-9]{2}", "[1-9]?[0-9]")
_IPV4 = rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}"


def _ipv6() -> str:
    h16 = f"{_HEX}{{1,4}}"
    ls32 = _alt(f"{h16}:{h16}", _IPV4)

    def head(k: int) -> str:  # [ *k( h16 ":" ) h16 ]
        return f"(?:(?:{h16}:){{0,{k}}}{h16})?" if k else f"(?:{h16})?"

    return _alt(
        f"(?:{h16}:){{6}}{ls32}",
        f"::(?:{h16}:){{5}}{ls32}",
        f"{head(0)}::(?:{h16}:){{4}}{ls32}",
        f"{head(1)}::(?:{h16}:){{3}}{ls32}",
        f"{head(2)}::(?:{h16}:){{2}}{ls32}",
        f"{head(3)}::{h16}:{ls32}",
        f"{head(4)}::{ls32}",
        f"{head(5)}::{h16}",
        f"{head(6)}::",
    )


_IPV6 = _ipv6()

# --- host names -----------------------------------------------------------------------------------

_LDH_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"{_LDH_LABEL}(?:\.{_LDH_LABEL})*"

# Non-ASCII label characters of idn-hostname: letters, marks and digits of the scripts of these
# blocks (an approximation of IDNA2008 PVALID, see the module docstring).
_IDN_CHARS = (
    "\u00b7"  # MIDDLE DOT (CONTEXTO, Catalan l·l)
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u1fff"  # Latin-1 letters ... Greek Extended
    "\u200c\u200d"  # ZWNJ, ZWJ (CONTEXTJ)
    "\u2c00-\u2dff"  # Glagolitic ... Cyrillic Extended-A
    "\u3005-\u3007\u302a-\u302d"  # 々 〆 〇, ideographic tone marks
    "\u3041-\u30ff\u3105-\u312f\u31a0-\u31bf\u31f0-\u31ff"  # kana, bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs
    "\ua000-\ud7ff"  # Yi ... Hangul syllables, Hangul Jamo Extended-B
    "\U00010000-\U0001efff"  # SMP scripts (no emoji / symbol blocks of U+1F000-U+1FFFF)
    "\U00020000-\U0003fffd"  # CJK extensions (SIP, TIP)
)


def _idn_label(extra: str) -> str:
    """1-63 characters of [A-Za-z0-9-] + ``extra``, no hyphen first/last, no ``--`` at
    positions 3-4 unless the label is an ``xn--`` A-label."""
    n = f"[A-Za-z0-9{extra}]"  # any but the hyphen
    c = f"[A-Za-z0-9{extra}-]"  # any
    return _alt(
        f"{n}(?:{c}{{0,2}}{n}|{c}(?:{n}{c}|-{n}){c}{{0,58}}{n})?",
        "[Xx][Nn]--[A-Za-z0-9-]{0,58}[A-Za-z0-9]",
    )


_IDN_LABEL = _idn_label(_IDN_CHARS)
_IDN_HOSTNAME = f"{_IDN_LABEL}(?:[.\u3002\uff0e\uff61]{_IDN_LABEL})*"

# --- e-mail (RFC 5321 / RFC 6531) -----------------------------------------------------------------

_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-"  # hyphen escaped: more ranges may follow
_ADDRESS_LITERAL = r"\[" + _alt(_IPV4, f"[Ii][Pp][Vv]6:{_IPV6}") + r"\]"
_EMAIL = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@{_alt(_HOSTNAME, _ADDRESS_LITERAL)}"
_IDN_EMAIL = (
    rf"[{_ATEXT}{_UCS_LOOSE}]+(?:\.[{_ATEXT}{_UCS_LOOSE}]+)*@"
    + _alt(rf"{_IDN_LABEL}(?:\.{_IDN_LABEL})*", _ADDRESS_LITERAL)
)

# --- URI / IRI (RFC 3986 / RFC 3987) --------------------------------------------------------------


def _uri(iri: bool) -> tuple[str, str]:
    """(absolute URI, URI-reference), or the IRI forms."""
    unreserved = "A-Za-z0-9._~\\-" + (_UCSCHAR if iri else "")
    sub_delims = "!$&'()*+,;="
    pct = f"%{_HEX}{{2}}"

    def chars(extra: str) -> str:
        return _alt(f"[{unreserved}{sub_delims}{extra}]", pct)

    pchar = chars(":@")
    userinfo = f"{chars(':')}*"
    ip_future = rf"[Vv]{_HEX}+\.[A-Za-z0-9._~{sub_delims}:-]+"
    ip_literal = rf"\[{_alt(_IPV6, ip_future)}\]"
    host = _alt(ip_literal, f"{chars('')}*")  # IPv4address is a subset of reg-name
    authority = f"(?:{userinfo}@)?{host}(?::[0-9]*)?"
    segment = f"{pchar}*"
    path_abempty = f"(?:/{segment})*"
    path_absolute = f"/(?:{pchar}+(?:/{segment})*)?"
    path_rootless = f"{pchar}+(?:/{segment})*"
    path_noscheme = f"{chars('@')}+(?:/{segment})*"
    query_chars = chars(":@/?" + (_IPRIVATE if iri else ""))
    tail = rf"(?:\?{query_chars}*)?(?:#{chars(':@/?')}*)?"
    scheme = "[A-Za-z][A-Za-z0-9+.-]*"
    hier_part = _alt(f"//{authority}{path_abempty}", path_absolute, path_rootless, "")
    relative_part = _alt(f"//{authority}{path_abempty}", path_absolute, path_noscheme, "")
    absolute = f"{scheme}:{hier_part}{tail}"
    return absolute, _alt(absolute, f"{relative_part}{tail}")


_URI, _URI_REFERENCE = _uri(iri=False)
_IRI, _IRI_REFERENCE = _uri(iri=True)


def _uri_template() -> str:
    pct = f"%{_HEX}{{2}}"
    literal = _alt(
        f"[\\x21\\x23\\x24\\x26\\x28-\\x3b\\x3d\\x3f-\\x5b\\x5d\\x5f\\x61-\\x7a\\x7e"
        f"{_UCSCHAR}{_IPRIVATE}]",
        pct,
    )
    varchar = _alt("[A-Za-z0-9_]", pct)
    varname = rf"{varchar}(?:\.?{varchar})*"
    varspec = rf"{varname}(?::[1-9][0-9]{{0,3}}|\*)?"
    expression = rf"\{{[+#./;?&]?{varspec}(?:,{varspec})*\}}"
    return f"{_alt(literal, expression)}*"


# --- JSON pointers (RFC 6901) ---------------------------------------------------------------------

_JSON_POINTER = r'(?:/(?:[^/~"\\\x00-\x1f]|~[01])*)*'
_RELATIVE_JSON_POINTER = f"(?:0|[1-9][0-9]*)(?:#|{_JSON_POINTER})"

# --------------------------------------------------------------------------------------------------

FORMATS: dict[str, str] = {
    "date": _DATE,
    "time": _FULL_TIME,
    "date-time": _DATE_TIME,
    "duration": _duration(),
    "email": _EMAIL,
    "idn-email": _IDN_EMAIL,
    "hostname": _HOSTNAME,
    "idn-hostname": _IDN_HOSTNAME,
    "ipv4": _IPV4,
    "ipv6": _IPV6,
    "uri": _URI,
    "uri-reference": _URI_REFERENCE,
    "iri": _IRI,
    "iri-reference": _IRI_REFERENCE,
    "uri-template": _uri_template(),
    "uuid": f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}",
    "json-pointer": _JSON_POINTER,
    "relative-json-pointer": _RELATIVE_JSON_POINTER,
}
