"""MCLA: a linear layer with a shared LoRA and one LoRA per modality combination (MCULoRA, arXiv 2507.11202).

``MCLA(x, c) = W x + shared(x) + adapters[c](x)`` where every adapter is a :class:`mmolre.nn.lora.LoRA`
(A Kaiming, B zero), so a fresh MCLA equals its base linear layer. Adapters are keyed by combination name
(:data:`mmolre.modalities.COMBINATIONS`: ``"none"``, ``"a"``, ``"t"``, ..., ``"atv"``). ``rank=0`` builds the plain
linear layer without adapters (the "no MCLA" backbone).
"""

from __future__ import annotations

import torch
from torch import nn

from mmolre.modalities import COMBINATIONS
from mmolre.nn.lora import LoRA


class MCLA(nn.Module):
    """Linear layer plus a shared LoRA and one LoRA per modality combination."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        rank: int = 4,
        dropout: float = 0.1,
        bias: bool = True,
        alpha: float | None = None,
    ) -> None:
        super().__init__()
        if rank < 0:
            raise ValueError(f"MCLA rank must be >= 0 (0 = plain linear layer), got {rank}")
        self.in_dim, self.out_dim, self.rank = in_dim, out_dim, rank
        self.base = nn.Linear(in_dim, out_dim, bias=bias)
        self.shared: LoRA | None = None
        self.adapters = nn.ModuleDict()
        if rank > 0:
            self.shared = LoRA(in_dim, out_dim, rank, alpha, dropout)
            self.adapters.update({name: LoRA(in_dim, out_dim, rank, alpha, dropout) for name in COMBINATIONS})

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> {self.out_dim}, rank={self.rank}, combinations={len(self.adapters)}"

    def shared_path(self, x: torch.Tensor) -> torch.Tensor:
        """``W x + shared(x)``: the part common to all combinations."""
        out = self.base(x)
        return out if self.shared is None else out + self.shared(x)

    def specific_path(self, x: torch.Tensor, combination: int | torch.Tensor) -> torch.Tensor:
        """The combination adapter's output; ``combination`` indexes :data:`COMBINATIONS`, one index for the
        whole batch or a (B,) tensor (x's first dim is B)."""
        if not self.adapters:
            return x.new_zeros(*x.shape[:-1], self.out_dim)
        if isinstance(combination, int) or (torch.is_tensor(combination) and combination.ndim == 0):
            index = int(combination)
            if not 0 <= index < len(COMBINATIONS):
                raise ValueError(f"combination index must be in [0, {len(COMBINATIONS)}), got {index}")
            return self.adapters[COMBINATIONS[index]](x)
        if combination.shape != x.shape[:1]:
            raise ValueError(f"per-sample combinations must have shape ({x.shape[0]},), got {tuple(combination.shape)}")
        out = x.new_zeros(*x.shape[:-1], self.out_dim)
        for index in torch.unique(combination).tolist():
            rows = combination == index
            out[rows] = self.adapters[COMBINATIONS[index]](x[rows])
        return out

    def forward(self, x: torch.Tensor, combination: int | torch.Tensor) -> torch.Tensor:
        return self.shared_path(x) + self.specific_path(x, combination)
