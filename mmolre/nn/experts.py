"""The one expert layer used by every mixture model (MMoLRE experts, full-rank MoE / MMoE baselines).

An expert maps ``(..., L, d_in)`` to ``(..., L, d_out)`` through a rank-``r`` bottleneck: a 1-D convolution
with kernel ``k`` over the sequence from ``d_in`` down to ``r`` (factor ``A``), then a position-wise map from ``r``
up to ``d_out`` (factor ``B``). With ``r == d`` it is the full-rank expert of the same shape. Both factors are
registered ``nn.Parameter`` objects. (The LoRA adapter of a linear layer is :class:`mmolre.nn.lora.LoRA`; the
mixture block built from these experts is :class:`mmolre.nn.mixture.TaskMixture`.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LowRankExpert(nn.Module):
    """Rank-``rank`` bottleneck expert ``x -> B(A * x)`` (``*``: convolution over the sequence) with optional
    dropout on its input; both factors start random (Kaiming uniform), as mixture-of-experts members do."""

    def __init__(
        self,
        in_dim: int,
        rank: int,
        out_dim: int | None = None,
        kernel_size: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        out_dim = in_dim if out_dim is None else out_dim
        if min(in_dim, out_dim, rank) < 1:
            raise ValueError(f"in_dim, out_dim and rank must be >= 1, got {in_dim}, {out_dim}, {rank}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.in_dim, self.out_dim, self.rank, self.kernel_size = in_dim, out_dim, rank, kernel_size
        self.A = nn.Parameter(torch.empty(rank, in_dim, kernel_size))
        self.B = nn.Parameter(torch.empty(out_dim, rank))
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.B, a=math.sqrt(5))

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> r={self.rank} -> {self.out_dim}, kernel={self.kernel_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"expert expects last dimension {self.in_dim}, got input of shape {tuple(x.shape)}")
        x = self.dropout(x)
        if self.kernel_size == 1:
            hidden = x @ self.A[:, :, 0].T
        else:
            if x.ndim < 2:
                raise ValueError(f"a kernel-{self.kernel_size} expert needs (..., L, d) input, got {tuple(x.shape)}")
            lead, length = x.shape[:-2], x.shape[-2]
            flat = x.reshape(-1, length, self.in_dim).transpose(1, 2)
            hidden = (
                F.conv1d(flat, self.A, padding=self.kernel_size // 2).transpose(1, 2).reshape(*lead, length, self.rank)
            )
        return hidden @ self.B.T

    def flops_per_token(self) -> int:
        """Multiply-accumulate count per sequence position (one MAC = 2 FLOPs)."""
        return 2 * (self.rank * self.in_dim * self.kernel_size + self.out_dim * self.rank)


class SequenceConv(nn.Conv1d):
    """Full-rank convolution with bias over the sequence: ``(B, L, d_in) -> (B, L, d_out)``, kernel ``k``."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 3) -> None:
        super().__init__(in_dim, out_dim, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)
