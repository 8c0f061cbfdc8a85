"""A reference reading of structural tags for the tests: a direct backtracking matcher over the
JSON (written apart from the translator), used as the oracle the compiled grammar must agree with.

Free text ends where a trigger or its stop (the literal that follows it) first completes; a
completed trigger commits to a tag. JSON, regex and Lark contents are checked on their own
(JSON through the schema's own grammar, which ``test_json_schema*`` test; regexes with ``re``).
"""

from __future__ import annotations

import re

from grammars import Grammar, GrammarMatcher, byte_vocabulary, compile_grammar

END = "end"


class Reference:
    """``Reference(obj).accepts(text)``: whether ``text`` belongs to structural tag ``obj``."""

    def __init__(self, obj: dict):
        if "structures" in obj:  # the legacy form: triggered tags with JSON Schema contents
            obj = {"type": "triggered_tags", "triggers": obj["triggers"], "tags": [
                {"type": "tag", "begin": s["begin"], "end": s["end"],
                 "content": {"type": "json_schema", "json_schema": s["schema"]}} for s in obj["structures"]]}
        self.root = obj["format"] if obj.get("type") == "structural_tag" else obj
        self._content: dict[str, GrammarMatcher] = {}

    def accepts(self, text: str) -> bool:
        return any(True for _ in self._run((self.root,), text, 0))

    # every way to read ``items`` from ``pos`` to the end of the text
    def _run(self, items: tuple, text: str, pos: int):
        if not items:
            if pos == len(text):
                yield pos
            return
        head, rest = items[0], items[1:]
        kind = head["type"]
        if kind == "const_string":
            if text.startswith(head["value"], pos):
                yield from self._run(rest, text, pos + len(head["value"]))
        elif kind == "tag":
            ends = head["end"] if isinstance(head["end"], list) else [_text(head["end"])]
            end = {"type": "or", "elements": [{"type": "const_string", "value": e} for e in ends]}
            yield from self._run(({"type": "const_string", "value": _text(head["begin"])}, head["content"], end)
                                 + rest, text, pos)
        elif kind == "sequence":
            yield from self._run(tuple(head["elements"]) + rest, text, pos)
        elif kind == "or":
            for e in head["elements"]:
                yield from self._run((e,) + rest, text, pos)
        elif kind in ("optional", "star", "plus"):
            if kind != "plus":
                yield from self._run(rest, text, pos)
            again = ({"type": "star", "content": head["content"]},) if kind != "optional" else ()
            yield from self._run((head["content"],) + again + rest, text, pos)
        elif kind == "repeat":
            for n in range(head["min"], (head["max"] if head["max"] >= 0 else len(text) + 1) + 1):
                yield from self._run((head["content"],) * n + rest, text, pos)
        elif kind == "any_text":
            yield from self._free(head.get("excludes", []), [], None, rest, text, pos)
        elif kind == "triggered_tags":
            yield from self._triggered(head, rest, text, pos)
        elif kind == "tags_with_separator":
            yield from self._separated(head, rest, text, pos)
        else:
            for end in self._content_ends(head, text, pos):
                yield from self._run(rest, text, end)

    def _free(self, excludes, triggers, on_trigger, rest, text, pos):
        """Free text from ``pos`` to the first completed trigger (then ``on_trigger(trigger, at)``)
        or stop (the literal that follows), or to the end of the text."""
        stops = _leading(rest[0]) if rest else []
        if rest and not stops:
            raise AssertionError("free text with no literal after it")
        best = None  # (end of the occurrence, string, is_trigger)
        for s, is_trigger in [(t, True) for t in triggers] + [(s, False) for s in stops]:
            i = text.find(s, pos)
            if i >= 0 and (best is None or i + len(s) < best[0]):
                best = (i + len(s), s, is_trigger)
        stop = len(text) if best is None else best[0] - len(best[1])
        if any(x in text[pos:stop] for x in excludes):
            return
        if best is None:
            if not rest:
                yield len(text)
            return
        if best[2]:
            yield from on_trigger(best[1], stop)
        else:
            yield from self._run(rest, text, stop)

    def _triggered(self, node, rest, text, pos):
        tags = node["tags"]
        loop = () if node.get("stop_after_first") else ({**node, "at_least_one": False},)
        if node.get("at_least_one"):
            for tag in tags:
                yield from self._run((tag,) + loop + rest, text, pos)
            return

        def on_trigger(trigger, at):
            for tag in tags:
                if _text(tag["begin"]).startswith(trigger):
                    yield from self._run((tag,) + loop + rest, text, at)

        yield from self._free(node.get("excludes", []), node["triggers"], on_trigger, rest, text, pos)

    def _separated(self, node, rest, text, pos):
        one = {"type": "or", "elements": node["tags"]}
        if node.get("stop_after_first"):
            alternatives = [(one,)] + ([] if node.get("at_least_one") else [()])
        else:
            more = {"type": "star", "content": {"type": "sequence", "elements": [
                {"type": "const_string", "value": node["separator"]}, one]}}
            alternatives = [(one, more)] + ([] if node.get("at_least_one") else [()])
        for items in alternatives:
            yield from self._run(items + rest, text, pos)

    def _content_ends(self, node, text, pos):
        """Where a json_schema / regex / grammar content starting at ``pos`` can end."""
        kind = node["type"]
        if kind == "regex":
            return [e for e in range(pos + 1, len(text) + 1) if re.fullmatch(node["pattern"], text[pos:e])]
        key = repr(sorted(node.items()))
        if key not in self._content:
            grammar = (Grammar.from_json_schema(node["json_schema"], whitespace="flexible") if kind == "json_schema"
                       else Grammar.from_lark(node["grammar"]))
            self._content[key] = GrammarMatcher(compile_grammar(grammar, byte_vocabulary()))
        matcher = self._content[key].fork()
        ends = []
        for e in range(pos, len(text)):
            if not matcher.advance_bytes(text[e].encode()):
                break
            if matcher.is_accepting():
                ends.append(e + 1)
        return ends


def _text(begin) -> str:
    return begin if isinstance(begin, str) else begin["token"]


def _leading(item) -> list[str]:
    if item["type"] == "const_string":
        return [item["value"]]
    if item["type"] == "tag":
        return [_text(item["begin"])]
    if item["type"] == "or" and all(e["type"] == "const_string" for e in item["elements"]):
        return [e["value"] for e in item["elements"]]
    return []
