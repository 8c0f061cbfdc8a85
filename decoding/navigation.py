"""The old import path of :mod:`decoding.hf.navigation` (moved with the rest of the Hugging Face
integration into :mod:`decoding.hf`): the same module object, so existing imports keep working."""

import sys

from .hf import navigation as _module

sys.modules[__name__] = _module
