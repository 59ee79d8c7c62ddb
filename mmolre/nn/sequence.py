"""Masked operations over a sequence axis: pooling and attention key masks that never count padding."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """Mean over the sequence axis of ``x`` (B, L, ...), counting only real positions (B, L) when given."""
    if positions is None:
        return x.mean(dim=1)
    weights = positions.to(x.dtype).reshape(*positions.shape, *([1] * (x.ndim - 2)))
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def key_padding_mask(positions: torch.Tensor | None) -> torch.Tensor | None:
    """``nn.MultiheadAttention`` key mask (True = ignore) from real positions (B, L); a row without any real
    position attends everywhere (its outputs are discarded by the caller) instead of producing NaN."""
    if positions is None:
        return None
    positions = positions.bool()
    return ~(positions | ~positions.any(dim=1, keepdim=True))
