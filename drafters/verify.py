"""Tree verification: tensors in, accepted tokens out, in torch on the model's device.

A batch of draft trees is laid out as ``[B, n]`` node tensors, node 0 being the root token (the
token already chosen, not yet in the KV cache). :func:`tree_inputs` builds the tokens, the depths
and the ancestor mask for one forward pass over all trees; :func:`accept` walks them:

- greedy: at each reached node the model's choice is the argmax of its (processed) logits;
- sampling: one token is sampled at every node from its (processed, warped) distribution.

A child is reached when its token equals its parent's choice. This is sample-and-match: every
token committed is the model's own choice given the tokens before it, so greedy output equals plain
greedy decoding and sampled output follows the model's sampling distribution exactly. The choice
at the deepest reached node is the next root token ("bonus" token).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .search import DraftTree

__all__ = ["TreeBatch", "tree_inputs", "accept"]


class TreeBatch:
    """Padded node tensors for a batch of trees (padding nodes have parent -2 and never match)."""

    def __init__(self, tokens: torch.Tensor, parents: torch.Tensor, depths: torch.Tensor,
                 ancestors: torch.Tensor):
        self.tokens = tokens        # [B, n] long
        self.parents = parents      # [B, n] long, -1 for the root, -2 for padding
        self.depths = depths        # [B, n] long, 0 for the root
        self.ancestors = ancestors  # [B, n, n] bool: node i sees node j (j ancestor of i, or i)

    def to(self, device: torch.device | str) -> "TreeBatch":
        """The same trees on ``device`` (this one stays where it is, e.g. for host-side reads)."""
        return TreeBatch(self.tokens.to(device), self.parents.to(device), self.depths.to(device),
                         self.ancestors.to(device))


def tree_inputs(roots: Sequence[int], trees: Sequence[DraftTree], pad_token: int = 0) -> TreeBatch:
    """Lay out one tree per sequence below its root token (on the CPU: move it with ``.to``).
    Node indices follow the trees' order, so a node comes after its parent.

    Example:
        >>> import numpy as np
        >>> t = DraftTree(np.array([5, 6, 7]), np.array([-1, 0, -1]), np.array([1, 2, 1]))
        >>> batch = tree_inputs([4], [t])
        >>> batch.tokens.tolist(), batch.parents.tolist(), batch.depths.tolist()
        ([[4, 5, 6, 7]], [[-1, 0, 1, 0]], [[0, 1, 2, 1]])
        >>> batch.ancestors[0].int().tolist()
        [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 1]]
    """
    n = 1 + max((len(t) for t in trees), default=0)
    b = len(trees)
    tokens = torch.full((b, n), pad_token, dtype=torch.long)
    parents = torch.full((b, n), -2, dtype=torch.long)
    depths = torch.zeros((b, n), dtype=torch.long)
    ancestors = torch.zeros((b, n, n), dtype=torch.bool)
    idx = torch.arange(n)
    ancestors[:, idx, idx] = True
    for row, (root, tree) in enumerate(zip(roots, trees)):
        k = len(tree)
        tokens[row, 0] = int(root)
        parents[row, 0] = -1
        if k:
            tokens[row, 1:k + 1] = torch.as_tensor(tree.tokens)
            parents[row, 1:k + 1] = torch.as_tensor(tree.parents) + 1
            depths[row, 1:k + 1] = torch.as_tensor(tree.depths)
        for i in range(1, k + 1):  # parents come before children: copy the parent's row
            ancestors[row, i] |= ancestors[row, int(parents[row, i])]
        ancestors[row, 1:k + 1, 0] = True
    return TreeBatch(tokens, parents, depths, ancestors)


def accept(batch: TreeBatch, choices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Walk the trees given the model's choice at every node (``[B, n]`` token ids).

    Returns ``(accepted, last, bonus)``: ``accepted [B, n]`` marks the reached nodes (the root and a
    chain below it, in increasing index order), ``last [B]`` is the deepest reached node,
    ``bonus [B]`` the choice there.

    Example:
        >>> import numpy as np
        >>> t = DraftTree(np.array([5, 6, 7]), np.array([-1, 0, -1]), np.array([1, 2, 1]))
        >>> batch = tree_inputs([4], [t])
        >>> accepted, last, bonus = accept(batch, torch.tensor([[5, 9, 0, 0]]))  # 4 -> 5, then 9
        >>> accepted.tolist(), last.tolist(), bonus.tolist()
        ([[True, True, False, False]], [1], [9])
    """
    parents = batch.parents
    safe_parent = parents.clamp(min=0)
    parent_choice = torch.gather(choices, 1, safe_parent)
    match = (batch.tokens == parent_choice) & (parents >= 0)
    accepted = parents == -1  # the root
    for _ in range(int(batch.depths.max())):  # one level per round
        accepted = accepted | (match & torch.gather(accepted, 1, safe_parent))
    score = torch.where(accepted, batch.depths, torch.full_like(batch.depths, -1))
    last = score.argmax(dim=1)
    bonus = torch.gather(choices, 1, last.unsqueeze(1)).squeeze(1)
    return accepted, last, bonus
