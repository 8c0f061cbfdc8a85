"""ECMA-262 regular expressions (JSON Schema ``pattern``, ``patternProperties``) as Python regexes
over the JSON *spelling* of a string's contents (what lies between the quotes, written as
``json.dumps(..., ensure_ascii=False)`` writes it), for the JSON Schema translator.

    pattern_regex("^[a-z]+$")  -->  regex over JSON string contents (escapes included)

A pattern finds its match anywhere unless anchored (``^``/``$`` at its ends, as ECMA reads them);
``\\d \\w \\s`` and ``.`` follow ECMA (ASCII digits and word characters, the ECMA white space
set, any character but line terminators). Anchors may close groups and alternatives
(``^a$|^b$``); lookaheads that lead an anchored pattern become checks (:func:`pattern_parts`);
word boundaries ``\\b`` at the top level become conditions on the characters either side.
Other lookaround, backreferences, ``\\B``, property escapes and inline flags raise
:class:`PatternError`.

Example:
    >>> import re
    >>> bool(re.fullmatch(pattern_regex("^a.c$"), "abc")), bool(re.fullmatch(pattern_regex("b"), "abc"))
    (True, True)
"""

from __future__ import annotations

import functools
import json
import re

from ..errors import UnsupportedRegexError
from ..regex import regex_byte_dfa
from ..regex.charsets import normalize, subtract

try:  # Python >= 3.11
    import re._constants as _sre_c
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c  # type: ignore
    import sre_parse as _sre_parse  # type: ignore

__all__ = ["CH", "PatternError", "class_loop", "contained_class", "enc_str", "pattern_parts", "pattern_regex"]

# one JSON string character as json.dumps(ensure_ascii=False) writes it
CH = r'(?:[^"\\\x00-\x1f]|\\["\\bfnrt]|\\u00(?:0[0-7bef]|1[0-9a-f]))'


def enc_str(text: str) -> str:
    """Regex for the JSON spelling of ``text`` inside a string (without the quotes)."""
    return re.escape(json.dumps(text, ensure_ascii=False)[1:-1])


def _ranges_class(ranges, negate: bool = False) -> str:
    out = []
    for lo, hi in ranges:
        a = _cls_char(lo)
        out.append(a if lo == hi else f"{a}-{_cls_char(hi)}")
    return "[" + ("^" if negate else "") + "".join(out) + "]"


def _cls_char(c: int) -> str:
    ch = chr(c)
    if ch.isalnum() and ch.isascii():
        return ch
    return f"\\x{c:02x}" if c < 0x100 else (f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}")


