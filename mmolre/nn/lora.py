"""The one LoRA layer: a low-rank update ``scaling * B A x`` added to a frozen or trained linear map.

As the field writes it (peft's ``LoraLayer`` is the reference): ``A`` (r x d_in) starts Kaiming-uniform, ``B``
(d_out x r) starts at zero, so a new adapter is a no-op; dropout acts on the adapter's input; the update is scaled
by ``alpha / r`` so that changing the rank does not also change the size of the update (``alpha = None`` keeps
``alpha = r``, i.e. scaling 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LoRA(nn.Module):
    """Rank-``rank`` adapter ``x -> (alpha / rank) * B(A(dropout(x)))`` over the last dimension."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if min(in_dim, out_dim, rank) < 1:
            raise ValueError(f"LoRA in_dim, out_dim and rank must be >= 1, got {in_dim}, {out_dim}, {rank}")
        alpha = float(rank) if alpha is None else float(alpha)
        if alpha <= 0:
            raise ValueError(f"LoRA alpha must be > 0, got {alpha}")
        self.in_dim, self.out_dim, self.rank, self.alpha = in_dim, out_dim, rank, alpha
        self.scaling = alpha / rank
        self.A = nn.Parameter(torch.empty(rank, in_dim))
        self.B = nn.Parameter(torch.zeros(out_dim, rank))
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> r={self.rank} -> {self.out_dim}, scaling={self.scaling:g}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"LoRA expects last dimension {self.in_dim}, got input of shape {tuple(x.shape)}")
        update = (self.dropout(x) @ self.A.T) @ self.B.T
        return update if self.scaling == 1.0 else self.scaling * update
