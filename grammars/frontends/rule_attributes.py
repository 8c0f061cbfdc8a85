"""Rule attributes of the llguidance Lark dialect (``name[lazy]: ...``), rewritten to plain Lark.

* ``lazy``: the rule's body (terminals only: strings, regexes, terminal names) becomes one terminal
  that ends at the first place it can, as llguidance lexes a lazy lexeme: its matches are those with
  no shorter match as a prefix (``foo[lazy]: /[0-9]+/`` matches one digit; ``x[lazy]: /.*<end>/``
  matches ``"a<end>"`` and not ``"a<end>b<end>"``);
* ``suffix=S``: the same for the body followed by ``S`` (a string, a regex or a terminal name);
* ``capture``, ``capture="name"``, ``stop_capture="name"``: name an output capture; the language
  is unchanged, so they are accepted and have no effect here;
* ``stop=...``, ``max_tokens=...``, ``temperature=...``: refused by name. ``stop`` hides text the
  model generated (llguidance backtracks it), which a logits processor cannot do; the other two
  change how tokens are counted or sampled inside the lexeme, not which texts are valid.

The lazy terminal carries an empty lazy group (``/(?:)??/``), the mark by which the lexer keeps only
first-end matches (:meth:`grammars.regex.ByteDFA.prefix_free`), as it does for lark's own lazy
patterns. The rule keeps its name and its line, so later errors still point at the right place.

Example:
    >>> print(rewrite_rule_attributes('start: x "!"\\nx[lazy, capture]: /[0-9]+/\\n'))
    start: x "!"
    x: LAZY1__X
    LAZY1__X: (/[0-9]+/) /(?:)??/
    <BLANKLINE>
"""

from __future__ import annotations

import re

from ..lark_literals import lark_regex_literal
from ..lexing.lexicon import LAZY_MARK
from .scanning import literal_end, pieces, refuse

_HEAD = re.compile(r"^[ \t]*([?!]?([A-Za-z_]\w*))[ \t]*\[", re.MULTILINE)
_PRIORITY = re.compile(r"(\.-?\d+)?[ \t]*:")
_KEY = re.compile(r"\s*([A-Za-z_]\w*)\s*")
_NAME = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?")
_CONTINUATION = re.compile(r"\n(?:[ \t]*(?://[^\n]*)?\n)*[ \t]*\|")
_IGNORED = {"capture", "stop_capture"}
_REFUSED = {
    "stop": "stop= hides generated text (backtracking); use suffix= or lazy",
    "max_tokens": "max_tokens= bounds tokens, not the language",
    "temperature": "temperature= changes sampling, not the language",
}


def rewrite_rule_attributes(text: str) -> str:
    """``text`` with every ``name[attributes]:`` definition in plain Lark (see the module), or a
    :class:`GrammarSyntaxError` naming an attribute that is not supported."""
    out: list[str] = []
    terminals: dict[str, str] = {}  # lazy pattern -> its terminal (one terminal per pattern)
    done = 0
    for head in _HEAD.finditer(text):
        if head.start() < done or _inside_literal(text, done, head.start()):
            continue
        attributes, after = _attributes(text, head.end())
        priority = _PRIORITY.match(text, after)
        if not priority:
            refuse(text, after, "a rule attribute list not followed by ':'")
        body_end = _body_end(text, priority.end())
        body = text[priority.end():body_end]
        out.append(text[done:head.start()])
        out.append(_definition(text, head, attributes, priority[1] or "", body, terminals))
        done = body_end
    if not terminals:
        return text
    tail = text[done:]
    definitions = "".join(f"{name}: {pattern}\n" for pattern, name in terminals.items())
    return "".join(out) + tail + ("" if tail.endswith("\n") else "\n") + definitions


