"""What a request asks the plugin for (``extra_args`` / ``vllm_xargs``), checked at admission.

Example:
    >>> spec = ConstraintSpec.from_extra_args({"regex": "[0-9]+", "sampler": "asap"})
    >>> spec.sampler, spec.key
    ('asap', 'regex')
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from grammars import Grammar, GrammarError

CONSTRAINTS = ("grammar", "regex", "json_schema", "structural_tag")  # one per request
JSON_VALUED = ("json_schema", "structural_tag")  # an object, or its JSON text (HTTP: text)
SAMPLERS = ("constrained", "asap")
MAX_GRAMMARS = 64  # translated grammars kept per process


@dataclass(frozen=True)
class ConstraintSpec:
    """What a request asked for: the key (``grammar``, ``regex``, ...), its text (JSON text for the
    JSON-valued keys), and the sampler. The grammar is built from them on first use, once per
    process: admission only reads the request, and the engine builds it on its compile thread.

    Example:
        >>> spec = ConstraintSpec.from_extra_args({"regex": "[0-9]+", "sampler": "asap"})
        >>> spec.sampler, spec.build().parser.parse("2026") is not None
        ('asap', True)
        >>> ConstraintSpec.from_extra_args({"regex": "[0-9]+"}).build() is spec.build()  # built once
        True
        >>> ConstraintSpec.from_extra_args({"temperature": 1}) is None
        True
        >>> ConstraintSpec.from_extra_args({"regex": "a("}, build=False).key  # not built: not checked
        'regex'
    """

    key: str
    text: str
    sampler: str = "constrained"

    def build(self) -> Grammar:
        """The request's grammar, built once per process (a ``GrammarError`` if it cannot be);
        picklable as ``spec.build``: the compile workers call it."""
        return _grammar(self.key, self.text)

    @property
    def digest(self) -> str:
        """A key for what the request asked (equal for requests that ask the same)."""
        return hashlib.sha256(f"{self.key}\x00{self.text}".encode()).hexdigest()[:32]

    @classmethod
    def from_extra_args(cls, extra: dict[str, Any] | None, *, build: bool = True) -> ConstraintSpec | None:
        """The spec of a request's ``extra_args`` (None: the request is not constrained); a
        ``ValueError`` names what is wrong. ``build``: also build the grammar now, so that a grammar
        that cannot be built is a ``ValueError`` here (the check at the door); without it only the
        request's form is checked."""
        names = " or ".join(f"'{k}'" for k in CONSTRAINTS if k in _available())
        given = [k for k in CONSTRAINTS if extra and k in extra]
        if not given:
            if extra and "sampler" in extra:
                raise ValueError(f"'sampler' needs a {names} in the same request")
            return None
        if len(given) > 1:
            raise ValueError(f"give one of {names}, not {' and '.join(given)}")
        key, value = given[0], extra[given[0]]
        if key not in _available():
            raise ValueError(f"'{key}' is not supported by this version of guided-decoding")
        sampler = extra.get("sampler", "constrained")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose {' or '.join(SAMPLERS)}")
        if key in JSON_VALUED:
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as e:
                    raise ValueError(f"'{key}' is not JSON: {e}") from None
            value = json.dumps(value)  # the cache key (key order kept: it is the output's order)
        elif not isinstance(value, str) or not value.strip():
            raise ValueError(f"'{key}' must be a non-empty string")
        spec = cls(key, value, sampler)
        if build:
            try:
                spec.build()
            except (GrammarError, ValueError, TypeError) as e:
                raise ValueError(f"bad {key.replace('_', ' ')}: {e}") from None
        return spec


def check_sampling(params: Any, spec: ConstraintSpec | None) -> None:
    """Refuse sampling settings the spec cannot honour (``asap`` aligns the model's own
    distribution, and vLLM applies temperature, top-k/top-p and min-p after logits processors)."""
    if spec is None or spec.sampler != "asap":
        return
    if params.temperature != 1.0 or params.top_k not in (None, 0, -1) or params.top_p != 1.0 or params.min_p:
        raise ValueError("sampler 'asap' aligns the model's own distribution: use temperature=1 and "
                         "no top_k, top_p or min_p (vLLM applies them after logits processors)")


@functools.cache
def _available() -> tuple[str, ...]:
    """The constraint keys this version of the grammar engine can build."""
    return tuple(k for k in CONSTRAINTS if k != "structural_tag" or hasattr(Grammar, "from_structural_tag"))


@functools.lru_cache(maxsize=MAX_GRAMMARS)
def _grammar(key: str, text: str) -> Grammar:
    """The grammar of one constraint (JSON-valued ones as JSON text), built once per process for
    requests that repeat it (translation and lark's tables are not redone per request)."""
    if key == "json_schema":
        return Grammar.from_json_schema(json.loads(text))
    if key == "structural_tag":
        return Grammar.from_structural_tag(json.loads(text))
    return Grammar.load(text) if key == "grammar" else Grammar.from_regex(text)
