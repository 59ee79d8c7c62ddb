"""The router of a mixture block: raw per-task outputs (expert logits, noise stds, task scale) from its input."""

from __future__ import annotations

import torch
from torch import nn

from mmolre.nn.sequence import masked_mean


class Router(nn.Module):
    """A router's raw outputs: per position a linear map ``(B, L, d) -> (B, L, n)``, or per sample (``pooled``) a
    position-wise Linear + LayerNorm + GELU of width ``d // 4`` (as MLoRE's ``SpatialAtt``) but at least
    ``min(d, 16)`` (a LayerNorm over two features is a sign function), mean-pooled over the real steps, then a
    linear map to ``(B, n)``."""

    def __init__(self, dim: int, outputs: int, pooled: bool) -> None:
        super().__init__()
        self.pooled = pooled
        if pooled:
            hidden = max(dim // 4, min(dim, 16))
            self.features = nn.Sequential(nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.GELU())
            self.out = nn.Linear(hidden, outputs)
        else:
            self.out = nn.Linear(dim, outputs)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        if not self.pooled:
            return self.out(x)
        return self.out(masked_mean(self.features(x), positions))
