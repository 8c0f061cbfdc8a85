"""Turn a Hugging Face tokenizer into a :class:`grammars.vocabulary.Vocabulary` (raw token bytes).

Three token spellings are understood:

* byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM): each character of a token stands for one byte
  through GPT-2's byte-to-unicode table (``Ġ`` is a space, ``Ċ`` a newline);
* SentencePiece with byte fallback (Llama 2, Mistral, Gemma): ``<0xHH>`` is that single byte and
  ``▁`` is a space;
* Metaspace tokenizers without byte fallback: ``▁`` is a space, the rest is UTF-8 text.

A token's bytes are what it adds to the decoded output in the middle of a text. SentencePiece
decoders also strip the space of a leading ``▁`` at the very start of a text; the vocabulary keeps
that space (as other grammar engines do): a grammar sees ``" Hello"`` for ``▁Hello``.

Example:
    >>> from decoding.models import load_test_model
    >>> from decoding.tokenizers import vocabulary_from_hf
    >>> _, tok = load_test_model()  # doctest: +SKIP
    >>> vocab = vocabulary_from_hf(tok)  # doctest: +SKIP
    >>> vocab.token_bytes[tok.convert_tokens_to_ids("Ġhello")], vocab.eos_token_ids  # doctest: +SKIP
    (b' hello', (2,))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from grammars.errors import VocabularyError
from grammars.vocabulary import Vocabulary

__all__ = [
    "byte_level_token_bytes",
    "bytes_to_unicode",
    "sentencepiece_token_bytes",
    "tokenizer_kind",
    "vocabulary_from_hf",
]

_SP_SPACE = "\u2581"  # "▁", SentencePiece's visible space


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte value to the printable character that spells it in a vocab.

    Example:
        >>> bytes_to_unicode()[ord(" ")], bytes_to_unicode()[ord("\\n")], bytes_to_unicode()[ord("a")]
        ('Ġ', 'Ċ', 'a')
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def byte_level_token_bytes(token: str) -> bytes | None:
    """Bytes of a byte-level BPE token, or ``None`` if a character lies outside the byte table.

    Example:
        >>> byte_level_token_bytes("Ġhello"), byte_level_token_bytes("ĠðŁĻ"), byte_level_token_bytes("日")
        (b' hello', b' \\xf0\\x9f\\x99', None)
    """
    table = _unicode_to_byte()
    try:
        return bytes([table[c] for c in token])
    except KeyError:
        return None


def sentencepiece_token_bytes(token: str, *, byte_fallback: bool = True) -> bytes:
    """Bytes of a SentencePiece/Metaspace token: ``<0xHH>`` is one byte, ``▁`` a space.

    Example:
        >>> sentencepiece_token_bytes("▁Hello"), sentencepiece_token_bytes("<0xE6>")
        (b' Hello', b'\\xe6')
        >>> sentencepiece_token_bytes("<0xE6>", byte_fallback=False)
        b'<0xE6>'
    """
    if byte_fallback and len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
        try:
            return bytes([int(token[3:5], 16)])
        except ValueError:
            pass
    return token.replace(_SP_SPACE, " ").encode("utf-8")


def tokenizer_kind(tokenizer: Any) -> str:
    """``"byte_level"``, ``"sentencepiece"`` (byte fallback) or ``"metaspace"`` for a HF tokenizer.

    Read from the fast tokenizer's decoder and pre-tokenizer; a slow tokenizer is judged by its
    vocabulary (``Ġ``-spelled tokens mean byte-level). Raises ``VocabularyError`` (a ``ValueError``)
    for other kinds (WordPiece, Unigram without byte pieces, ...).

    Example:
        >>> tokenizer_kind(tok)  # doctest: +SKIP
        'byte_level'
    """
    spec = _backend_spec(tokenizer)
    if spec is not None:
        decoder_types = set(_component_types(spec.get("decoder")))
        pre_types = set(_component_types(spec.get("pre_tokenizer")))
        model = spec.get("model") or {}
        if "ByteLevel" in decoder_types or "ByteLevel" in pre_types:
            return "byte_level"
        if model.get("byte_fallback") or "ByteFallback" in decoder_types:
            return "sentencepiece"
        if "Metaspace" in decoder_types or "Metaspace" in pre_types or _replaces_sp_space(spec):
            return "metaspace"
    vocab = tokenizer.get_vocab()
    if any(t.startswith("Ġ") for t in vocab) and not any(t.startswith(_SP_SPACE) for t in vocab):
        return "byte_level"
    if any(t.startswith(_SP_SPACE) for t in vocab):
        return "sentencepiece" if "<0x00>" in vocab else "metaspace"
    decoder = spec.get("decoder") if spec else None
    raise VocabularyError(
        f"unsupported tokenizer {getattr(tokenizer, 'name_or_path', '')!r}: neither byte-level BPE "
        f"nor SentencePiece/Metaspace (decoder {decoder!r})"
    )


def vocabulary_from_hf(
    tokenizer: Any,
    *,
    logits_width: int | None = None,
    eos_token_ids: Iterable[int] | int | None = None,
    generation_config: Any = None,
) -> Vocabulary:
    """Build the :class:`Vocabulary` of a Hugging Face tokenizer: the bytes of every token id.

    ``token_bytes[i]`` (for every id below ``len(tokenizer)``) is what token ``i`` adds to the
    decoded text; special tokens (``all_special_ids`` and added tokens flagged special) are
    ``None``; non-special added tokens are their content in UTF-8. The end-of-generation ids are
    the union of ``tokenizer.eos_token_id``, ``eos_token_ids`` and
    ``generation_config.eos_token_id`` (an int or a list). ``logits_width`` defaults to ``len(tokenizer)``; pass the model's
    ``config.vocab_size`` when its logits row is wider (padded vocabulary).

    Raises ``grammars.errors.VocabularyError`` (a ``ValueError``) naming the offending ids and
    strings when a token cannot be spelled as bytes (a character outside the byte table of a
    byte-level tokenizer).

    Example:
        >>> model, tok = load_test_model()  # doctest: +SKIP
        >>> vocab = vocabulary_from_hf(tok, logits_width=model.config.vocab_size,
        ...                            generation_config=model.generation_config)  # doctest: +SKIP
        >>> vocab.size, vocab.eos_token_ids, vocab.token_bytes[2]  # doctest: +SKIP
        (49152, (2,), None)
    """
    n = len(tokenizer)
    kind = tokenizer_kind(tokenizer)
    byte_fallback = kind == "sentencepiece"

    added = dict(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    special = {int(i) for i in tokenizer.all_special_ids if i is not None}
    special.update(int(i) for i, tok in added.items() if getattr(tok, "special", False))

    id_to_token: list[str | None] = [None] * n
    for token, i in tokenizer.get_vocab().items():
        if 0 <= i < n:
            id_to_token[i] = token

    token_bytes: list[bytes | None] = [None] * n
    bad: list[tuple[int, str]] = []
    for i, token in enumerate(id_to_token):
        if token is None or i in special:
            continue
        if i in added:
            token_bytes[i] = str(added[i].content).encode("utf-8")
        elif kind == "byte_level":
            b = byte_level_token_bytes(token)
            if b is None:
                bad.append((i, token))
            token_bytes[i] = b
        else:
            token_bytes[i] = sentencepiece_token_bytes(token, byte_fallback=byte_fallback)
    if bad:
        shown = ", ".join(f"{i}: {t!r}" for i, t in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        name = getattr(tokenizer, "name_or_path", "")
        raise VocabularyError(
            f"{len(bad)} token(s) of byte-level tokenizer {name!r} "
            f"have characters outside the byte table and cannot be spelled as bytes: {shown}{more}"
        )

    eos: set[int] = set()
    eos.update(_ids(getattr(tokenizer, "eos_token_id", None)))
    eos.update(_ids(eos_token_ids))
    if generation_config is not None:
        value = (
            generation_config.get("eos_token_id")
            if isinstance(generation_config, Mapping)
            else getattr(generation_config, "eos_token_id", None)
        )
        eos.update(_ids(value))

    return Vocabulary(
        token_bytes=token_bytes,
        eos_token_ids=tuple(sorted(eos)),
        logits_width=logits_width if logits_width is not None else n,
        name=str(getattr(tokenizer, "name_or_path", "") or ""),
    )


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value if v is not None]


def _backend_spec(tokenizer: Any) -> dict[str, Any] | None:
    """Decoder, pre-tokenizer and normalizer specs of a fast tokenizer, plus its model's flags."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    spec: dict[str, Any] = {}
    for part in ("decoder", "pre_tokenizer", "normalizer"):
        component = getattr(backend, part, None)
        spec[part] = json.loads(component.__getstate__()) if component is not None else None
    model = backend.model
    spec["model"] = {
        "type": type(model).__name__,
        "byte_fallback": bool(getattr(model, "byte_fallback", False)),
    }
    return spec