_SPECIAL = [ord('"'), ord("\\")] + list(range(0x20))
_ECMA_SPACE = [(9, 13), (32, 32), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
               (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_WORD = [(48, 57), (65, 90), (95, 95), (97, 122)]


def _complement(ranges):
    out, prev = [], 0
    for lo, hi in sorted(ranges):
        if lo > prev:
            out.append((prev, lo - 1))
        prev = max(prev, hi + 1)
    if prev <= 0x10FFFF:
        out.append((prev, 0x10FFFF))
    return out


def _normalize(ranges) -> list:
    return list(normalize(ranges))  # a list: callers extend it


_ESC_ALL = r'\\["\\bfnrt]|\\u00(?:0[0-7bef]|1[0-9a-f])'


def _charset_regex(ranges) -> str:
    """Regex for one JSON-encoded character whose code point is in ``ranges``."""
    ranges = _normalize(ranges)
    special = [c for c in _SPECIAL if any(lo <= c <= hi for lo, hi in ranges)]
    plain = list(subtract(ranges, _normalize([(c, c) for c in _SPECIAL])))
    alts = []
    if plain:
        missing = list(subtract(_complement(plain), ((0, 0x1F), (34, 34), (92, 92), (0xD800, 0xDFFF))))
        if len(missing) < len(plain):
            alts.append(_ranges_class(_normalize(missing + [(0, 0x1F), (34, 34), (92, 92)]), negate=True))
        else:
            alts.append(_ranges_class(plain))
    if len(special) == len(_SPECIAL):
        alts.append(_ESC_ALL)
    else:
        alts += [enc_str(chr(c)) for c in special]
    if not alts:
        raise PatternError("a character class that matches nothing")
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


class PatternError(ValueError):
    """A pattern that has no exact translation (the message says which feature)."""


def _category_ranges(cat) -> list:
    C = _sre_c
    table = {
        C.CATEGORY_DIGIT: [(48, 57)], C.CATEGORY_NOT_DIGIT: _complement([(48, 57)]),
        C.CATEGORY_WORD: _WORD, C.CATEGORY_NOT_WORD: _complement(_WORD),
        C.CATEGORY_SPACE: _ECMA_SPACE, C.CATEGORY_NOT_SPACE: _complement(_ECMA_SPACE),
    }
    if cat not in table:
        raise PatternError(f"category {cat}")
    return table[cat]


_CHAR_OPS = (_sre_c.LITERAL, _sre_c.NOT_LITERAL, _sre_c.ANY, _sre_c.IN, _sre_c.CATEGORY)


def _char_ranges(op, av) -> list:
    """The code point ranges of one parsed character item (an op of ``_CHAR_OPS``), as ECMA reads it."""
    C = _sre_c
    if op is C.LITERAL:
        return [(av, av)]
    if op is C.NOT_LITERAL:
        return _complement([(av, av)])
    if op is C.ANY:  # ECMA: any but line terminators
        return _complement([(10, 10), (13, 13), (0x2028, 0x2029)])
    if op is C.CATEGORY:
        return _category_ranges(av)
    ranges, negate = [], False
    for iop, iav in av:
        if iop is C.NEGATE:
            negate = True
        elif iop is C.LITERAL:
            ranges.append((iav, iav))
        elif iop is C.RANGE:
            ranges.append(iav)
        elif iop is C.CATEGORY:
            ranges += _category_ranges(iav)
        else:
            raise PatternError(f"class item {iop}")
    ranges = _normalize(ranges)
    return _complement(ranges) if negate else ranges


def _translate(items) -> str:
    """ECMA-262 regex (parsed by Python's parser) over characters -> regex over JSON spellings."""
    C = _sre_c
    out = []
    for op, av in items:
        if op in _CHAR_OPS:
            out.append(_charset_regex(_char_ranges(op, av)))
        elif op is C.BRANCH:
            out.append("(?:" + "|".join(_translate(b) for b in av[1]) + ")")
        elif op is C.SUBPATTERN:
            group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise PatternError("inline flags")
            out.append("(?:" + _translate(sub) + ")")
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            if op is not C.MAX_REPEAT and op is not C.MIN_REPEAT:
                raise PatternError("possessive repeat")
            hi_s = "" if hi is C.MAXREPEAT else str(hi)
            out.append(f"(?:{_translate(sub)}){{{lo},{hi_s}}}")
        elif op in (C.ASSERT, C.ASSERT_NOT):
            raise PatternError("a lookaround inside the pattern (only leading lookaheads are translated)")
        elif op is C.AT:
            raise PatternError("an anchor in the middle" if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING, C.AT_END,
                                                                   C.AT_END_STRING) else "a word boundary")
        else:
            raise PatternError(str(op))
    return "".join(out)


def pattern_regex(pattern: str) -> str:
    """Regex over JSON string contents for the strings in which ``pattern`` (ECMA-262) finds a match."""
    checks, body = pattern_parts(pattern)
    if checks:
        raise PatternError("a lookahead here (only a string's own pattern takes leading lookaheads)")
    return body


@functools.lru_cache(maxsize=1024)
def matches_every_string(pattern: str) -> bool:
    """Whether ``pattern`` finds a match in every string (``[a-z]*`` unanchored, ``^.*``), so the
    keyword has no effect: no string's contents lie outside its content regex.

        >>> matches_every_string("[a-z]*"), matches_every_string("^[a-z]*$"), matches_every_string("a?$")
        (True, False, True)
    """
    try:
        if re.search(pattern, "") is None:
            return False  # a pattern that every string meets finds a match in "" too
        body = pattern_regex(pattern)
        return not regex_byte_dfa(f"(?!(?:{body})$)(?:{CH})*").accepting.any()
    except (PatternError, UnsupportedRegexError, re.error):
        return False


_MAX_ALTS = 32  # alternatives when distributing groups and branches that hold anchors or lookaheads


def pattern_parts(pattern: str) -> tuple[list, str]:
    """``([(negated, content regex)], content regex)``: the strings in which ``pattern`` finds a
    match are those the body regex fully matches and every check fully matches (``negated``: does
    not match). Checks come from lookaheads that lead an anchored pattern (``^(?!-)[a-z-]+$``);
    anchors may stand at the ends of groups and alternatives (``^a$|^b$``, ``^x(y$)``)."""
    if re.search(r"\\[pPkcu]\{|\(\?<[=!]|\\[Bk]|\(\?<\w|\\\d", pattern):
        raise PatternError("lookbehind, backreference, non-boundary \\B or property escape")
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error as e:
        raise PatternError(str(e)) from None
    if parsed.state.flags & ~(re.UNICODE):
        raise PatternError("flags")
    alts = _expand(list(parsed))
    parts = [_alt_parts(a) for a in alts]
    if len(parts) == 1:
        return parts[0]
    return _shared_checks(parts), "(?:" + "|".join(body for _, body in parts) + ")"


def _shared_checks(parts: list) -> list:
    """The checks of a union of alternatives ``[(checks, body)]``: the ones the alternatives that
    have checks share, when every other alternative's body meets them anyway (``^(?=.{1,9}$)a+$|^b$``);
    else :class:`PatternError`."""
    shared = next((checks for checks, _ in parts if checks), [])
    if any(checks and checks != shared for checks, _ in parts):
        raise PatternError("different lookaheads in several alternatives")
    for checks, body in parts:
        for negated, r in shared if not checks else ():
            test = f"(?=(?:{r})$)" if negated else f"(?!(?:{r})$)"  # the body's strings that fail the check
            try:
                meets = not regex_byte_dfa(f"{test}(?:{body})").accepting.any()
            except UnsupportedRegexError:
                meets = False
            if not meets:
                raise PatternError("a lookahead in one of several alternatives (not met by the others)")
    return shared


def _zero_width(item) -> bool:
    """Whether an anchor or lookaround occurs in ``item`` (a parsed regex node)."""
    C = _sre_c
    op, av = item
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return True
    if op is C.BRANCH:
        return any(_zero_width(x) for b in av[1] for x in b)
    if op is C.SUBPATTERN:
        return any(_zero_width(x) for x in av[3])
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        return any(_zero_width(x) for x in av[2])
    return False


def _expand(items: list) -> list[list]:
    """``items`` as alternatives, splicing flagless groups and distributing branches at either end
    that hold anchors or lookaheads (both keep the language)."""
    C = _sre_c
    for pos in (0, -1):
        if not items or not _zero_width(items[pos]):
            continue
        op, av = items[pos]
        rest_l, rest_r = (items[:0], items[1:]) if pos == 0 else (items[:-1], [])
        if op is C.SUBPATTERN and not av[1] and not av[2]:
            return _expand(rest_l + list(av[3]) + rest_r)
        if op is C.BRANCH:
            out = []
            for b in av[1]:
                out += _expand(rest_l + list(b) + rest_r)
                if len(out) > _MAX_ALTS:
                    raise PatternError(f"more than {_MAX_ALTS} alternatives around anchors")
            return out
    return [items]


def _alt_parts(items: list, start: bool = False) -> tuple[list, str]:
    """(checks, body) for one alternative: leading ``^`` and lookaheads, trailing ``$``."""
    C = _sre_c
    looks = []
    while items and (items[0][0] in (C.ASSERT, C.ASSERT_NOT)
                     or (items[0][0] is C.AT and items[0][1] in (C.AT_BEGINNING, C.AT_BEGINNING_STRING))):
        op, av = items[0]
        if op is C.AT:
            start = True
        elif av[0] != 1:
            raise PatternError("lookbehind")
        else:
            sub = list(av[1])
            if sub and sub[0][0] is C.AT and sub[0][1] in (C.AT_BEGINNING, C.AT_BEGINNING_STRING):
                start = True  # (?=^...): only at the start of the string
            looks.append((op is C.ASSERT_NOT, sub))
        items = items[1:]
    if looks and not start:
        raise PatternError("a lookahead in an unanchored pattern")
    checks = []
    for negated, sub in looks:
        alts = _expand(sub)
        inner = [_alt_parts(a, start=True) for a in alts]
        if any(c for c, _ in inner):
            raise PatternError("nested lookaheads")
        checks.append((negated, inner[0][1] if len(inner) == 1 else "(?:" + "|".join(b for _, b in inner) + ")"))
    return checks, _anchor_wrap(items, start)


def _anchor_wrap(items, start: bool = False) -> str:
    C = _sre_c
    while items and items[0][0] is C.AT and items[0][1] in (C.AT_BEGINNING, C.AT_BEGINNING_STRING):
        start, items = True, items[1:]
    end = False
    while items and items[-1][0] is C.AT and items[-1][1] in (C.AT_END, C.AT_END_STRING):
        end, items = True, items[:-1]
    if any(op is C.AT and av is C.AT_BOUNDARY for op, av in items):  # \\b: the string's ends made explicit
        anything = list(_sre_parse.parse(r"[\s\S]*"))
        return _boundaries(([] if start else anything) + items + ([] if end else anything))
    for op, av in items:
        if op is C.AT:
            raise PatternError("an anchor in the middle" if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING, C.AT_END,
                                                                   C.AT_END_STRING) else "a word boundary")
    body = _translate(items)
    return ("" if start else f"{CH}*") + f"(?:{body})" + ("" if end else f"{CH}*")


