"""`TokenTrie`: the vocabulary's byte strings as a flat prefix tree in depth-first order.

Node ``i`` holds one byte; its subtree is the contiguous range ``i .. subtree_end[i]``, so a walk
that finds a byte impossible skips every token below it in one step. Tokens that end at a node are
listed in ``token_ids[token_start[i]:token_start[i + 1]]``. Node 0 is the root (the empty string).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .slices import node_features
from .vocabulary import Vocabulary


@dataclass(frozen=True)
class TokenTrie:
    """Flat byte trie of a :class:`Vocabulary` (special tokens and end-of-sequence ids left out).

    Example:
        >>> trie = TokenTrie.from_vocabulary(Vocabulary([b"a", b"ab", b"b", None]))
        >>> trie.node_byte.tolist(), trie.subtree_end.tolist()
        ([0, 97, 98, 98], [4, 3, 3, 4])
    """

    node_byte: np.ndarray  # uint8 [n_nodes]
    node_depth: np.ndarray  # int32 [n_nodes]
    subtree_end: np.ndarray  # int32 [n_nodes]
    token_start: np.ndarray  # int32 [n_nodes + 1]
    token_ids: np.ndarray  # int32 [n_tokens_in_trie]
    max_depth: int
    token_offsets: np.ndarray  # int64 [vocab_size + 1]: token i's bytes are data[off[i]:off[i+1]]
    token_data: np.ndarray  # uint8: the bytes of every token, concatenated
    token_allowed: np.ndarray  # bool [vocab_size]: False for tokens without bytes (special)
    node_ascii: np.ndarray  # uint64 [n_nodes, 2]: ASCII bytes of the tokens below (slices.py)
    node_flags: np.ndarray  # uint8 [n_nodes]: non-ASCII / not-UTF-8 tokens below (slices.py)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_slice_masks", None)  # a cache (CompiledGrammar._lexeme_walk), rebuilt on use
        state.pop("_unique_item_classes", None)  # a cache (unique_items.token_classes), likewise
        return state

    def token_bytes(self, token_id: int) -> bytes | None:
        """The bytes of a token, or None for one that no grammar may produce."""
        if not 0 <= token_id < len(self.token_allowed) or not self.token_allowed[token_id]:
            return None
        return self.token_data[self.token_offsets[token_id]:self.token_offsets[token_id + 1]].tobytes()

    @classmethod
    def from_vocabulary(cls, vocab: Vocabulary) -> "TokenTrie":
        eos = set(vocab.eos_token_ids)
        entries = sorted(
            (b, i) for i, b in enumerate(vocab.token_bytes) if b and i not in eos
        )
        node_byte = [0]
        node_depth = [0]
        owner = [-1]  # the token ending at each node (first one); extra ones go to `extra`
        extra: dict[int, list[int]] = {}
        path = [0]  # node index of each prefix length of the previous string
        prev = b""
        for data, tok in entries:
            common = 0
            limit = min(len(prev), len(data))
            while common < limit and prev[common] == data[common]:
                common += 1
            if common == len(data) == len(prev):  # same bytes as the previous token
                extra.setdefault(path[-1], []).append(tok)
                continue
            del path[common + 1 :]
            for depth in range(common + 1, len(data) + 1):
                path.append(len(node_byte))
                node_byte.append(data[depth - 1])
                node_depth.append(depth)
                owner.append(-1)
            owner[path[-1]] = tok
            prev = data
        n = len(node_byte)
        depth_arr = np.array(node_depth, dtype=np.int32)
        subtree_end = np.empty(n, dtype=np.int32)
        stack: list[int] = []
        for i in range(n):
            while stack and node_depth[stack[-1]] >= node_depth[i]:
                subtree_end[stack.pop()] = i
            stack.append(i)
        for i in stack:
            subtree_end[i] = n
        counts = np.zeros(n + 1, dtype=np.int32)
        ids: list[int] = []
        for i in range(n):
            here = ([owner[i]] if owner[i] >= 0 else []) + extra.get(i, [])
            counts[i + 1] = len(here)
            ids.extend(here)
        lengths = np.array([len(b) if b else 0 for b in vocab.token_bytes], dtype=np.int64)
        offsets = np.zeros(vocab.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data = np.frombuffer(b"".join(b for b in vocab.token_bytes if b), dtype=np.uint8).copy()
        token_start = np.cumsum(counts, dtype=np.int32)
        token_ids = np.array(ids, dtype=np.int32)
        node_ascii, node_flags = node_features(offsets, data, depth_arr, token_start, token_ids)
        return cls(
            token_offsets=offsets,
            token_data=data,
            token_allowed=np.array([b is not None for b in vocab.token_bytes], dtype=bool),
            node_byte=np.array(node_byte, dtype=np.uint8),
            node_depth=depth_arr,
            subtree_end=subtree_end,
            token_start=token_start,
            token_ids=token_ids,
            max_depth=int(depth_arr.max()),
            node_ascii=node_ascii,
            node_flags=node_flags,
        )
