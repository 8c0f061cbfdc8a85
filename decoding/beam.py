"""The old import path of :mod:`decoding.hf.beam` (moved with the rest of the Hugging Face
integration into :mod:`decoding.hf`): the same module object, so existing imports keep working."""

import sys

from .hf import beam as _module

sys.modules[__name__] = _module
