"""The SmolLM2 tokenizer and the HF tokenizer -> Vocabulary (token bytes) adapter."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from decoding.models import test_model_path
from decoding.tokenizers import (
    byte_level_token_bytes,
    bytes_to_unicode,
    sentencepiece_token_bytes,
    tokenizer_kind,
    vocabulary_from_hf,
)
from grammars.errors import VocabularyError
from grammars.vocabulary import Vocabulary

TEXTS = [
    "héllo wörld 日本語 🙂",
    "  1999",
    '{"a": [1, 2.5e-3, true, null], "b": "x\\ny"}\n\t',
    "🙂🙃🤖👍🏽 ∀x∈ℝ: x² ≥ 0",  # emoji split across several tokens
    "<html><|im_ end|> <think>",
    "\x00\x01\x7f ~ \u00a0 \ufeff",
    "def f(x):\n    return x ** 2  # comment",
]


@pytest.fixture(scope="module")
def vocab(test_tokenizer) -> Vocabulary:
    return vocabulary_from_hf(test_tokenizer)


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# --- the tokenizer itself ---------------------------------------------------------------------


def test_digits_are_split_after_whitespace(test_tokenizer):
    ids = encode(test_tokenizer, "  1999")
    assert test_tokenizer.convert_ids_to_tokens(ids) == ["ĠĠ", "1", "9", "9", "9"]
    assert ids == [256, 33, 41, 41, 41]


def test_no_bos_added_by_default(test_tokenizer):
    assert test_tokenizer("hi")["input_ids"] == encode(test_tokenizer, "hi")


@pytest.mark.parametrize("text", TEXTS)
def test_unicode_round_trip(test_tokenizer, text):
    ids = encode(test_tokenizer, text)
    assert test_tokenizer.decode(ids, clean_up_tokenization_spaces=False) == text


def test_special_tokens(test_tokenizer):
    assert test_tokenizer.eos_token_id == 2
    assert test_tokenizer.bos_token_id == 1
    names = test_tokenizer.convert_ids_to_tokens([0, 1, 2])
    assert names == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


# --- vocabulary_from_hf on the real tokenizer ----------------------------------------------------


def test_vocabulary_shape(vocab, test_tokenizer):
    assert isinstance(vocab, Vocabulary)
    assert vocab.size == vocab.logits_width == len(test_tokenizer) == 49_152
    assert vocab.name == test_tokenizer.name_or_path
    assert tokenizer_kind(test_tokenizer) == "byte_level"
    assert vocab.token_bytes[test_tokenizer.convert_tokens_to_ids("Ġhello")] == b" hello"
    assert vocab.token_bytes[test_tokenizer.convert_tokens_to_ids("Ċ")] == b"\n"
    assert vocab.token_bytes[256] == b"  "


@pytest.mark.parametrize("text", TEXTS)
def test_token_bytes_concatenate_to_the_text(vocab, test_tokenizer, text):
    ids = encode(test_tokenizer, text)
    assert b"".join(vocab.token_bytes[i] for i in ids) == text.encode("utf-8")


def test_special_token_text_spelled_with_ordinary_tokens(vocab, test_tokenizer):
    # A grammar that wants the literal text "<|im_end|>" gets it from ordinary tokens only.
    ids = test_tokenizer("<|im_end|>", add_special_tokens=False, split_special_tokens=True)
    ids = ids["input_ids"]
    assert 2 not in ids
    assert b"".join(vocab.token_bytes[i] for i in ids) == b"<|im_end|>"


def test_emoji_split_into_partial_utf8_tokens(vocab, test_tokenizer):
    ids = encode(test_tokenizer, "🙂")
    parts = [vocab.token_bytes[i] for i in ids]
    assert len(parts) >= 2  # the emoji is not one token: its pieces are not valid UTF-8 alone
    assert b"".join(parts) == "🙂".encode()
    with pytest.raises(UnicodeDecodeError):
        parts[0].decode("utf-8")


def test_every_token_matches_its_decoding(vocab, test_tokenizer):
    decoded = test_tokenizer.batch_decode([[i] for i in range(vocab.size)])
    checked = 0
    for i, (text, raw) in enumerate(zip(decoded, vocab.token_bytes)):
        if raw is None:
            continue
        try:
            expected = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # a partial UTF-8 sequence decodes to U+FFFD alone
        assert text == expected, (i, text, raw)
        checked += 1
    assert checked > 40_000


def test_special_tokens_are_none(vocab, test_tokenizer):
    special = set(test_tokenizer.all_special_ids) | {
        i for i, t in test_tokenizer.added_tokens_decoder.items() if t.special
    }
    assert special == set(range(17))
    assert [i for i, b in enumerate(vocab.token_bytes) if b is None] == sorted(special)


def test_eos_ids(vocab, test_model, test_tokenizer):
    assert vocab.eos_token_ids == (2,)
    merged = vocabulary_from_hf(
        test_tokenizer, eos_token_ids=[0], generation_config=test_model.generation_config
    )
    assert merged.eos_token_ids == (0, 2)
    as_dict = vocabulary_from_hf(test_tokenizer, generation_config={"eos_token_id": [2, 1]})
    assert as_dict.eos_token_ids == (1, 2)
    assert vocabulary_from_hf(test_tokenizer, eos_token_ids=5).eos_token_ids == (2, 5)


def test_padded_logits_width(vocab, test_tokenizer):
    padded = vocabulary_from_hf(test_tokenizer, logits_width=49_152 + 64)
    assert padded.logits_width == 49_216
    assert padded.size == 49_152
    assert padded.token_bytes == vocab.token_bytes
    assert padded.fingerprint != vocab.fingerprint
    with pytest.raises(ValueError):
        vocabulary_from_hf(test_tokenizer, logits_width=100)


def test_added_tokens():
    tokenizer = AutoTokenizer.from_pretrained(test_model_path())  # a private copy to modify
    tokenizer.add_tokens(["<my_marker>", "日本語テキスト"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|ctrl|>"]})
    vocab = vocabulary_from_hf(tokenizer)
    assert vocab.size == 49_155
    marker, text, ctrl = tokenizer.convert_tokens_to_ids(["<my_marker>", "日本語テキスト", "<|ctrl|>"])
    assert vocab.token_bytes[marker] == b"<my_marker>"
    assert vocab.token_bytes[text] == "日本語テキスト".encode()
    assert vocab.token_bytes[ctrl] is None
    ids = encode(tokenizer, "a <my_marker> b")
    assert marker in ids
    assert b"".join(vocab.token_bytes[i] for i in ids) == tokenizer.decode(ids).encode()


# --- other tokenizer kinds, built small with the tokenizers library ------------------------------


def test_byte_level_token_outside_the_byte_table_is_named():
    vocab = {ch: i for i, ch in enumerate(bytes_to_unicode().values())}
    vocab["ok"] = 256
    vocab["日本"] = 257
    vocab["Ġé"] = 258  # "é" is in the byte table (byte 0xE9)
    vocab["x🙂"] = 259
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    assert tokenizer_kind(tokenizer) == "byte_level"
    with pytest.raises(VocabularyError, match="2 token") as info:
        vocabulary_from_hf(tokenizer)
    message = str(info.value)
    assert "257: '日本'" in message and "259: 'x🙂'" in message
    assert "258" not in message
    assert isinstance(info.value, ValueError)


def test_byte_level_helpers():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert byte_level_token_bytes("".join(table[b] for b in range(256))) == bytes(range(256))
    assert byte_level_token_bytes("ĠðŁĻĤ") == " 🙂".encode()
    assert byte_level_token_bytes("ab日") is None
    assert sentencepiece_token_bytes("▁▁x") == b"  x"
    assert sentencepiece_token_bytes("<0x0A>") == b"\n"
    assert sentencepiece_token_bytes("<0xZZ>") == b"<0xZZ>"


def _sentencepiece_tokenizer() -> PreTrainedTokenizerFast:
    """Llama-2 style: BPE with byte fallback, Metaspace pre-tokenizer, ``<0xHH>`` byte tokens."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece in ["▁", "h", "i", "▁h", "▁hi", "é"]:
        vocab[piece] = len(vocab)
    merges = [("▁", "h"), ("▁h", "i")]
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