def _definition(text: str, head: re.Match, attributes: dict[str, tuple[str, int]], priority: str,
                body: str, terminals: dict[str, str]) -> str:
    """The plain-Lark text that replaces one attributed definition (same number of lines)."""
    for key, (value, at) in attributes.items():
        if key in _REFUSED:
            refuse(text, at, f"rule attribute [{key}] ({_REFUSED[key]})")
        if key not in _IGNORED | {"lazy", "suffix"}:
            refuse(text, at, f"rule attribute [{key}]")
        if key == "lazy" and value:
            refuse(text, at, "rule attribute [lazy=...] (lazy takes no value)")
    lines = "\n" * body.count("\n")
    if "lazy" not in attributes and "suffix" not in attributes:
        return f"{head[1]}{priority}:{body}"
    _check_terminals_only(text, body, head.end())
    suffix = attributes["suffix"][0] if "suffix" in attributes else ""
    pattern = f"({_one_line(body).strip()}) {suffix + ' ' if suffix else ''}{lark_regex_literal(LAZY_MARK)}"
    name = head[2]
    if name.lstrip("_")[:1].isupper():  # a terminal with attributes: made lazy in place
        return f"{head[1]}{priority}: {pattern}{lines}"
    terminal = terminals.setdefault(pattern, f"LAZY{len(terminals) + 1}__{name.upper()}")
    return f"{head[1]}{priority}: {terminal}{lines}"


def _attributes(text: str, i: int) -> tuple[dict[str, tuple[str, int]], int]:
    """The attributes of the list that starts at ``i`` (after its ``[``), as
    ``{key: (value text, offset)}``, and the offset after its ``]``."""
    found: dict[str, tuple[str, int]] = {}
    while True:
        key = _KEY.match(text, i)
        if not key:
            refuse(text, i, "a rule attribute that is not a name")
        value, i = "", key.end()
        if text.startswith("=", i):
            i = _skip_space(text, i + 1)
            if i < len(text) and text[i] in "\"'/":
                end = literal_end(text, i)
            else:
                m = _NAME.match(text, i) or _NUMBER.match(text, i)
                if not m:
                    refuse(text, i, f"the value of rule attribute [{key[1]}]")
                end = m.end()
            value, i = text[i:end], _skip_space(text, end)
        found[key[1]] = (value, key.start(1))
        if text.startswith("]", i):
            return found, i + 1
        if not text.startswith(",", i):
            refuse(text, i, "a rule attribute list without ',' or ']'")
        i += 1


def _body_end(text: str, i: int) -> int:
    """Where the body that starts at ``i`` ends: the first newline outside a literal after which
    the next line (blank and comment lines skipped) is not a ``|`` continuation."""
    for j, _, opaque in pieces(text, i):
        if not opaque and text[j] == "\n" and not _CONTINUATION.match(text, j):
            return j
    return len(text)


def _check_terminals_only(text: str, body: str, at: int) -> None:
    for i, _, opaque in pieces(body):
        c = body[i]
        if opaque:
            continue
        if c == "%" or c == "<":
            refuse(text, at, "a lazy rule whose body is not made of terminals (it has '%' or '<')")
        if (c.isalpha() or c == "_") and (i == 0 or not (body[i - 1].isalnum() or body[i - 1] == "_")):
            name = _NAME.match(body, i)[0]
            if not name.lstrip("_")[:1].isupper():
                refuse(text, at, f"a lazy rule whose body is not made of terminals (it names the rule {name})")


def _one_line(body: str) -> str:
    """``body`` without comments and newlines (a lazy body goes inside one pair of parentheses)."""
    return "".join("" if body.startswith("//", i) else " " if body[i:j] == "\n" else body[i:j]
                   for i, j, _ in pieces(body))


def _inside_literal(text: str, start: int, end: int) -> bool:
    """Whether offset ``end`` lies inside a string, regex or comment that begins at or after
    ``start`` (a definition's head is never there)."""
    for i, j, opaque in pieces(text, start):
        if i >= end:
            return False
        if opaque and j > end:
            return True
    return False


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i
