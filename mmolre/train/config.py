"""Optimisation settings, the standard seeds and seeding."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from mmolre.config import StrictConfig

SEEDS: tuple[int, ...] = (1111, 1112, 1113, 1114, 1115)
"""The seeds every reported mean ± std is taken over."""


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) and make cuDNN deterministic."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@dataclass
class TrainConfig(StrictConfig):
    """Optimisation settings; ``patience = 0`` disables early stopping, ``grad_clip = 0`` disables clipping."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr: float = 3e-5  # learning rate of a fine-tuned text encoder's weights
    lr_schedule: str = "constant"  # constant | linear (warm-up, then linear decay to zero)
    warmup_ratio: float = 0.1  # share of all steps spent warming up (linear schedule)
    weight_decay: float = 1e-4  # AdamW decay of weight matrices (never of norms and biases)
    patience: int = 5
    sentiment_weight: float = 1.0
    emotion_weight: float = 1.0
    balance_emotions: bool = True  # BCE pos_weight = negatives / positives per emotion (train split)
    aux_weight: float = 1.0  # weight of the model's auxiliary loss, which already includes its own coefficient
    grad_clip: float = 1.0
    eval_batch_size: int = 512
    device: str = "auto"
    num_threads: int = 0  # torch CPU threads for the run (0: leave torch's setting)
    mixed_precision: bool = True  # autocast on CUDA (bfloat16, or float16 with loss scaling); ignored on CPU
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(
                "TrainConfig: epochs, batch_size and eval_batch_size must be >= 1, "
                f"got {self.epochs}, {self.batch_size}, {self.eval_batch_size}"
            )
        if self.lr <= 0 or self.encoder_lr <= 0:
            raise ValueError(f"TrainConfig: lr and encoder_lr must be > 0, got {self.lr}, {self.encoder_lr}")
        if self.lr_schedule not in ("constant", "linear") or not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(
                "TrainConfig: lr_schedule must be 'constant' or 'linear' and warmup_ratio in [0, 1), "
                f"got {self.lr_schedule!r}, {self.warmup_ratio}"
            )
        for name in (
            "weight_decay",
            "patience",
            "num_threads",
            "sentiment_weight",
            "emotion_weight",
            "aux_weight",
            "grad_clip",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig: {name} must be >= 0, got {getattr(self, name)}")
