"""The input path every model of the MMoLRE family shares: [fine-tuned text encoder] -> modality features with the
missing modalities zeroed, the presence mask and the real positions, and one projection per modality."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmolre.data.text_encoder import TextInput
from mmolre.modalities import MODALITIES, zero_missing
from mmolre.models.base import AffectModel
from mmolre.models.mmolre_config import ModelConfig
from mmolre.nn.text_encoder import TextEncoder


class EncodedInputs(AffectModel):
    """The input path every MMoLRE-family model shares: [fine-tuned text encoder] -> the modality features with
    missing modalities zeroed, the presence mask and the real positions (see :meth:`_inputs`), plus one linear
    projection per modality to width ``config.dim``. With ``text_input`` the model holds the trainable top layers
    of the text encoder."""

    def __init__(
        self,
        name: str,
        dims: dict[str, int],
        tasks: tuple[str, ...],
        config: ModelConfig,
        text_input: TextInput | None = None,
    ) -> None:
        super().__init__()
        self.name, self.dims, self.tasks, self.config = name, dict(dims), tasks, config
        self.modalities = tuple(m for m in MODALITIES if m in dims)
        self.columns = [MODALITIES.index(m) for m in self.modalities]
        self.text_encoder: TextEncoder | None = None
        if text_input is not None and "text" in self.modalities:
            self.text_encoder = TextEncoder(
                text_input, config.encoder_lora_rank, config.encoder_lora_alpha, config.dropout
            )
        self.projections = nn.ModuleDict({m: nn.Linear(dims[m], config.dim) for m in self.modalities})

    def _inputs(
        self, batch: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor | None]]:
        missing = [m for m in self.modalities if m not in batch]
        if missing:
            raise ValueError(
                f"{self.name}: batch lacks modality feature(s) {missing}; the model was built for {self.modalities}"
            )
        first = batch[self.modalities[0]]
        size = first.shape[0] if first.ndim >= 2 else -1
        positions = {m: batch.get(f"{m}_mask") for m in self.modalities}
        raw = {}
        for m in self.modalities:
            x = batch[m]
            if m == "text" and self.text_encoder is not None:
                if positions[m] is None:
                    positions[m] = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
                x = self.text_encoder(x, positions[m])
            if x.is_floating_point() and x.dtype != self.projections[m].weight.dtype:
                x = x.to(self.projections[m].weight.dtype)  # float16 cached token states
            if x.ndim != 3 or x.shape[0] != size or x.shape[-1] != self.dims[m]:
                raise ValueError(
                    f"{self.name}: batch[{m!r}] must have shape (B={size}, L, {self.dims[m]}), got {tuple(x.shape)}"
                )
            if positions[m] is not None and positions[m].shape != x.shape[:2]:
                raise ValueError(
                    f"{self.name}: batch['{m}_mask'] must have shape {tuple(x.shape[:2])}, "
                    f"got {tuple(positions[m].shape)}"
                )
            raw[m] = x
        mask = batch.get("mask")
        if mask is None:
            mask = torch.ones(size, len(MODALITIES), dtype=torch.bool, device=first.device)
        if mask.shape != (size, len(MODALITIES)):
            raise ValueError(
                f"{self.name}: batch['mask'] must have shape ({size}, {len(MODALITIES)}), got {tuple(mask.shape)}"
            )
        return zero_missing(raw, mask), mask.bool()[:, self.columns], positions
