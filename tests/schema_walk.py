"""Shared by the JSON Schema tests: compile a schema for the test model's tokenizer, walk a text
through the matcher token by token, and check instances against ``jsonschema``'s validator for
the schema's own draft (2020-12 when it names none)."""

from __future__ import annotations

import warnings

import jsonschema

from grammars import Grammar, GrammarMatcher, TokenRejectedError
from grammars.json_schema import IgnoredKeywordsWarning, serialize_instance


def compile_schema(tok, schema, **options):
    """The schema compiled for the test model's tokenizer (``tok`` = (model, tokenizer))."""
    from decoding.hf import compile_for_tokenizer

    model, tokenizer = tok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IgnoredKeywordsWarning)
        return compile_for_tokenizer(Grammar.from_json_schema(schema, **options), tokenizer, model=model)


def accepts(cg, tokenizer, text: str) -> bool:
    """Whether the matcher takes ``text`` as the tokenizer encodes it, to an accepting state."""
    m = GrammarMatcher(cg)
    try:
        for t in tokenizer.encode(text, add_special_tokens=False):
            m.advance(t)
    except TokenRejectedError:
        return False
    return m.is_accepting()


def check(tok, schema, valid, invalid, **options):
    """Each instance is valid/invalid for the draft's own validator, and the matcher agrees on its
    serialisation; an invalid entry ``"RAW:text"`` is a text the matcher must reject as it is."""
    cg = compile_schema(tok, schema, **options)
    tokenizer = tok[1]
    validator = jsonschema.validators.validator_for(schema)(schema)
    whitespace = options.get("whitespace")
    for inst in valid:
        assert validator.is_valid(inst), inst
        text = serialize_instance(schema, inst, whitespace=whitespace)
        assert accepts(cg, tokenizer, text), f"valid instance rejected: {text}"
    for inst in invalid:
        if isinstance(inst, str) and inst.startswith("RAW:"):
            text = inst[4:]
        else:
            assert not validator.is_valid(inst), inst
            text = serialize_instance(schema, inst, whitespace=whitespace)
        assert not accepts(cg, tokenizer, text), f"invalid instance accepted: {text}"


def judged_as_jsonschema(tok, schema, instances) -> dict:
    """Each instance, serialised as the grammar writes it, is accepted exactly when the 2020-12
    validator finds it valid; returns how many were valid and invalid ({True: n, False: m})."""
    cg = compile_schema(tok, schema)
    validator = jsonschema.Draft202012Validator(schema)
    seen = {True: 0, False: 0}
    for inst in instances:
        valid = validator.is_valid(inst)
        seen[valid] += 1
        text = serialize_instance(schema, inst)
        assert accepts(cg, tok[1], text) == valid, (text, valid)
    return seen
