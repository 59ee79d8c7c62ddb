"""MCULoRA's encoder block over one modality's time axis, its MLP layers MCLA.

The block, by default as in the official code (``MCULoRA/modules/Attention_softmoe.py`` at b5d07be, April 2025, and
``MCULoRA/modules/Attention_group.py`` at HEAD, class ``Attention`` and ``Block``): ``a = attn(x)`` (q/k/v, no output
projection, :class:`~mmolre.nn.attention.QKVAttention`), then ``x + a + mlp(a)``, with no LayerNorm anywhere and
the modality outputs concatenated for fusion without a norm. Our earlier block differs in four places, each a
switch of :class:`MCULoRAConfig` (the reduced CPU profiles set all four to keep their recorded results):
``pre_norm`` (LayerNorm before attention and before the MLP), ``attention_projection`` (``nn.MultiheadAttention``
with its output projection), ``fusion_norm`` (a LayerNorm per modality before fusion) and ``residual =
"sequential"`` (``x' = x + drop(a)``, then ``x' + drop(mlp(x'))``); ``attention_dropout`` is the dropout on the
attention weights (official ``--attn_drop_rate 0.0``; our earlier block used ``dropout``).
"""

from __future__ import annotations

import torch
from torch import nn

from mmolre.models.mculora_config import MCULoRAConfig
from mmolre.nn.attention import QKVAttention
from mmolre.nn.mcla import MCLA, MCLAOutput
from mmolre.nn.sequence import key_padding_mask

Streams = dict[str, torch.Tensor]
"""Combination name -> that combination's stream (same shape as the main activations)."""


def carry(layer: MCLAOutput) -> Streams:
    """Streams leaving an MCLA layer: its base output on the main input plus each combination's low-rank term."""
    return {c: layer.base + term for c, term in layer.streams.items()}


class MCLABlock(nn.Module):
    """One block over a modality's time axis whose MLP layers are MCLA; streams pass through fc1 and fc2 only. Its
    form follows the config's switches (:class:`MCULoRAConfig`)."""

    def __init__(self, config: MCULoRAConfig, combinations: tuple[str, ...]) -> None:
        super().__init__()
        width, hidden = config.hidden * config.mlp_ratio, config.hidden
        self.official = config.residual == "official"
        self.norm1 = nn.LayerNorm(hidden) if config.pre_norm else nn.Identity()
        if config.attention_projection:
            self.attention: nn.Module = nn.MultiheadAttention(
                hidden, config.heads, dropout=config.attention_dropout, batch_first=True
            )
        else:
            self.attention = QKVAttention(hidden, config.heads, config.attention_dropout)
        self.norm2 = nn.LayerNorm(hidden) if config.pre_norm else nn.Identity()
        rank, dropout, alpha = config.mlp_rank, config.lora_dropout, config.mlp_alpha
        self.fc1 = MCLA(hidden, width, rank, dropout, alpha=alpha, combinations=combinations)
        self.fc2 = MCLA(width, hidden, rank, dropout, alpha=alpha, combinations=combinations)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(config.dropout)

    def _attend(self, x: torch.Tensor, steps: torch.Tensor | None) -> torch.Tensor:
        h = self.norm1(x)
        if isinstance(self.attention, QKVAttention):
            return self.attention(h, steps)
        return self.attention(h, h, h, key_padding_mask=key_padding_mask(steps), need_weights=False)[0]

    def _residual_and_mlp_input(self, x: torch.Tensor, steps: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """What the MLP's output is added to and the MLP's input: ``(x + a, a)`` (official) or ``(x', x')`` with
        ``x' = x + drop(a)`` (sequential); the MLP input is normalised with ``pre_norm``."""
        attended = self._attend(x, steps)
        if self.official:
            return x + attended, self.norm2(attended)
        x = x + self.dropout(attended)
        return x, self.norm2(x)

    def forward(self, x: torch.Tensor, streams: Streams, steps: torch.Tensor | None) -> tuple[torch.Tensor, Streams]:
        """Main path and the streams (each stream: fc1 then fc2, no activation in between); ``steps`` (B, L)
        marks the real time steps (None: all)."""
        residual, h = self._residual_and_mlp_input(x, steps)
        first = self.fc1(h, streams)
        second = self.fc2(self.dropout(self.activation(first.output)), carry(first))
        return residual + self.dropout(second.output), carry(second)

    def inline(self, x: torch.Tensor, combination: torch.Tensor, steps: torch.Tensor | None) -> torch.Tensor:
        """The block with the sample's combination adapter switched into both MLP layers."""
        residual, h = self._residual_and_mlp_input(x, steps)
        h = self.dropout(self.activation(self.fc1.inline(h, combination)))
        return residual + self.dropout(self.fc2.inline(h, combination))
