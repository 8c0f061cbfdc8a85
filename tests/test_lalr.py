"""grammars.parsing.lalr builds lark's LALR(1) table: the same states (up to numbering), the same
actions with the same rule objects, on the bundled grammars, lark's own grammars, JSON Schema
grammars and grammars chosen for the corners of lark's analysis; and no table where lark finds a
conflict (lark's analysis then names it)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import lark
import pytest
from lark.common import ParserConf
from lark.exceptions import GrammarError as LarkGrammarError
from lark.load_grammar import load_grammar
from lark.parsers.lalr_analysis import LALR_Analyzer

from grammars import Grammar
from grammars.json_schema.translate import _to_lark
from grammars.parsing.lalr import lalr_table
from grammars.parsing.lark_build import _LarkDebugLog, lalr_states

ROOT = Path(__file__).resolve().parents[1]
LARK_GRAMMARS = Path(lark.__file__).parent / "grammars"

CORNERS = {
    "left recursion": 'start: start "a" | "a"',
    "left-recursive start reaching $END": 'start: "a" | start "a"',
    "nullable chain": 'start: a b "x"\na: "a"?\nb: "b" a',
    "nullable tail (includes)": 'start: x "z" | "q" x "w"\nx: "y" n m\nn: "n" |\nm: "m" |',
    "kernel item of the goto's nonterminal": 'start: a\na: "x" b\nb: a "y" | "z" | ',
    "right recursion with empty": 'start: l\nl: e l |\ne: "e" | "(" l ")"',
    "priority settles reduce/reduce": 'start: a | b\na.2: "x"\nb: "x"',
    "expression": 'start: s\ns: s "+" p | p\np: p "*" f | f\nf: "(" s ")" | /[0-9]+/',
    "ebnf": 'start: item ("," item)* ","?\nitem: "a"+ | "b" ["c"]',
}
CONFLICTS = {
    "shift/reduce": 'start: e\ne: e "+" e | "1"',
    "reduce/reduce": 'start: a "z" | b "z"\na: "x"\nb: "x"',
    "dangling else": 'start: s\ns: "if" s | "if" s "else" s | "x"',
    "nullable after a nullable": 'start: a b "x"\na: "a"?\nb: a a',
}


def _rules(text: str, start: str = "start"):
    return load_grammar(text, "<test>", [], False)[0].compile([start], set())[1]


def _lark_table(rules, start: str):
    """lark's own table, or None when its analysis logs or raises a conflict."""
    analyzer = LALR_Analyzer(ParserConf(rules, None, [start]))
    messages: list[str] = []
    try:
        with _LarkDebugLog(messages):
            analyzer.compute_lalr()
    except LarkGrammarError:
        return None
    return None if messages else lalr_states(analyzer.parse_table, start)


def _same_table(ours, theirs) -> None:
    """The two tables are one table up to state numbers (a bijection found from the start states
    along the shifts; reduce actions name the very same rule objects)."""
    (a, a0), (b, b0) = ours, theirs
    to_b, work = {a0: b0}, [a0]
    while work:
        s = work.pop()
        acts, expected = a[s], b[to_b[s]]
        assert set(acts) == set(expected), (s, set(acts) ^ set(expected))
        for symbol, options in acts.items():
            assert len(options) == len(expected[symbol])
            for (kind, arg), (kind_b, arg_b) in zip(options, expected[symbol]):
                assert kind == kind_b, (symbol, options, expected[symbol])
                if kind == "shift":
                    if arg not in to_b:
                        to_b[arg] = arg_b
                        work.append(arg)
                    assert to_b[arg] == arg_b
                elif kind == "reduce":
                    assert arg is arg_b
    assert len(to_b) == len(a) == len(b) == len(set(to_b.values()))


def _check(text: str, start: str = "start") -> None:
    rules = _rules(text, start)
    theirs = _lark_table(rules, start)
    ours = lalr_table(rules, start)
    assert theirs is not None
    assert ours is not None
    _same_table(ours, theirs)


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_corner_grammars(name):
    _check(CORNERS[name])


@pytest.mark.parametrize("path", sorted((ROOT / "grammars" / "data").glob("*.lark")), ids=lambda p: p.name)
def test_bundled_grammars(path):
    _check(path.read_text())


def test_lark_own_grammars():
    _check((LARK_GRAMMARS / "lark.lark").read_text())
    python = _rules((LARK_GRAMMARS / "python.lark").read_text(), "file_input")
    assert _lark_table(python, "file_input") is None  # shift/reduce conflicts: the general path's
    assert lalr_table(python, "file_input") is None


def test_json_schema_grammars():
    """The 60 smallest schemas of the real-schema corpus, both translations (exact and disjoint)."""
    corpus = ROOT / "benchmarks" / "data" / "json_schemas"
    files = sorted((corpus / e["file"] for e in json.loads((corpus / "manifest.json").read_text())),
                   key=lambda f: f.stat().st_size)
    checked = 0
    for path in files[:60]:
        schema = json.loads(path.read_text())
        for disjoint in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    text = _to_lark(schema, False, False, None, disjoint)
                    rules = _rules(text)
                except Exception:  # noqa: BLE001 - a schema the translator refuses has no grammar
                    continue
            theirs, ours = _lark_table(rules, "start"), lalr_table(rules, "start")
            assert (ours is None) == (theirs is None), path.name
            if ours is not None:
                _same_table(ours, theirs)
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize("name", sorted(CONFLICTS))
def test_no_table_with_conflicts(name):
    rules = _rules(CONFLICTS[name])
    assert _lark_table(rules, "start") is None
    assert lalr_table(rules, "start") is None
    assert Grammar.from_lark(CONFLICTS[name]).conflicts  # lark's analysis names them
