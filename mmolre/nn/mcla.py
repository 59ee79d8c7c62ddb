"""MCLA: a linear layer with a shared LoRA and one LoRA per modality combination (MCULoRA, arXiv 2507.11202).

Every adapter is a :class:`mmolre.nn.lora.LoRA` (A Kaiming, B zero), so a fresh MCLA equals its base linear
layer. Adapters are keyed by combination name (:data:`mmolre.modalities.CONDITIONS` by default: the seven
non-empty combinations; the empty combination gets no adapter, since no sampler ever trains it). ``rank=0``
builds the plain linear layer without adapters (the "no MCLA" backbone).

Two ways to use the layer:

- decoupled streams (the published design, :meth:`MCLA.forward`): the layer returns the main output
  ``W x + b + shared(x)`` and, separately, one low-rank term ``B_k A_k s_k`` per combination ``k``, where ``s_k``
  is combination ``k``'s own stream input (``x`` itself at the first layer). The model decides how streams are
  carried from layer to layer and where they meet the main output (see :mod:`mmolre.models.mculora`);
- inline (the ``mcla_inline`` ablation, :meth:`MCLA.inline`): ``W x + b + shared(x) + B_c A_c x`` with the
  sample's combination ``c`` switched in at every layer.

As in the official code, LoRA dropout acts on the shared adapter's input; stream adapters see their stream
undropped, except when the layer reads ``x`` itself (``stream_dropout``, the first layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn

from mmolre.modalities import COMBINATIONS, CONDITIONS
from mmolre.nn.lora import LoRA


class MCLAOutput(NamedTuple):
    """One MCLA forward: main output ``W x + b + shared(x)``, its base part ``W x + b`` and the low-rank term
    ``B_k A_k s_k`` of every combination stream computed."""

    output: torch.Tensor
    base: torch.Tensor
    streams: dict[str, torch.Tensor]


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
        combinations: Sequence[str] = CONDITIONS,
        stream_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if rank < 0:
            raise ValueError(f"MCLA rank must be >= 0 (0 = plain linear layer), got {rank}")
        unknown = [c for c in combinations if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"MCLA combinations must be among {CONDITIONS}, got {unknown}")
        self.in_dim, self.out_dim, self.rank = in_dim, out_dim, rank
        self.base = nn.Linear(in_dim, out_dim, bias=bias)
        self.shared: LoRA | None = None
        self.adapters = nn.ModuleDict()
        if rank > 0:
            self.shared = LoRA(in_dim, out_dim, rank, alpha, dropout)
            self.adapters.update({c: LoRA(in_dim, out_dim, rank, alpha, stream_dropout) for c in combinations})

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> {self.out_dim}, rank={self.rank}, combinations={tuple(self.adapters)}"

    @property
    def combinations(self) -> tuple[str, ...]:
        """Names of the combinations that have an adapter."""
        return tuple(self.adapters)

    def shared_path(self, x: torch.Tensor) -> torch.Tensor:
        """``W x + b + shared(x)``: the part common to all combinations."""
        out = self.base(x)
        return out if self.shared is None else out + self.shared(x)

    def forward(
        self,
        x: torch.Tensor,
        streams: Mapping[str, torch.Tensor] | None = None,
        combinations: Sequence[str] | None = None,
    ) -> MCLAOutput:
        """Main output and per-combination low-rank terms.

        ``streams`` maps combination -> that combination's input to this layer (same shape as ``x``); without it
        every combination of ``combinations`` (default: all adapters) reads ``x`` (a first layer).
        """
        base = self.base(x)
        output = base if self.shared is None else base + self.shared(x)
        if streams is None:
            streams = {c: x for c in (self.combinations if combinations is None else combinations)}
        missing = [c for c in streams if c not in self.adapters]
        if missing:
            raise ValueError(f"MCLA has no adapter for combination(s) {missing}; it has {self.combinations}")
        return MCLAOutput(output, base, {c: self.adapters[c](s) for c, s in streams.items()})

    def specific_path(self, x: torch.Tensor, combination: int | torch.Tensor) -> torch.Tensor:
        """The combination adapter's output on ``x``; ``combination`` indexes :data:`COMBINATIONS`, one index for
        the whole batch or a (B,) tensor. A combination without adapter (``"none"``) contributes zero."""
        out = x.new_zeros(*x.shape[:-1], self.out_dim)
        if torch.is_tensor(combination) and combination.ndim > 0:
            if combination.shape != x.shape[:1]:
                raise ValueError(
                    f"per-sample combinations must have shape ({x.shape[0]},), got {tuple(combination.shape)}"
                )
            for index in torch.unique(combination).tolist():
                if COMBINATIONS[index] in self.adapters:
                    rows = combination == index
                    out[rows] = self.adapters[COMBINATIONS[index]](x[rows])
            return out
        index = int(combination)
        if not 0 <= index < len(COMBINATIONS):
            raise ValueError(f"combination index must be in [0, {len(COMBINATIONS)}), got {index}")
        return self.adapters[COMBINATIONS[index]](x) if COMBINATIONS[index] in self.adapters else out

    def inline(self, x: torch.Tensor, combination: int | torch.Tensor) -> torch.Tensor:
        """``W x + b + shared(x) + B_c A_c x`` (the per-layer switch of the ``mcla_inline`` ablation)."""
        return self.shared_path(x) + self.specific_path(x, combination)
