"""Multi-head self-attention without an output projection, as MCULoRA's official block computes it.

Official code (gdace829/MCULoRA, ``MCULoRA/modules/Attention_softmoe.py`` lines 137-163 at b5d07be, April 2025;
``MCULoRA/modules/Attention_group.py`` lines 138-164 at HEAD): separate ``q``, ``k``, ``v`` linear layers (default
``nn.Linear`` initialisation), ``q`` scaled by ``head_dim ** -0.5``, padded keys set to ``-inf`` before the softmax,
dropout on the attention weights, and the heads' outputs concatenated with no projection after them.
``nn.MultiheadAttention`` (our earlier block) adds that output projection.
"""

from __future__ import annotations

import torch
from torch import nn

from mmolre.nn.sequence import key_padding_mask


class QKVAttention(nn.Module):
    """Self-attention over (B, L, dim) with separate q/k/v projections and no output projection."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} must be divisible by the number of heads {heads}")
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        return x.reshape(b, length, self.heads, -1).transpose(1, 2)  # (B, heads, L, head_dim)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Attended values (B, L, dim); ``positions`` (B, L) marks the real steps (None: all), padded keys are
        ignored (a row without any real step attends everywhere, see :func:`key_padding_mask`)."""
        q, k, v = self._split(self.q(x) * self.scale), self._split(self.k(x)), self._split(self.v(x))
        scores = q @ k.transpose(-2, -1)
        ignore = key_padding_mask(positions)
        if ignore is not None:
            scores = scores.masked_fill(ignore[:, None, None, :], float("-inf"))
        weights = self.dropout(scores.softmax(dim=-1))
        return (weights @ v).transpose(1, 2).reshape(x.shape)