def _boundaries(items: list) -> str:
    """Regex over JSON spellings for the whole strings of ``items`` (parsed), whose word boundaries
    (at the top level) stand between the characters either side: ``L\\bR`` is ``L`` ending in a
    word character then ``R`` empty or starting with another one, or ``L`` empty or ending in
    another one then ``R`` starting with a word character (ECMA's ``[A-Za-z0-9_]``)."""
    C = _sre_c
    i = next((i for i, (op, av) in enumerate(items) if op is C.AT and av is C.AT_BOUNDARY), None)
    if i is None:
        return _translate(items)
    left, right, other = items[:i], items[i + 1:], _complement(_WORD)

    def union(alts: list, empty: bool, resolve) -> str | None:
        if len(alts) > _MAX_ALTS:
            raise PatternError(f"more than {_MAX_ALTS} alternatives around a word boundary")
        out = [resolve(a) for a in alts] + ([""] if empty else [])
        return None if not out else "(?:" + "|".join(out) + ")"

    cases = ((_ends(left, _WORD), False, _starts(right, other), _nullable(right)),
             (_ends(left, other), _nullable(left), _starts(right, _WORD), False))
    # the items every alternative keeps unchanged (before the last changed one on the left, after
    # the first on the right) are written once, around the cases
    lefts = [a for c in cases for a in c[0]] + ([[]] if cases[1][1] else [])
    rights = [b for c in cases for b in c[2]] + ([[]] if cases[0][3] else [])
    p = _common(lefts)
    s = _common([b[::-1] for b in rights])
    if any(op is C.AT for op, _ in right):
        s = 0  # a later boundary needs all of its right side
    out = []
    for ls, l_empty, rs, r_empty in cases:
        a = union([x[p:] for x in ls], l_empty, _translate)
        b = union([x[:len(x) - s] for x in rs], r_empty, _boundaries)
        if a is not None and b is not None:
            out.append(a + b)
    if not out:
        return "(?!)"
    return _translate(left[:p]) + "(?:" + "|".join(out) + ")" + _translate(right[len(right) - s:])


