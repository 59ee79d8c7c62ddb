"""The MCULoRA model: one network for every modality combination, adapted per combination by MCLA layers.

Architecture (arXiv 2507.11202; choices the paper leaves open are marked *ours*):

1. Per present modality an MCLA input projection ``d_m -> hidden`` and dropout.
2. Per modality a small pre-norm transformer over that modality's own time axis (*ours*: each modality is
   encoded separately, so a missing modality needs no attention mask; with utterance-level features, L = 1,
   attention is trivial and the block reduces to its MLP); the MLP's two layers are MCLA with rank
   ``mlp_rank``. The sequence is mean-pooled and a missing modality's vector is zeroed.
3. Fusion: the concatenated modality vectors ``u`` go through an MCLA, ReLU and dropout, plus ``u`` (residual).
4. One MCLA head per task (sentiment scalar, six emotion logits).

The combination used by every MCLA is read from ``batch["mask"]`` per sample, so training with a drawn
combination and evaluation under any test condition need no extra argument. ``rank = mlp_rank = 0`` gives the
same backbone with plain linear layers (the "no MCLA" baseline).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from mmolre.config import StrictConfig
from mmolre.modalities import MODALITIES, combination_index, zero_missing
from mmolre.models.base import AffectModel, ModelOutput
from mmolre.nn.mcla import MCLA
from mmolre.tasks import TASK_OUTPUTS, check_tasks


@dataclass
class MCULoRAConfig(StrictConfig):
    """Model size (paper: hidden 256, depth 4, 2 heads, dropout 0.5, rank 4, MLP rank 8; defaults are quick)."""

    hidden: int = 32
    depth: int = 1
    heads: int = 2
    dropout: float = 0.2
    rank: int = 4
    mlp_rank: int = 8
    mlp_ratio: int = 1
    lora_dropout: float = 0.1
    alpha: float | None = None  # LoRA alpha of the rank-`rank` adapters (scaling alpha / rank; None: alpha = rank)
    mlp_alpha: float | None = None  # LoRA alpha of the MLP adapters (scaling mlp_alpha / mlp_rank; None: = mlp_rank)

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.depth < 0 or self.heads < 1 or self.mlp_ratio < 1:
            raise ValueError(f"MCULoRAConfig: hidden, heads, mlp_ratio must be >= 1 and depth >= 0, got {self}")
        if self.hidden % self.heads:
            raise ValueError(f"MCULoRAConfig: hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if self.rank < 0 or self.mlp_rank < 0:
            raise ValueError(f"MCULoRAConfig: rank and mlp_rank must be >= 0, got {self.rank}, {self.mlp_rank}")
        for name in ("alpha", "mlp_alpha"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"MCULoRAConfig: {name} must be > 0 or None, got {getattr(self, name)}")
        for name in ("dropout", "lora_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"MCULoRAConfig: {name} must be in [0, 1), got {getattr(self, name)}")


class MCLABlock(nn.Module):
    """Pre-norm transformer block whose MLP layers are MCLA."""

    def __init__(self, config: MCULoRAConfig) -> None:
        super().__init__()
        width = config.hidden * config.mlp_ratio
        self.norm1 = nn.LayerNorm(config.hidden)
        self.attention = nn.MultiheadAttention(config.hidden, config.heads, dropout=config.dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(config.hidden)
        self.fc1 = MCLA(config.hidden, width, config.mlp_rank, config.lora_dropout, alpha=config.mlp_alpha)
        self.fc2 = MCLA(width, config.hidden, config.mlp_rank, config.lora_dropout, alpha=config.mlp_alpha)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, combination: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.dropout(self.attention(h, h, h, need_weights=False)[0])
        h = self.dropout(self.activation(self.fc1(self.norm2(x), combination)))
        return x + self.dropout(self.fc2(h, combination))


class MCULoRA(AffectModel):
    """MCULoRA (see the module docstring); ``rank = mlp_rank = 0`` is the plain backbone without adapters."""

    def __init__(self, name: str, dims: Mapping[str, int], tasks: tuple[str, ...], config: MCULoRAConfig) -> None:
        super().__init__()
        self.name, self.config, self.tasks = name, config, check_tasks(tasks)
        self.modalities = tuple(m for m in MODALITIES if m in dims)
        self.dims = {m: int(dims[m]) for m in self.modalities}
        fused = config.hidden * len(self.modalities)

        def mcla(in_dim: int, out_dim: int) -> MCLA:
            return MCLA(in_dim, out_dim, config.rank, config.lora_dropout, alpha=config.alpha)

        self.projections = nn.ModuleDict({m: mcla(self.dims[m], config.hidden) for m in self.modalities})
        self.encoders = nn.ModuleDict(
            {m: nn.ModuleList(MCLABlock(config) for _ in range(config.depth)) for m in self.modalities}
        )
        self.norms = nn.ModuleDict({m: nn.LayerNorm(config.hidden) for m in self.modalities})
        self.fusion = mcla(fused, fused)
        self.heads = nn.ModuleDict({t: mcla(fused, TASK_OUTPUTS[t]) for t in self.tasks})
        self.dropout = nn.Dropout(config.dropout)

    def _joint(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenated pooled modality vectors ``u`` (B, M * hidden) and per-sample combination indices."""
        mask = batch["mask"].bool()
        combination = combination_index(mask)
        features = zero_missing({m: batch[m] for m in self.modalities}, mask)
        parts = []
        for m in self.modalities:
            present = mask[:, MODALITIES.index(m)]
            h = self.dropout(self.projections[m](features[m], combination))
            for block in self.encoders[m]:
                h = block(h, combination)
            parts.append(self.norms[m](h).mean(dim=1) * present[:, None].to(h.dtype))
        return torch.cat(parts, dim=-1), combination

    def representations(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fusion-layer outputs (B, M * hidden): ``shared`` (W u + shared LoRA) and ``specific`` (combination LoRA)."""
        joint, combination = self._joint(batch)
        return {
            "shared": self.fusion.shared_path(joint),
            "specific": self.fusion.specific_path(joint, combination),
            "combination": combination,
        }

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        joint, combination = self._joint(batch)
        hidden = joint + self.dropout(torch.relu(self.fusion(joint, combination)))
        predictions = {}
        for task in self.tasks:
            out = self.heads[task](hidden, combination)
            predictions[task] = out.reshape(-1) if task == "sentiment" else out
        return ModelOutput(predictions, hidden.new_zeros(()))
