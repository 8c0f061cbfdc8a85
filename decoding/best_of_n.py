"""The old import path of :mod:`decoding.hf.best_of_n` (moved with the rest of the Hugging Face
integration into :mod:`decoding.hf`): the same module object, so existing imports keep working."""

import sys

from .hf import best_of_n as _module

sys.modules[__name__] = _module
