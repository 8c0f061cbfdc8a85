"""The two-tool structural tag the tests send: Hermes-style ``<tool_call>`` calls of get_weather and
get_time as vLLM's / xgrammar's ``structural_tag`` JSON (triggered tags), the tools' schemas, and
the begin and end strings. Shared by the HF tests here and the vLLM tests in ``tests_vllm/``.

Example:
    >>> tool_tag()["format"]["triggers"], begin("get_time")
    (['<tool_call>'], '<tool_call>\\n{"name": "get_time", "arguments": ')
"""

from __future__ import annotations

WEATHER = {"type": "object", "additionalProperties": False, "required": ["city"],
           "properties": {"city": {"type": "string", "minLength": 1, "maxLength": 20},
                          "unit": {"enum": ["celsius", "fahrenheit"]}}}
TIME = {"type": "object", "additionalProperties": False, "required": ["zone"],
        "properties": {"zone": {"type": "string", "pattern": "^[A-Z]{3}$"}}}
TOOLS = {"get_weather": WEATHER, "get_time": TIME}
TRIGGER = "<tool_call>"
END = "}\n</tool_call>"


def begin(name: str) -> str:
    """The begin string of a call of tool ``name``."""
    return f'{TRIGGER}\n{{"name": "{name}", "arguments": '


def tool_tag(tools: dict = TOOLS, **flags) -> dict:
    """The structural tag of ``tools`` (name -> argument schema); ``flags`` go to the triggered
    tags (``at_least_one``, ``stop_after_first``)."""
    return {"type": "structural_tag", "format": {
        "type": "triggered_tags", "triggers": [TRIGGER], **flags,
        "tags": [{"type": "tag", "begin": begin(name), "end": END,
                  "content": {"type": "json_schema", "json_schema": schema}} for name, schema in tools.items()]}}
