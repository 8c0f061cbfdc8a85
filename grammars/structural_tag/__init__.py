"""Structural tags: free text (and reasoning) with tagged, constrained parts, in the JSON format of
xgrammar's / vLLM's ``structural_tag``, compiled to one Lark grammar for the engine.

Example:
    >>> tool = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
    ...         "additionalProperties": False}
    >>> from grammars import Grammar, text_matches
    >>> g = Grammar.from_structural_tag({"type": "structural_tag", "format": {
    ...     "type": "triggered_tags", "triggers": ["<tool_call>"],
    ...     "tags": [{"begin": "<tool_call>", "content": {"type": "json_schema", "json_schema": tool},
    ...               "end": "</tool_call>"}]}})
    >>> text_matches(g, 'Let me look. <tool_call>{"city": "Paris"}</tool_call> Done.')
    True
    >>> text_matches(g, 'Let me look. <tool_call>{"town": "Paris"}</tool_call>')
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .formats import (
    Or,
    Repeat,
    Sequence,
    StructuralTagError,
    Tag,
    TagsWithSeparator,
    TriggeredTags,
    read_structural_tag,
)
from .translate import lark_from_format

if TYPE_CHECKING:
    from ..grammar import Grammar

__all__ = ["StructuralTagError", "lark_from_structural_tag", "structural_tag_literals"]


def lark_from_structural_tag(obj: Any, grammar_cls: type[Grammar]) -> str:
    """The Lark text of a structural tag (a dict, or its JSON text); its embedded JSON Schemas,
    regexes and Lark grammars are built with ``grammar_cls`` (:class:`grammars.Grammar`, which
    calls this from :meth:`~grammars.Grammar.from_structural_tag`: the front-end never imports the
    grammar core). See :mod:`grammars.structural_tag.formats` for the forms accepted. Raises
    :class:`StructuralTagError` naming the path of what is wrong."""
    return lark_from_format(read_structural_tag(obj), grammar_cls)


def structural_tag_literals(obj: Any) -> set[str]:
    """The fixed strings of a structural tag (tag begins and ends, triggers, separators): the
    texts a tokenizer's special tokens may stand for (``<tool_call>`` as one token)."""
    found: set[str] = set()
    stack = [read_structural_tag(obj)]
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            found.add(node.begin)
            found.update(node.ends)
            stack.append(node.content)
        elif isinstance(node, TriggeredTags):
            found.update(node.triggers)
            stack.extend(node.tags)
        elif isinstance(node, TagsWithSeparator):
            found.add(node.separator)
            stack.extend(node.tags)
        elif isinstance(node, (Sequence, Or)):
            stack.extend(node.elements)
        elif isinstance(node, Repeat):
            stack.append(node.content)
    found.discard("")
    return found