def test_sentencepiece_byte_fallback():
    tokenizer = _sentencepiece_tokenizer()
    assert tokenizer_kind(tokenizer) == "sentencepiece"
    vocab = vocabulary_from_hf(tokenizer)
    assert vocab.token_bytes[:3] == [None, None, None]
    assert vocab.eos_token_ids == (2,)
    assert vocab.token_bytes[3 + 0xE6] == b"\xe6"
    assert vocab.token_bytes[tokenizer.convert_tokens_to_ids("▁hi")] == b" hi"
    text = "hi 日🙂 hié"
    ids = encode(tokenizer, text)
    assert "<0xF0>" in tokenizer.convert_ids_to_tokens(ids)
    # The decoder strips the leading space of the first "▁": the vocabulary keeps it.
    assert tokenizer.decode(ids) == text
    assert b"".join(vocab.token_bytes[i] for i in ids) == b" " + text.encode()


def test_metaspace_without_byte_fallback():
    vocab = {"<unk>": 0}
    for piece in ["▁", "a", "b", "é", "▁a", "<0x41>"]:
        vocab[piece] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[("▁", "a")], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    assert tokenizer_kind(tokenizer) == "metaspace"
    result = vocabulary_from_hf(tokenizer)
    assert result.token_bytes == [None, b" ", b"a", b"b", "é".encode(), b" a", b"<0x41>"]
    ids = encode(tokenizer, "a bé")
    assert b"".join(result.token_bytes[i] for i in ids) == b" a b\xc3\xa9"
