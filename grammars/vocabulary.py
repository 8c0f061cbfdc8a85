"""A tokenizer's vocabulary as raw bytes: what the grammar engine needs to know of a model.

The engine never imports a tokenizer library. Adapters (``decoding.tokenizers``) turn a Hugging Face
tokenizer into a :class:`Vocabulary`; tests may build one by hand.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Vocabulary:
    """Byte strings of every token id, plus the ids that end a generation.

    ``token_bytes[i]`` is the exact byte string token ``i`` adds to the output, or ``None`` for a
    token a grammar may never produce (special and control tokens, unused padding ids).
    ``logits_width`` is the width of the model's logits row; it may exceed ``len(token_bytes)``
    (padded vocabularies): the extra ids are always masked.

    Example:
        >>> vocab = Vocabulary([b"a", b"b", b"ab", None], eos_token_ids=(3,))
        >>> vocab.size, vocab.logits_width, vocab.eos_token_ids
        (4, 4, (3,))
    """

    token_bytes: list[bytes | None]
    eos_token_ids: tuple[int, ...] = ()
    logits_width: int = 0
    name: str = ""
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        n = len(self.token_bytes)
        width = self.logits_width or n
        if width < n:
            raise ValueError(f"logits_width={width} is smaller than the vocabulary ({n} tokens)")
        object.__setattr__(self, "logits_width", width)
        eos = tuple(sorted({int(i) for i in self.eos_token_ids}))
        for i in eos:
            if not 0 <= i < width:
                raise ValueError(f"eos token id {i} is outside the logits row (width {width})")
        object.__setattr__(self, "eos_token_ids", eos)
        if not self.fingerprint:
            h = hashlib.sha256()
            h.update(repr((width, eos)).encode())
            for b in self.token_bytes:
                h.update(b"\x00N" if b is None else len(b).to_bytes(4, "little") + b)
            object.__setattr__(self, "fingerprint", h.hexdigest()[:32])

    @property
    def size(self) -> int:
        """Number of token ids the tokenizer defines."""
        return len(self.token_bytes)


@functools.lru_cache(maxsize=1)
def byte_vocabulary() -> Vocabulary:
    """A vocabulary of the 256 single bytes (and no end-of-sequence id): for checking texts.
    Built once (it is immutable), so its fingerprint is hashed once.

    Example:
        >>> byte_vocabulary().size
        256
    """
    return Vocabulary([bytes([b]) for b in range(256)], name="bytes")
