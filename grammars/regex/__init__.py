"""One lexer terminal (a regex or a string literal, as lark gives them) as a minimal byte DFA.

    regex_byte_dfa(pattern, flags)  -->  ByteDFA(transitions int32 [n, 256], accepting bool [n])

The automaton reads UTF-8 bytes and accepts exactly the encodings of the strings ``s`` for which
``re.fullmatch(pattern, s, flags)`` succeeds (see "Semantics" below for the few deviations). Invalid
UTF-8 (stray continuation bytes, overlong forms, surrogates, code points above U+10FFFF) is never
accepted, nor is it a live prefix.

Pipeline
--------
1. Parse with Python's own regex parser (``re._parser``, the module lark itself uses to measure
   terminal widths), so the syntax, escapes, inline/scoped flags and verbose mode are exactly
   Python's. (interegular was evaluated and rejected: it does not parse ``\\uXXXX`` escapes or the
   ``x`` flag, expands ranges into per-character sets, has ASCII-only ``\\w\\d\\s``, folds case with
   ``str.lower/upper`` rather than ``re``'s rules, and unions several negated classes in one set
   wrongly, e.g. ``[\\W\\S]``.)
2. Thompson NFA whose edges carry sets of code points (sorted disjoint intervals, surrogates
   excluded), with ``re``'s case folding, ``\\w\\d\\s`` and ``.`` computed exactly.
3. The code-point space is cut into *atoms* (classes of code points that no set in the pattern
   tells apart); subset construction over atoms, then Hopcroft minimisation (character level).
4. Each character transition becomes UTF-8 byte-range sequences (the range-splitting scheme of
   Rust's ``regex-syntax`` ``utf8`` module, reimplemented), merged into one deterministic byte trie
   per state and hash-consed bottom-up, which keeps the result minimal. States are numbered in BFS
   order from the start (state 0), successors in byte order: a canonical form, so two patterns
   with the same language give identical arrays.

Semantics (relative to ``re.fullmatch`` on ``str``)
--------------------------------------------------
* ``\\d \\w \\s`` (and negations), ``.``, ``[...]``, case-insensitive matching (``i``, including the
  Kelvin sign, long s, ``ß``/``ẞ`` and the other special cases, and ``(?a)`` ASCII-only folding) are
  computed from ``re``/``_sre`` of the running interpreter, so they agree with it exactly.
* Lazy and greedy quantifiers are the same thing for a full match. (A lexer is not a full match:
  lark's ``re.match`` stops lazy patterns at the first possible end, so the full-match language of
  e.g. ESCAPED_STRING also holds ``"a" "b"``. ``ByteDFA.prefix_free()`` gives the first-end
  language, which for ESCAPED_STRING and C_COMMENT is exactly what lark's lexer can produce.)
* ``^``/``\\A`` where nothing can have been consumed, and ``$``/``\\Z`` where nothing can follow,
  are accepted as no-ops (they always hold in a full match of the token). Anywhere else an anchor
  raises ``UnsupportedRegexError`` ("anchor in the middle"): in a lexer it depends on text outside
  the token. (In a lexer a leading ``^`` also depends on the position; it is taken as satisfied.)
* Lookbehind ``(?<=X)``/``(?<!X)`` is supported, exactly, where it can only inspect characters of
  the token itself (at least ``width(X)`` characters always precede it), e.g. lark's ESCAPED_STRING
  ``".*?(?<!\\\\)(\\\\\\\\)*?"``. A lookbehind that may look before the token start raises.
* Lookaheads at the very start of the pattern (or of a top-level alternative) are supported, exactly as ``re.fullmatch`` reads
  them: ``(?=B)C`` is C intersected with the strings that begin with a match of B, ``(?!B)C`` is C
  minus those (a product automaton), provided that B is decided within the token (where a match of
  C may end, B has matched or can no longer match); otherwise, and anywhere but the start, a
  lookahead could look past the end of the token, and it raises. (The JSON Schema translator writes ``(?!"(?:a|b)")"..."``-style terminals, where B
  ends at the token's closing quote, for intersections and complements of string languages.)
* Other lookaheads, backreferences, conditional groups, atomic groups, possessive quantifiers,
  ``\\b``/``\\B`` and the LOCALE flag raise ``UnsupportedRegexError`` naming the feature and the
  pattern. (A lookahead can look past the end of the token, e.g. python.lark's DEC_NUMBER
  ``0(?:_?0)*(?![1-9])``, which a DFA of the token alone cannot express.)
* Lone surrogates can never match (they have no UTF-8 encoding).
* A pattern whose language is empty (e.g. ``[^\\s\\S]``) gives the single-state DFA with no
  accepting state: the only case where state 0 cannot reach acceptance.

Modules, in pipeline order: ``charsets`` (code-point sets, classes, case folding), ``nfa``
(Thompson construction), ``determinize`` (atoms, subset construction under a work budget),
``minimize``, ``utf8`` (character DFA to byte DFA), ``lookahead`` (leading lookaheads, unions),
``compile`` (the public entry points), ``byte_dfa`` (the result type).
"""

from .byte_dfa import ByteDFA
from .compile import literal_byte_dfa, regex_byte_dfa
from .limits import DEFAULT_MAX_STATES
from ..errors import UnsupportedRegexError

__all__ = ["ByteDFA", "DEFAULT_MAX_STATES", "UnsupportedRegexError", "literal_byte_dfa", "regex_byte_dfa"]
