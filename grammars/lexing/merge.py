"""Interchangeable string literals as one lexer terminal (``start: "w0x" | ... | "w19999x"``).

Literals that each occur once in the grammar, at the same place of otherwise identical rules
(same left side, same other symbols, same rule priority), are the same symbol to the parser: any
one can stand where another stands. They become one terminal whose automaton is their union (a
byte trie), and the rules one rule. The lexer and the LR tables then grow with the number of
characters, not with the square of the number of literals (a dense action table of 20,000
terminals by 20,000 states is 1.6 GB).

Lexing is unchanged: the members are always allowed together; two different literals never match
the same text; the merged terminal sits where its first member sat in lark's priority order, which
puts it before every regex of the same priority, as each member was. Only LALR(1) grammars without
a postlexer are merged (the general path and the indenter keep lark's own terminals).
"""

from __future__ import annotations

from dataclasses import dataclass

from lark.common import ParserConf
from lark.exceptions import GrammarError as LarkGrammarError
from lark.grammar import Rule, Terminal
from lark.lexer import PatternStr
from lark.parsers.lalr_analysis import LALR_Analyzer

from ..parsing.lalr import lalr_table
from ..parsing.lark_build import lalr_states as lark_lalr_states

MIN_GROUP = 2  # merge only groups of at least this many literals


@dataclass(frozen=True)
class LiteralGroups:
    """Merged literal groups: ``members[name]`` is the tuple of lark terminal names that the
    merged terminal ``name`` stands for; ``rules`` the rules with each group as one terminal."""

    members: dict[str, tuple[str, ...]]
    rules: list

    def group_of(self) -> dict[str, str]:
        return {m: name for name, ms in self.members.items() for m in ms}


def literal_groups(parser) -> LiteralGroups | None:
    """The groups of interchangeable literals of a lark LALR parser (or a
    :class:`~grammars.parsing.lark_build.LarkGrammar`), or None when none has
    ``MIN_GROUP`` members (or the grammar is not one this applies to)."""
    if parser.options.parser != "lalr" or parser.options.postlex is not None:
        return None
    literal = {t.name: t for t in parser.terminals if isinstance(t.pattern, PatternStr)}
    ignored = set(parser.lexer_conf.ignore)
    seen: dict[str, int] = {}
    where: dict[str, tuple] = {}
    for r, rule in enumerate(parser.rules):
        for p, sym in enumerate(rule.expansion):
            if sym.is_term and sym.name in literal:
                seen[sym.name] = seen.get(sym.name, 0) + 1
                where[sym.name] = (r, p)
    by_key: dict[tuple, list[str]] = {}
    for name, count in seen.items():
        if count != 1 or name in ignored:
            continue
        r, p = where[name]
        rule = parser.rules[r]
        shape = tuple(None if i == p else s for i, s in enumerate(rule.expansion))
        key = (rule.origin, shape, rule.options.priority, literal[name].priority)
        by_key.setdefault(key, []).append(name)
    groups = [names for names in by_key.values() if len(names) >= MIN_GROUP]
    if not groups:
        return None
    members: dict[str, tuple[str, ...]] = {}
    group_of: dict[str, str] = {}
    for names in groups:
        name = f"{names[0]}|{names[1]}|...({len(names)} literals)"
        members[name] = tuple(names)
        group_of.update((m, name) for m in names)
    rules, kept = [], set()
    for rule in parser.rules:
        expansion = [Terminal(group_of[s.name], filter_out=s.filter_out)
                     if s.is_term and s.name in group_of else s for s in rule.expansion]
        sig = (rule.origin, tuple(expansion))
        if sig in kept:
            continue
        kept.add(sig)
        rules.append(Rule(rule.origin, expansion, rule.order, rule.alias, rule.options))
    return LiteralGroups(members, rules)


def lalr_states(rules, start: str):
    """lark's LALR(1) table of ``rules`` as ``{state: {symbol name: [(kind, arg)]}}`` (the form
    :func:`grammars.parsing.tables._dense` reads) and the start state; None when lark finds a
    reduce/reduce collision (the caller keeps the unmerged grammar). :func:`lalr_table` builds
    the same table on integers; lark's analysis runs only where that one has a conflict (lark
    resolves a shift/reduce conflict as a shift)."""
    table = lalr_table(rules, start)
    if table is not None:
        return table
    analyzer = LALR_Analyzer(ParserConf(rules, None, [start]))
    try:
        analyzer.compute_lalr()
    except LarkGrammarError:
        return None
    return lark_lalr_states(analyzer.parse_table, start)
