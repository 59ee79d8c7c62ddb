"""MCLA: a linear layer with a shared LoRA and one LoRA per modality combination (MCULoRA, arXiv 2507.11202).

``MCLA(x, c) = W x + shared(x) + expert_c(x)`` where every LoRA is a :class:`mmolre.experts.LowRankExpert`
with ``kernel_size=1`` and ``init="lora"`` (A Kaiming, B zero), so a fresh MCLA equals its base linear layer.
There are 8 combinations: ``"none"`` plus the 7 :data:`mmolre.metrics.CONDITIONS` (a = audio, t = text,
v = vision). ``rank=0`` builds the plain linear layer without adapters (the "no MCLA" backbone).
"""

from __future__ import annotations

import torch
from torch import nn

from .dataset import MODALITIES
from .experts import LowRankExpert
from .metrics import CONDITIONS

COMBINATIONS: tuple[str, ...] = ("none", *CONDITIONS)
"""Index -> combination name; index 0 is the empty combination."""
LETTERS: dict[str, str] = {"a": "audio", "t": "text", "v": "vision"}
"""Condition letter -> modality name."""


def combination_modalities(name: str) -> tuple[str, ...]:
    """Modalities of a combination name (``"none"`` -> ``()``), in :data:`MODALITIES` order."""
    if name not in COMBINATIONS:
        raise ValueError(f"unknown modality combination {name!r}; expected one of {COMBINATIONS}")
    present = {LETTERS[letter] for letter in name if name != "none"}
    return tuple(m for m in MODALITIES if m in present)


def combination_mask(name: str) -> torch.Tensor:
    """The (3,) bool mask over :data:`MODALITIES` of a combination name."""
    present = combination_modalities(name)
    return torch.tensor([m in present for m in MODALITIES], dtype=torch.bool)


def _code(mask: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([1 << i for i in range(len(MODALITIES))], device=mask.device)
    return (mask.long() * weights).sum(-1)


_CODE_TO_INDEX = torch.empty(1 << len(MODALITIES), dtype=torch.long)
for _index, _name in enumerate(COMBINATIONS):
    _CODE_TO_INDEX[int(_code(combination_mask(_name)))] = _index


def combination_index(mask: torch.Tensor) -> torch.Tensor:
    """Map a (..., 3) bool mask over :data:`MODALITIES` to combination indices into :data:`COMBINATIONS`."""
    mask = torch.as_tensor(mask)
    if mask.shape[-1:] != (len(MODALITIES),):
        raise ValueError(f"mask must have last dimension {len(MODALITIES)} over {MODALITIES}, got shape {tuple(mask.shape)}")
    return _CODE_TO_INDEX.to(mask.device)[_code(mask.bool())]


class MCLA(nn.Module):
    """Linear layer plus a shared LoRA and one LoRA per modality combination (:data:`COMBINATIONS`)."""

    def __init__(self, in_dim: int, out_dim: int, rank: int = 4, dropout: float = 0.1, bias: bool = True) -> None:
        super().__init__()
        if rank < 0:
            raise ValueError(f"MCLA rank must be >= 0 (0 = plain linear layer), got {rank}")
        self.in_dim, self.out_dim, self.rank = in_dim, out_dim, rank
        self.base = nn.Linear(in_dim, out_dim, bias=bias)
        if rank > 0:
            def lora() -> LowRankExpert:
                return LowRankExpert(in_dim, rank, out_dim, kernel_size=1, init="lora", dropout=dropout)

            self.shared: LowRankExpert | None = lora()
            self.combos: nn.ModuleList | None = nn.ModuleList(lora() for _ in COMBINATIONS)
        else:
            self.shared, self.combos = None, None

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> {self.out_dim}, rank={self.rank}, combinations={len(COMBINATIONS) if self.rank else 0}"

    def shared_path(self, x: torch.Tensor) -> torch.Tensor:
        """``W x + shared(x)``: the part common to all combinations."""
        out = self.base(x)
        return out if self.shared is None else out + self.shared(x)

    def specific_path(self, x: torch.Tensor, combination: int | torch.Tensor) -> torch.Tensor:
        """The combination LoRA's output; ``combination`` is one index or a (B,) tensor (x's first dim is B)."""
        if self.combos is None:
            return x.new_zeros(*x.shape[:-1], self.out_dim)
        if isinstance(combination, int) or (torch.is_tensor(combination) and combination.ndim == 0):
            index = int(combination)
            if not 0 <= index < len(COMBINATIONS):
                raise ValueError(f"combination index must be in [0, {len(COMBINATIONS)}), got {index}")
            return self.combos[index](x)
        if combination.shape != x.shape[:1]:
            raise ValueError(f"per-sample combinations must have shape ({x.shape[0]},), got {tuple(combination.shape)}")
        out = x.new_zeros(*x.shape[:-1], self.out_dim)
        for index in torch.unique(combination).tolist():
            rows = combination == index
            out[rows] = self.combos[index](x[rows])
        return out

    def forward(self, x: torch.Tensor, combination: int | torch.Tensor) -> torch.Tensor:
        return self.shared_path(x) + self.specific_path(x, combination)
