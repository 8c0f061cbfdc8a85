"""The old import path of :mod:`decoding.hf.skinny_linear` (moved with the rest of the Hugging Face
integration into :mod:`decoding.hf`): the same module object, so existing imports keep working."""

import sys

from .hf import skinny_linear as _module

sys.modules[__name__] = _module
