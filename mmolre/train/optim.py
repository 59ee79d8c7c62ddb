"""Optimiser, learning-rate schedule and mixed precision for the training loop.

AdamW with parameter groups by role: the weights of a fine-tuned text encoder train at ``encoder_lr`` (order 1e-5
to 5e-5), the LoRA adapters of a text encoder (its trainable ``lora_`` parameters) at ``lora_lr`` (order 1e-4 to
1e-3: an adapter starts at zero and must move as far as a head does), everything else at ``lr`` (order 1e-3); norms
and biases (every parameter with fewer than two dimensions) get no weight decay. ``lr_schedule = "linear"`` warms up
linearly over the first ``warmup_ratio`` of all steps, then decays linearly to zero; ``"constant"`` keeps the
rates. ``precision = "auto"`` runs forward passes on CUDA in bfloat16 (or float16 with loss scaling where bfloat16
is not supported) and in float32 on CPU; ``"bf16"`` autocasts to bfloat16 on any device; ``"fp32"`` never autocasts;
``"fp64"`` never autocasts either, the training loop having moved the model to float64.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from mmolre.train.config import TrainConfig

ROLES: tuple[str, ...] = ("encoder", "lora", "rest")
"""Parameter roles, each with its own learning rate (``encoder_lr``, ``lora_lr``, ``lr``)."""


def parameter_role(name: str, parameter: nn.Parameter, encoder_ids: set[int]) -> str:
    """``lora`` for a text encoder's adapter, ``encoder`` for its other weights, ``rest`` for everything else."""
    if id(parameter) not in encoder_ids:
        return "rest"
    return "lora" if "lora_" in name else "encoder"


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, object]]:
    """AdamW groups: role (see :data:`ROLES`) x (decay | no decay), trainable parameters only, empty groups dropped;
    each group carries its ``role`` (for reports and tests)."""
    encoder = getattr(model, "text_encoder", None)
    encoder_ids = {id(p) for p in encoder.parameters()} if encoder is not None else set()
    rates = {"encoder": config.encoder_lr, "lora": config.lora_lr, "rest": config.lr}
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            key = (parameter_role(name, parameter, encoder_ids), parameter.ndim >= 2)
            groups.setdefault(key, []).append(parameter)
    return [
        {
            "params": params,
            "role": role,
            "lr": rates[role],
            "weight_decay": config.weight_decay if decay else 0.0,
        }
        for (role, decay), params in sorted(groups.items(), key=lambda item: (ROLES.index(item[0][0]), item[0][1]))
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
    """Autocast and loss scaling for one run (see the module docstring for ``TrainConfig.precision``)."""

    def __init__(self, device: torch.device, config: TrainConfig) -> None:
        if config.precision == "bf16":
            self.dtype: torch.dtype | None = torch.bfloat16
        elif config.precision == "auto" and device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.dtype = None
        self.device = device
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)

    def autocast(self) -> AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else nullcontext()
