"""The vLLM plugin's first import path, kept for existing installs and entry points
(``decoding.vllm_plugin:GuidedDecodingLogitsProcessor``); the plugin lives in :mod:`decoding.vllm`.

Example:
    >>> from decoding.vllm import GuidedDecodingLogitsProcessor as Cls
    >>> GuidedDecodingLogitsProcessor is Cls
    True
"""

from .vllm import ConstraintSpec, GuidedDecodingLogitsProcessor

__all__ = ["ConstraintSpec", "GuidedDecodingLogitsProcessor"]
