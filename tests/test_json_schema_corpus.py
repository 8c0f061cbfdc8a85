"""Real schemas from PyPI packages (``benchmarks/data/json_schemas/``): a fixed sample either
compiles or is refused with a keyword and a schema path (never another error), and on compiled
ones random instances walked through the matcher with the real tokenizer are valid for
``jsonschema`` under the schema's own draft (no false accept). The whole corpus, its compile rate
and the peers are in ``benchmarks/json_schema_corpus.py``."""

from __future__ import annotations

import json
import random
import warnings

import jsonschema
import pytest

from benchmarks._schema_corpus import load_schema_corpus
from benchmarks.json_schema_corpus import random_instance
from grammars import Grammar
from grammars.json_schema import UnsupportedSchemaError, json_schema_to_lark

WALKED = ["check-jsonschema/changie", "check-jsonschema/github-issue-config", "schemastore/phraseapp",
          "kubernetes/aggregationrule-rbac-v1", "kubernetes/apigroup-meta-v1",
          "cloudformation/AWS-EKS-CertificateAuthority", "cloudformation/AWS-ApiGatewayV2-VpcLink"]


def test_corpus_is_real_and_large_enough():
    corpus = load_schema_corpus()
    assert len(corpus) >= 300
    sources = {name.split("/")[0] for name, _ in corpus}
    assert {"schemastore", "check-jsonschema", "kubernetes", "cloudformation", "metaschemas"} <= sources
    drafts = {jsonschema.validators.validator_for(s, default=jsonschema.Draft202012Validator) for _, s in corpus}
    assert {jsonschema.Draft4Validator, jsonschema.Draft7Validator, jsonschema.Draft202012Validator} <= drafts


@pytest.mark.slow
def test_sample_compiles_or_is_refused_with_a_path():
    compiled = 0
    for name, schema in load_schema_corpus(limit=40):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                json_schema_to_lark(schema)
                compiled += 1
            except UnsupportedSchemaError as e:
                assert e.path.startswith("#"), (name, str(e))
    assert compiled >= 24  # 27 of these 40 when written


@pytest.mark.slow
def test_walked_instances_are_valid_for_the_schemas_draft(tok):
    from decoding.hf import compile_for_tokenizer

    model, tokenizer = tok
    corpus = dict(load_schema_corpus())
    short = {t for t in range(len(tokenizer)) if len(tokenizer.decode([t])) == 1}
    finished = 0
    for name in WALKED:
        schema = corpus[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cg = compile_for_tokenizer(Grammar.from_json_schema(schema), tokenizer, model=model)
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
        rng = random.Random(name)
        for _ in range(3):
            text = random_instance(cg, tokenizer, short, rng, 40)
            if text is not None:
                finished += 1
                assert validator.is_valid(json.loads(text)), f"{name}: accepted an invalid instance {text}"
    assert finished >= 3


@pytest.fixture(scope="module")
def tok():
    from decoding.models import load_test_model

    return load_test_model()
