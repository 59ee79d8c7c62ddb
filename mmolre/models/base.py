"""The model contract every registered model follows, and helpers that rely on it.

A model is an :class:`AffectModel`: an ``nn.Module`` with a ``name``, the ``tasks`` it predicts, the
``modalities`` it reads and its ``config``, whose ``forward(batch)`` returns a :class:`ModelOutput`. A batch is
a mapping with one ``(B, L, d_m)`` tensor per modality, the ``(B, 3)`` presence ``mask`` and, for training, the
labels (``sentiment``, ``emotions``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class ModelOutput:
    """What a forward pass returns.

    - ``predictions``: per task, ``sentiment`` (B,) and/or ``emotion`` (B, 6) logits;
    - ``aux_loss``: a scalar added to the training loss (load balancing; zero when the model has none);
    - ``routing``: mean routing weight per shared expert in this forward, keyed by router
      (e.g. ``"text/block1/sentiment"``); empty for models without routers.
    """

    predictions: dict[str, torch.Tensor]
    aux_loss: torch.Tensor
    routing: dict[str, torch.Tensor] = field(default_factory=dict)


class AffectModel(nn.Module):
    """Base class of every registered model (see :mod:`mmolre.models.registry`)."""

    name: str
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    config: object

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode and no gradients inside the block; the model's previous mode is restored after it."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of a batch moved to ``device``."""
    return {key: value.to(device) for key, value in batch.items()}