def _common(alts: list[list]) -> int:
    """How many items all of ``alts`` (lists of parsed items) begin with alike (none if one is empty)."""
    n = 0
    while alts and all(len(a) > n for a in alts) and all(a[n] is alts[0][n] for a in alts):
        n += 1
    return n


def _nullable(items: list) -> bool:
    return _sre_parse.SubPattern(_sre_parse.State(), list(items)).getwidth()[0] == 0


def _ends(items: list, ranges: list, first: bool = False) -> list[list]:
    """Alternatives (parsed items) for the strings of ``items`` whose last character (``first``:
    first character) is in ``ranges``."""
    C = _sre_c
    out = []
    order = range(len(items)) if first else range(len(items) - 1, -1, -1)
    for i in order:
        op, av = items[i]
        if op in _CHAR_OPS:
            both = list(subtract(_normalize(_char_ranges(op, av)), _complement(ranges)))
            alts = [[(C.IN, [(C.RANGE, r) for r in both])]] if both else []
        elif op is C.SUBPATTERN and not av[1] and not av[2]:
            alts = _ends(list(av[3]), ranges, first)
        elif op is C.BRANCH:
            alts = [a for b in av[1] for a in _ends(list(b), ranges, first)]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[1] != 0:
            lo, hi, sub = av
            rest = (C.MAX_REPEAT, (max(lo - 1, 0), hi if hi is C.MAXREPEAT else hi - 1, sub))
            alts = [(a + [rest]) if first else ([rest] + a) for a in _ends(list(sub), ranges, first)]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            alts = []
        else:
            raise PatternError("a word boundary next to an anchor, a lookaround or another boundary")
        out += [(a + items[i + 1:]) if first else (items[:i] + a) for a in alts]
        if not _nullable([items[i]]):
            break
    return out


