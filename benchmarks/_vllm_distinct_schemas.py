"""The distinct-schema workload of ``vllm_plugin.py``: every request brings its own JSON Schema
(from the real-schema corpus, ``data/json_schemas/``), all submitted at once, so each constraint
is compiled cold while the batch runs. The same schemas and prompts go to both engines.

Per request it records the time to the first output token (from submission; the constraint's
compile is inside it) and whether a finished output validates against its schema (``jsonschema``).
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np

from _vllm_requests import sampling_params


def pick_schemas(n: int) -> tuple[list[tuple[str, dict]], dict]:
    """Of ``2 n`` corpus schemas (evenly spread), those that both ours (``Grammar.from_json_schema``)
    and the built-in engine take (vLLM's own check at its door for the xgrammar backend: features
    it refuses, then xgrammar's translation), the first ``n`` of them (cycled when fewer); and how
    many each side refused. A schema either side refuses would measure a refusal, not a constraint
    (and fewer compiles and tokens for that side)."""
    from vllm.v1.structured_output.backend_xgrammar import validate_xgrammar_grammar

    from _schema_corpus import load_schema_corpus
    from grammars import Grammar, GrammarError

    usable, refused = [], {"ours": 0, "xgrammar": 0, "corpus": 0}
    warnings.simplefilter("ignore")  # ignored-keyword notes of hundreds of schemas
    for name, schema in load_schema_corpus(limit=2 * n):  # evenly spread over the sources
        refused["corpus"] += 1
        try:
            Grammar.from_json_schema(schema)
        except (GrammarError, RecursionError, ValueError):
            refused["ours"] += 1
            continue
        try:
            validate_xgrammar_grammar(sampling_params("builtin", 1, "json_schema", schema))
        except Exception:  # noqa: BLE001 (xgrammar raises several kinds)
            refused["xgrammar"] += 1
            continue
        usable.append((name, schema))
    if not usable:
        raise SystemExit("no corpus schema is taken by both engines")
    refused["usable"] = len(usable)
    return [usable[i % len(usable)] for i in range(n)], refused


def prompts(tok, schemas: list[tuple[str, dict]]) -> list[str]:
    out = []
    for name, schema in schemas:
        what = schema.get("title") or name.rsplit("/", 1)[-1]
        out.append(tok.apply_chat_template(
            [{"role": "user", "content": f"Give a short example of a {what} as JSON."}],
            add_generation_prompt=True, tokenize=False))
    return out


def _valid(text: str, schema: dict) -> bool | None:
    """Whether ``text`` is JSON valid against ``schema``; None when jsonschema cannot judge (a
    schema it cannot load, e.g. a remote ``$ref``)."""
    import jsonschema

    try:
        instance = json.loads(text)
    except ValueError:
        return False
    try:
        validator = jsonschema.validators.validator_for(schema)
        return bool(validator(schema).is_valid(instance))
    except (jsonschema.exceptions.SchemaError, RecursionError, LookupError, ValueError,
            jsonschema.exceptions.ValidationError.__base__):
        return None


def run(llm, engine: str, schemas: list[tuple[str, dict]], max_tokens: int) -> dict:
    """Submit every request at once through the engine's step loop; first-token times per request
    and batch throughput."""
    tok = llm.get_tokenizer()
    texts = prompts(tok, schemas)
    core = llm.llm_engine
    submitted, first, refused = {}, {}, 0
    t0 = time.perf_counter()
    for i, ((_, schema), prompt) in enumerate(zip(schemas, texts)):
        rid = f"{engine}-{i}"
        try:
            core.add_request(rid, prompt, sampling_params(engine, max_tokens, "json_schema", schema))
        except Exception:  # noqa: BLE001 (a refusal: counted, the run goes on)
            refused += 1
            continue
        submitted[rid] = time.perf_counter()
    finished: dict[str, tuple[str, str | None, int]] = {}
    while core.has_unfinished_requests():
        for out in core.step():
            now = time.perf_counter()
            o = out.outputs[0] if out.outputs else None
            if o is not None and len(o.token_ids) and out.request_id not in first:
                first[out.request_id] = now - submitted[out.request_id]
            if out.finished:
                finished[out.request_id] = (o.text if o else "", o.finish_reason if o else None,
                                            len(o.token_ids) if o else 0)
    seconds = time.perf_counter() - t0
    tokens = sum(n for _, _, n in finished.values())
    verdicts = [_valid(r[0], schema) if (r := finished.get(f"{engine}-{i}")) and r[1] == "stop"
                else False for i, (_, schema) in enumerate(schemas)]
    ok = sum(v is True for v in verdicts)
    ttft = np.array(list(first.values()) or [float("nan")])
    result = {"tokens_per_s": round(tokens / seconds, 1), "seconds": round(seconds, 2),
              "ttft_p50_s": round(float(np.percentile(ttft, 50)), 3),
              "ttft_p99_s": round(float(np.percentile(ttft, 99)), 3),
              "ttft_max_s": round(float(ttft.max()), 3),
              "requests_ok": ok, "requests_total": len(schemas), "refused": refused,
              "unjudged": sum(v is None for v in verdicts),
              "truncated": sum(1 for _, reason, _ in finished.values() if reason == "length")}
    print(f"{engine:8} distinct schemas: {result['tokens_per_s']:7.1f} tok/s, first token p50 "
          f"{result['ttft_p50_s']:.3f} s / p99 {result['ttft_p99_s']:.3f} s, {ok}/{len(schemas)} "
          f"finished and valid, {result['truncated']} cut at max_tokens, {refused} refused")
    return result
