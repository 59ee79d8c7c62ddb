"""Optimiser, learning-rate schedule and mixed precision for the training loop.

AdamW with parameter groups: the weights of a fine-tuned text encoder train at ``encoder_lr`` (order 1e-5 to 5e-5),
everything else at ``lr`` (order 1e-3); norms and biases (every parameter with fewer than two dimensions) get no
weight decay. ``lr_schedule = "linear"`` warms up linearly over the first ``warmup_ratio`` of all steps, then
decays linearly to zero; ``"constant"`` keeps the rates. On CUDA, ``mixed_precision`` runs forward passes in
bfloat16 (or float16 with loss scaling where bfloat16 is not supported).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from mmolre.train.config import TrainConfig


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, object]]:
    """AdamW groups: (encoder | rest) x (decay | no decay), trainable parameters only, empty groups dropped."""
    encoder = getattr(model, "text_encoder", None)
    encoder_ids = {id(p) for p in encoder.parameters()} if encoder is not None else set()
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for parameter in model.parameters():
        if parameter.requires_grad:
            groups.setdefault((id(parameter) in encoder_ids, parameter.ndim >= 2), []).append(parameter)
    return [
        {
            "params": params,
            "lr": config.encoder_lr if in_encoder else config.lr,
            "weight_decay": config.weight_decay if decay else 0.0,
        }
        for (in_encoder, decay), params in sorted(groups.items())
    ]


def build_optimizer(
    model: nn.Module, config: TrainConfig, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over :func:`parameter_groups` and the schedule over ``steps`` optimiser steps in all."""
    optimizer = torch.optim.AdamW(parameter_groups(model, config))
    warmup = max(1, round(config.warmup_ratio * steps)) if config.lr_schedule == "linear" else 0

    def factor(step: int) -> float:
        if config.lr_schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Precision:
    """Autocast and loss scaling for one run: active only on CUDA with ``mixed_precision``."""

    def __init__(self, device: torch.device, config: TrainConfig) -> None:
        self.enabled = device.type == "cuda" and config.mixed_precision
        self.dtype = torch.bfloat16 if self.enabled and torch.cuda.is_bf16_supported() else torch.float16
        self.device = device
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self) -> AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.enabled else nullcontext()
