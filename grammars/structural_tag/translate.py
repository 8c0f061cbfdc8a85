"""Structural-tag formats to one Lark grammar.

Free text (``any_text``, the text around ``triggered_tags``) becomes one terminal: "text that
contains no trigger, no excluded string, then the first stop" (:mod:`.free_text`), where the stop
is the literal that follows it (a tag's end, the next element's begin or constant) and the
terminal takes that literal in; or "text that contains no trigger" where the whole output ends.
A trigger therefore ends free text wherever it completes, also in the middle of a token, and the
parser then expects the rest of a matching tag's begin, its content and its end.

Semantics, as xgrammar's: ``triggered_tags`` allows free text, then a tag whenever a trigger
completes, then free text again; ``at_least_one`` makes the output start with a tag;
``stop_after_first`` ends the format after one tag. Free text ends at the *first* occurrence of
its stop (xgrammar also lets a tag's end occur inside ``any_text``; a parser of the output would
split at the first one anyway). Triggers and stops that can complete inside one another are
refused (which one fires would depend on the lexer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import GrammarError
from ..unique_items import UNIQUE_OPEN
from .formats import (
    AnyText,
    Const,
    Format,
    JsonSchema,
    LarkText,
    Or,
    Regex,
    Repeat,
    Sequence,
    StructuralTagError,
    Tag,
    TagsWithSeparator,
    TriggeredTags,
)
from .free_text import text_avoiding, text_until
from .lark_text import LarkWriter

if TYPE_CHECKING:
    from ..grammar import Grammar

END = "end"  # what follows a node: END (the output ends), a tuple of literals, or None (unknown)


def lark_from_format(node: Format, grammar_cls: type[Grammar]) -> str:
    """The Lark text of a structural tag's format tree; embedded grammars are built with
    ``grammar_cls``."""
    w = _Translator(grammar_cls)
    symbols, _ = w.parts(node, END, skip_lead=False)
    return w.out.text(w.out.rule([symbols]))


def _completes_inside(a: str, b: str) -> bool:
    """Whether ``a`` can complete while ``b`` is being read (``b``'s first k characters, after
    any text, end with ``a``)."""
    return a != b and any(b[:k].endswith(a) or a.endswith(b[:k]) for k in range(1, len(b) + 1))


class _Translator:
    def __init__(self, grammar_cls: type[Grammar]) -> None:
        self.out = LarkWriter()
        self.grammar_cls = grammar_cls

    def choice(self, literals: tuple[str, ...]) -> str:
        return self.out.rule([[self.out.literal(s)] for s in literals])

    def parts(self, node: Format, follow, *, skip_lead: bool) -> tuple[list[str], bool]:
        """The symbols of ``node``; ``follow`` is what comes after it. Returns whether the node
        took in the following literal (free text ending at it). ``skip_lead``: the node's leading
        literal was taken in by the node before."""
        w = self.out
        if isinstance(node, Const):
            return ([] if skip_lead or not node.value else [w.literal(node.value)]), False
        if isinstance(node, Tag):
            return self.tag(node, skip_begin=skip_lead)
        if isinstance(node, JsonSchema):
            sub = self.sub_grammar(node.path, self.grammar_cls.from_json_schema, node.schema, whitespace="flexible")
            if UNIQUE_OPEN in {t.name for t in sub.parser.terminals}:
                raise StructuralTagError(f"{node.path}: uniqueItems over values a grammar cannot keep apart is checked "
                                         "beside a JSON Schema's own grammar, not inside a structural tag")
            return [w.embed(sub, node.path)], False
        if isinstance(node, Regex):
            return [w.embed(self.sub_grammar(node.path, self.grammar_cls.from_regex, node.pattern), node.path)], False
        if isinstance(node, LarkText):
            if "::=" in node.text:
                raise StructuralTagError(f"{node.path}: this looks like EBNF/GBNF ('::='); give a Lark grammar "
                                         "('rule: ...', start rule 'start')")
            return [w.embed(self.sub_grammar(node.path, self.grammar_cls.from_lark, node.text), node.path)], False
        if isinstance(node, AnyText):
            return self.free(node.excludes, (), follow, node.path)
        if isinstance(node, Sequence):
            return self.sequence(node, follow)
        if isinstance(node, Or):
            return self.alternatives(node, follow)
        if isinstance(node, Repeat):
            return self.repeat(node)
        if isinstance(node, TriggeredTags):
            return self.triggered(node, follow)
        if isinstance(node, TagsWithSeparator):
            return self.separated(node)
        raise StructuralTagError(f"unknown format node {node!r}")

    @staticmethod
    def sub_grammar(path: str, build, *args, **kwargs) -> Grammar:
        try:
            return build(*args, **kwargs)
        except GrammarError as e:
            raise StructuralTagError(f"{path}: {type(e).__name__}: {e}") from e

    def free(self, excludes, triggers, follow, path) -> tuple[list[str], bool]:
        """Free text avoiding ``excludes`` and ``triggers`` up to ``follow``."""
        w = self.out
        avoid = tuple(excludes) + tuple(triggers)
        if follow == END:
            return [w.rule([[w.regex(text_avoiding(avoid, nonempty=True))], []])], False
        if not follow:
            raise StructuralTagError(f"{path}: free text must end the structural tag or be followed by a literal "
                                     "(a tag's end, a const_string, a tag's begin)")
        self.check_overlaps(tuple(triggers) + tuple(follow), path)
        return [w.regex(text_until(follow, avoid))], True

    @staticmethod
    def check_overlaps(strings: tuple[str, ...], path: str) -> None:
        for a in strings:
            for b in strings:
                if _completes_inside(a, b):
                    raise StructuralTagError(f"{path}: {a!r} can complete inside {b!r}, so which of them ends the "
                                             "free text would be ambiguous; use triggers and ends that do not overlap")

    def tag(self, node: Tag, *, skip_begin: bool) -> tuple[list[str], bool]:
        w = self.out
        symbols = [] if skip_begin or not node.begin else [w.literal(node.begin)]
        content, took_end = self.parts(node.content, node.ends, skip_lead=False)
        symbols += content
        if not took_end:
            symbols.append(self.choice(node.ends))
        return symbols, False

    def sequence(self, node: Sequence, follow) -> tuple[list[str], bool]:
        symbols: list[str] = []
        skip = False
        elements = node.elements
        for i, element in enumerate(elements):
            after = _leading_literal(elements[i + 1]) if i + 1 < len(elements) else follow
            part, took = self.parts(element, after, skip_lead=skip)
            symbols += part
            skip = took and i + 1 < len(elements)
            if took and i + 1 == len(elements):
                return symbols, True
        return symbols, False

    def alternatives(self, node: Or, follow) -> tuple[list[str], bool]:
        branches = [self.parts(e, follow, skip_lead=False) for e in node.elements]
        if not any(took for _, took in branches):
            return [self.out.rule([b for b, _ in branches])], False
        return [self.out.rule([b if took else b + [self.choice(follow)] for b, took in branches])], True

    def repeat(self, node: Repeat) -> tuple[list[str], bool]:
        item, _ = self.parts(node.content, None, skip_lead=False)
        one = self.out.rule([item])
        symbols = [one] * node.min
        if node.max == -1:
            symbols.append(self.out.star([one]))
        else:
            tail: list[str] = []
            for _ in range(node.max - node.min):
                tail = [self.out.rule([[], [one] + tail])]
            symbols += tail
        return symbols, False

    def tag_body(self, tag: Tag, *, skip: int) -> list[str]:
        """A tag without the first ``skip`` characters of its begin (taken in by free text)."""
        rest = tag.begin[skip:]
        symbols, _ = self.tag(Tag(rest, tag.content, tag.ends, tag.path), skip_begin=not rest)
        return symbols

    def triggered(self, node: TriggeredTags, follow) -> tuple[list[str], bool]:
        w = self.out
        groups: dict[str, list[Tag]] = {t: [] for t in node.triggers}
        for tag in node.tags:
            matching = [t for t in node.triggers if tag.begin.startswith(t)]
            if len(matching) != 1:
                raise StructuralTagError(f"{tag.path}.begin: {tag.begin!r} must start with exactly one trigger of "
                                         f"{list(node.triggers)!r} (it starts with {len(matching)})")
            groups[matching[0]].append(tag)
        stops = tuple(follow) if isinstance(follow, tuple) else ()
        self.check_overlaps(node.triggers + stops, f"{node.path}.triggers")
        segments = []
        for trigger, tags in groups.items():
            if not tags:
                continue
            others = [t for t in node.triggers if t != trigger] + list(stops) + list(node.excludes)
            lead = w.regex(text_until((trigger,), others))
            segments.append([lead, w.rule([self.tag_body(t, skip=len(trigger)) for t in tags])])
        segment = w.rule(segments)
        tail, took = self.free(node.excludes, node.triggers, follow, node.path)
        direct = [w.rule([self.tag_body(t, skip=0) for t in node.tags])] if node.at_least_one else []
        after = [self.choice(follow)] if took else []
        if node.stop_after_first:
            alternatives = [direct + after] if node.at_least_one else [tail, [segment] + after]
        else:
            alternatives = [direct + [w.star([segment])] + tail]
        return [w.rule(alternatives)], took

    def separated(self, node: TagsWithSeparator) -> tuple[list[str], bool]:
        w = self.out
        one = w.rule([self.tag_body(t, skip=0) for t in node.tags])
        if node.stop_after_first:
            alternatives = [[one]] if node.at_least_one else [[], [one]]
        else:
            sep = [w.literal(node.separator)] if node.separator else []
            alternatives = [[one, w.star(sep + [one])]] + ([] if node.at_least_one else [[]])
        return [w.rule(alternatives)], False


def _leading_literal(node: Format):
    if isinstance(node, Const) and node.value:
        return (node.value,)
    if isinstance(node, Tag) and node.begin:
        return (node.begin,)
    return None
