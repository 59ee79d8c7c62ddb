"""Optimisation settings, the standard seeds and seeding."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from mmolre.config import StrictConfig
from mmolre.tasks import SENTIMENT_LOSSES

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp64")
"""``TrainConfig.precision``: ``bf16`` autocasts to bfloat16 on any device (CPU included), ``fp32`` never, ``fp64``
runs the model's forward and backward passes and losses in float64 (metrics are computed from its predictions rounded
to float32); slow, the quick default profile uses it so that its tables are the same on every CPU: in float32,
kernels that differ between instruction sets moved a prediction across a threshold."""
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
    """Optimisation settings; ``patience = 0`` disables early stopping, ``grad_clip = 0`` disables clipping.

    Model selection and early stopping use the valid split's *normalised* loss: each task's valid loss divided by
    the valid loss of that task's best constant predictor fitted on the train split (the train median sentiment for
    L1, the train mean for MSE; per emotion the logit that minimises the weighted BCE at the train prevalence; the
    train class frequencies for four-class CE), averaged over the tasks with the weights ``sentiment_weight`` /
    ``emotion_weight`` (1 for emotion4). 1.0 is "no better than a constant", so the tasks weigh comparably whatever
    their losses' scales; for a single task the criterion is its loss over a constant and selects the same epoch as
    the loss itself. ``sentiment_loss`` is one of :data:`mmolre.tasks.SENTIMENT_LOSSES`.
    """

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr: float = 3e-5  # learning rate of a fine-tuned text encoder's weights
    lora_lr: float = 1e-3  # learning rate of the LoRA adapters of a text encoder (encoder_lora_rank > 0)
    lr_schedule: str = "constant"  # constant | linear (warm-up, then linear decay to zero)
    warmup_ratio: float = 0.1  # share of all steps spent warming up (linear schedule)
    weight_decay: float = 1e-4  # AdamW decay of weight matrices (never of norms and biases)
    patience: int = 5
    sentiment_weight: float = 1.0
    sentiment_loss: Literal["l1", "mse"] = "l1"  # l1 (ours) | mse (official MCULoRA: masked MSE for MOSI / MOSEI)
    emotion_weight: float = 1.0
    balance_emotions: bool = True  # BCE pos_weight = negatives / positives per emotion (train split)
    aux_weight: float = 1.0  # weight of the model's auxiliary loss, which already includes its own coefficient
    grad_clip: float = 1.0
    eval_batch_size: int = 512
    device: str = "auto"
    num_threads: int = 0  # torch CPU threads for the run (0: leave torch's setting)
    precision: str = "auto"  # auto: CUDA autocast (bf16, else fp16 + loss scaling), fp32 on CPU | fp32 | bf16 | fp64
    bucket_by_length: bool = False  # train batches of rows of similar length (less padding; see MultimodalDataset)
    modality_dropout: float = 0.0  # training only: per sample, each present modality dropped with this probability,
    # except that a sample never loses all of them (so with two modalities 0.3 drops each one 21 % of the time)
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(
                "TrainConfig: epochs, batch_size and eval_batch_size must be >= 1, "
                f"got {self.epochs}, {self.batch_size}, {self.eval_batch_size}"
            )
        if self.lr <= 0 or self.encoder_lr <= 0 or self.lora_lr <= 0:
            raise ValueError(
                f"TrainConfig: lr, encoder_lr and lora_lr must be > 0, got {self.lr}, {self.encoder_lr}, {self.lora_lr}"
            )
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"TrainConfig: modality_dropout must be in [0, 1), got {self.modality_dropout}")
        if self.sentiment_loss not in SENTIMENT_LOSSES:
            raise ValueError(
                f"TrainConfig: sentiment_loss must be one of {SENTIMENT_LOSSES}, got {self.sentiment_loss!r}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig: precision must be one of {PRECISIONS}, got {self.precision!r}")
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
