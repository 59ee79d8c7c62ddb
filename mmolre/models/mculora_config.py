"""The configuration of MCULoRA: model size and the form of its block (defaults: the official block, see
:mod:`mmolre.models.mculora_block`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmolre.config import StrictConfig

RESIDUALS: tuple[str, ...] = ("official", "sequential")
"""``MCULoRAConfig.residual``: ``official`` is ``x + a + mlp(a)`` with ``a = attn(x)``; ``sequential`` (our earlier
block) is ``x' = x + drop(a)``, then ``x' + drop(mlp(x'))``."""


@dataclass
class MCULoRAConfig(StrictConfig):
    """Model size (official: hidden 256, depth 4, 2 heads, dropout 0.5, rank 4, MLP rank 8; defaults are quick) and
    the block's form (defaults: the official block; see :mod:`mmolre.models.mculora_block`).

    - ``pre_norm``: LayerNorm before attention and before the MLP. Official: none (``Attention.forward``,
      ``Attention_softmoe.py`` lines 146-167 at b5d07be, ``Attention_group.py`` lines 147-168 at HEAD).
    - ``attention_projection``: ``nn.MultiheadAttention``, whose output projection follows attention. Official: the
      heads' outputs are used directly (``x_out = (attn @ v)...``, line 163 at b5d07be, 164 at HEAD).
    - ``attention_dropout``: dropout on the attention weights (official ``--attn_drop_rate=0.0`` in
      ``run_MCULoRA_*.sh``).
    - ``fusion_norm``: a LayerNorm per modality before the fusion layer. Official: ``x_joint = torch.cat([x_a, x_t,
      x_v])`` without one (``MCULoRA/MCULoRAencoder.py`` line 167 at b5d07be, 315 at HEAD).
    - ``residual``: ``official`` (``x_out + x_lora`` in ``Attention.forward``, lines 164-165 at b5d07be, plus
      ``x = x + x_res`` in ``Block.forward``, lines 196-197) or ``sequential`` (:data:`RESIDUALS`).
    """

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
    pre_norm: bool = False  # LayerNorm before attention and MLP (our earlier block); official: none
    attention_projection: bool = False  # nn.MultiheadAttention with output projection (ours); official: none
    attention_dropout: float = 0.0  # dropout on attention weights (official 0.0; our earlier block: = dropout)
    fusion_norm: bool = False  # LayerNorm per modality before fusion (ours); official: none
    residual: Literal["official", "sequential"] = "official"  # x + a + mlp(a) | x' = x + a, x' + mlp(x')

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.depth < 0 or self.heads < 1 or self.mlp_ratio < 1:
            raise ValueError(f"MCULoRAConfig: hidden, heads, mlp_ratio must be >= 1 and depth >= 0, got {self}")
        if self.hidden % self.heads:
            raise ValueError(f"MCULoRAConfig: hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if self.rank < 0 or self.mlp_rank < 0 or (self.rank == 0) != (self.mlp_rank == 0):
            raise ValueError(
                f"MCULoRAConfig: rank and mlp_rank must both be 0 (plain backbone) or both >= 1, "
                f"got {self.rank}, {self.mlp_rank}"
            )
        for name in ("alpha", "mlp_alpha"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"MCULoRAConfig: {name} must be > 0 or None, got {getattr(self, name)}")
        if self.residual not in RESIDUALS:
            raise ValueError(f"MCULoRAConfig: residual must be one of {RESIDUALS}, got {self.residual!r}")
        for name in ("dropout", "lora_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"MCULoRAConfig: {name} must be in [0, 1), got {getattr(self, name)}")
