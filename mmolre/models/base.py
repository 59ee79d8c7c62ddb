"""The model contract every registered model follows, and helpers that rely on it.

A model is an :class:`AffectModel`: an ``nn.Module`` with a ``name``, the ``tasks`` it predicts, the
``modalities`` it reads and its ``config``, whose ``forward(batch)`` returns a :class:`ModelOutput`. A batch is
a mapping with one ``(B, L, d_m)`` tensor per modality, the ``(B, 3)`` presence ``mask`` and, for training, the
labels (``sentiment``, ``emotions``, ``emotion4``; see :data:`mmolre.tasks.TASK_LABELS`).

Context batches (``load_dataset(..., context=True)``, :mod:`mmolre.data.context`) also carry ``positions``, a
``(B, L)`` bool mask of real utterances: each sample is a video/dialogue and ``L`` its utterance axis. A model given
such a batch must predict per position, ``sentiment`` (B, L), ``emotion`` (B, L, 6), ``emotion4`` (B, L, 4) (or the
same flattened to ``B * L`` rows), and must not let padded positions change the outputs at real ones (use
``positions`` as the attention key mask). Losses and metrics keep only the valid positions; a model that pools over
``L`` instead gets a ValueError from the evaluation code.
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

    - ``predictions``: per task, ``sentiment`` (B,), ``emotion`` (B, 6) logits and/or ``emotion4`` (B, 4) logits;
      for a context batch (``batch["positions"]``, (B, L)) one per position: (B, L), (B, L, 6), (B, L, 4);
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
    supports_context = False  # whether it predicts per position of a context batch (see the module docstring)

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


def to_model(batch: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor of a batch on the model's device. A float64 model (``TrainConfig.precision = "fp64"``) also gets
    float64 features and labels; otherwise floating-point tensors keep their type (cached float16 text states travel
    at half the size) and the model's input layers cast them. A model is float64 as a whole (the training loop and
    :func:`adopt_weight_type` move all of it), so its first parameter tells; no scan of every parameter per batch."""
    first = next(model.parameters(), None)
    wide = first is not None and first.dtype == torch.float64
    device = model_device(model)
    return {
        key: value.to(device, torch.float64) if wide and value.is_floating_point() else value.to(device)
        for key, value in batch.items()
    }


def adopt_weight_type(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Move ``model`` to the floating-point type of the weights about to be loaded into it (a run trained with
    ``precision = "fp64"`` saves float64 weights, which ``load_state_dict`` would silently round to float32)."""
    dtype = next((value.dtype for value in state.values() if value.is_floating_point()), None)
    if dtype is not None:
        model.to(dtype)
