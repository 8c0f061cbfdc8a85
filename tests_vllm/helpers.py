"""Grammars, prompts and checks shared by the vLLM plugin tests."""

from __future__ import annotations

# Short grammars whose every string is reached well within the token budgets below, so every
# constrained output is complete and must parse.
RECORD = r'''
start: "{\"name\": \"" NAME "\", \"age\": " AGE "}"
NAME: /[A-Z][a-z]{1,10}/
AGE: /[1-9][0-9]?/
'''
DATE = r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
PERSON = {"type": "object", "additionalProperties": False, "required": ["name", "age"],
          "properties": {"name": {"type": "string", "maxLength": 12},
                         "age": {"type": "integer", "minimum": 0, "maximum": 120}}}
# the llguidance dialect in vLLM's `grammar` field, named by its header line
RATING = ('%llguidance {}\nstart: ("positive" | "negative" | "neutral") " (" %json {"type": "integer", '
          '"minimum": 1, "maximum": 5} "/5)"')
GRAMMARS = {"choices": {"grammar": "choices"}, "record": {"grammar": RECORD}, "date": {"regex": DATE},
            "person": {"json_schema": PERSON}, "rating": {"grammar": RATING}}
PROMPTS = {"choices": "Is the review 'I love it' positive, negative or neutral?",
           "record": "Invent a person and give their name and age as JSON.",
           "date": "When did the Apollo 11 mission land on the moon? Give the date.",
           "person": "Invent a pirate with a name and an age, as JSON.",
           "rating": "Rate the review 'I love it': positive, negative or neutral, and a score out of 5."}


def chat(tokenizer, text: str) -> str:
    """A user message through the model's chat template, as text."""
    return tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                         add_generation_prompt=True, tokenize=False)


def parses(extra: dict, text: str) -> bool:
    """Whether ``text`` is a string of the request's grammar, regex or schema (checked by the
    engine's byte-level reading, ``re`` and ``jsonschema``)."""
    import json
    import re

    import jsonschema

    from grammars import Grammar, text_matches

    if "json_schema" in extra:
        try:
            jsonschema.validate(json.loads(text), extra["json_schema"])
            return True
        except (ValueError, jsonschema.ValidationError):
            return False
    if "regex" in extra:
        return re.fullmatch(extra["regex"], text) is not None
    return text_matches(Grammar.load(extra["grammar"]), text)
