"""The same constraint as a request to either engine of ``vllm_plugin.py``: the plugin reads it from
``extra_args``, vLLM's built-in structured outputs from ``StructuredOutputsParams``."""

from __future__ import annotations

import json

_BUILTIN_KEYS = {"regex": "regex", "json_schema": "json"}


def sampling_params(engine: str, max_tokens: int, key: str, value):
    """Greedy ``SamplingParams`` for ``engine`` ("plugin" or "builtin") under ``key`` ("regex" or
    "json_schema") = ``value``."""
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    if engine == "plugin":
        return SamplingParams(max_tokens=max_tokens, temperature=0.0, extra_args={key: value})
    builtin = json.dumps(value) if key == "json_schema" else value
    return SamplingParams(max_tokens=max_tokens, temperature=0.0,
                          structured_outputs=StructuredOutputsParams(**{_BUILTIN_KEYS[key]: builtin}))
