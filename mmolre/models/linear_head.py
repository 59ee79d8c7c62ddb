"""The plain "encoder + linear head" baseline (registered name ``linear_head``): no experts, no mixture."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmolre.data.text_encoder import TextInput
from mmolre.models.base import ModelOutput
from mmolre.models.inputs import EncodedInputs
from mmolre.models.mmolre_config import ModelConfig
from mmolre.nn.sequence import masked_mean
from mmolre.tasks import TASK_OUTPUTS


class LinearHeadModel(EncodedInputs):
    """``linear_head``: the plain "encoder + linear head" baseline. The shared input path, each modality projected
    and mean-pooled over its real steps, the mean over the present modalities (a zero vector when none is), dropout,
    then one linear map per task: no experts, no mixture, no fusion weights."""

    def __init__(
        self,
        name: str,
        dims: dict[str, int],
        tasks: tuple[str, ...],
        config: ModelConfig,
        text_input: TextInput | None = None,
    ) -> None:
        super().__init__(name, dims, tasks, config, text_input)
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(config.dim, TASK_OUTPUTS[t]) for t in tasks})

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        features, present, positions = self._inputs(batch)
        pooled = torch.stack(
            [masked_mean(self.projections[m](features[m]), positions[m]) for m in self.modalities], dim=1
        )
        weights = present.to(pooled.dtype).unsqueeze(-1)
        fused = self.dropout((pooled * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0))
        predictions = {}
        for task in self.tasks:
            out = self.heads[task](fused)
            predictions[task] = out.squeeze(-1) if TASK_OUTPUTS[task] == 1 else out
        return ModelOutput(predictions, fused.new_zeros(()), {})
