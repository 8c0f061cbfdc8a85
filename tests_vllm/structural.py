"""The structural tag the vLLM tests send (vLLM's / xgrammar's ``structural_tag`` JSON, two tools
as Hermes-style ``<tool_call>`` calls), its chat, and :func:`check`: every call in an output
validates with ``jsonschema`` and a finished output is accepted by the reference reader. The tests
are in ``test_offline.py`` (``extra_args``) and ``test_server.py`` (``vllm_xargs``), on those
modules' engines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the HF tests' shared modules
from structural_tag_reference import Reference  # noqa: E402
from tool_tags import END, TOOLS, begin, tool_tag  # noqa: E402

TAG = tool_tag()
MESSAGES = [
    {"role": "system", "content": "Call get_weather(city) or get_time(zone) inside <tool_call></tool_call>."},
    {"role": "user", "content": "Weather in Rome?"},
    {"role": "assistant", "content": begin("get_weather") + '{"city": "Rome"}' + END},
    {"role": "user", "content": "And the weather in Paris?"},
]


def check(text: str, finished: bool, reference: Reference) -> int:
    """The number of complete calls in ``text``, each validated against its tool's schema."""
    count, at = 0, text.find("<tool_call>")
    while at >= 0:
        name = next((n for n in TOOLS if text.startswith(begin(n), at)), None)
        if name is None:  # cut inside the begin string
            assert not finished and any(begin(n).startswith(text[at:]) for n in TOOLS), text
            break
        try:
            value, stop = json.JSONDecoder().raw_decode(text, at + len(begin(name)))
        except json.JSONDecodeError:
            assert not finished, text
            break
        if not text.startswith(END, stop):
            assert not finished and END.startswith(text[stop:]), text
            break
        jsonschema.validate(value, TOOLS[name])
        count += 1
        at = text.find("<tool_call>", stop)
    if finished:
        assert reference.accepts(text), text
    return count