def _component_types(component: Any) -> Iterable[str]:
    """Types of a decoder/pre-tokenizer spec, looking inside ``Sequence`` components."""
    if not isinstance(component, dict):
        return
    kind = component.get("type")
    if kind:
        yield kind
    for key in ("decoders", "pretokenizers"):
        for child in component.get(key) or ():
            yield from _component_types(child)


def _replaces_sp_space(spec: dict[str, Any]) -> bool:
    """A decoder that replaces ``▁`` by a space (Gemma-style, without a Metaspace component)."""
    stack = [spec.get("decoder")]
    while stack:
        comp = stack.pop()
        if not isinstance(comp, dict):
            continue
        if comp.get("type") == "Replace" and (comp.get("pattern") or {}).get("String") == _SP_SPACE:
            return True
        stack.extend(comp.get("decoders") or ())
    return False


def vocabulary_for_grammar(vocabulary: Vocabulary, tokenizer: Any, grammar: Any) -> Vocabulary:
    """``vocabulary`` for a grammar that names special tokens (``<|im_end|>``, ``<[128010]>``; see
    :mod:`grammars.special_tokens`): those tokens of ``tokenizer`` stand for the grammar's literals.
    The same vocabulary for a grammar that names none. A :class:`VocabularyError` names a special
    token the tokenizer does not have."""
    from grammars.special_tokens import special_token_names, vocabulary_with_special_tokens

    names = special_token_names(grammar)
    if not names:
        return vocabulary
    by_content = {str(t.content): i for i, t in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items()}
    ids = {}
    for name in names:
        if name.startswith("<[") and name.endswith("]>") and name[2:-2].isdigit():
            ids[name] = int(name[2:-2])
        elif name in by_content:
            ids[name] = by_content[name]
        else:
            raise VocabularyError(f"the grammar names the special token {name}, which this tokenizer "
                                  f"does not have (its special tokens: {', '.join(sorted(by_content)[:8])}"
                                  f"{', ...' if len(by_content) > 8 else ''})")
    return vocabulary_with_special_tokens(vocabulary, ids)