def _starts(items: list, ranges: list) -> list[list]:
    return _ends(items, ranges, first=True)



def class_loop(pattern: str) -> tuple[str, str, int, int | None] | None:
    """``(prefix, character regex, lo, hi)`` when the strings in which ``pattern`` finds a match
    are exactly the text ``prefix`` then ``lo`` to ``hi`` (None: no bound) characters of one class
    (``^[a-z]*$``, ``^\\S+$``, ``^arn:.{0,9}$``), the class as a regex over JSON spellings; None
    for any other pattern."""
    C = _sre_c
    try:
        items = list(_sre_parse.parse(pattern))
    except (re.error, ValueError, OverflowError, RecursionError):
        return None
    if len(items) < 3 or items[0][0] is not C.AT or items[0][1] not in (C.AT_BEGINNING, C.AT_BEGINNING_STRING) \
            or items[-1][0] is not C.AT or items[-1][1] not in (C.AT_END, C.AT_END_STRING):
        return None
    prefix, item = items[1:-2], items[-2]
    while item[0] is C.SUBPATTERN and not item[1][1] and not item[1][2] and len(item[1][3]) == 1:
        item = list(item[1][3])[0]
    if item[0] not in (C.MAX_REPEAT, C.MIN_REPEAT) or any(op is not C.LITERAL for op, _ in prefix):
        return None
    lo, hi, sub = item[1]
    sub = list(sub)
    if len(sub) != 1 or sub[0][0] not in _CHAR_OPS:
        return None
    try:
        return "".join(chr(c) for _, c in prefix), _translate(sub), lo, None if hi is C.MAXREPEAT else hi
    except PatternError:
        return None


def contained_class(pattern: str) -> tuple[str, str] | None:
    """``(C, not C)``, regexes over JSON spellings of one character, when the strings in which
    ``pattern`` finds a match are exactly those holding a character of the class C (an unanchored
    ``\\S`` or ``[a-z]+``); None for any other pattern (or when every character is in C)."""
    C = _sre_c
    try:
        items = list(_sre_parse.parse(pattern))
    except (re.error, ValueError, OverflowError, RecursionError):
        return None
    if len(items) != 1:
        return None
    op, av = items[0]
    while op is C.SUBPATTERN and not av[1] and not av[2] and len(av[3]) == 1:
        op, av = list(av[3])[0]
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] == 1 and len(av[2]) == 1:
        op, av = list(av[2])[0]  # a run of at least one C is found where one C is
    if op not in _CHAR_OPS:
        return None
    try:
        ranges = _char_ranges(op, av)
        return _charset_regex(ranges), _charset_regex(_complement(ranges))
    except PatternError:
        return None
