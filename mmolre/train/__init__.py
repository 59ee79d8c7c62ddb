"""Training: configuration and seeds, the training loop, evaluation and checkpoints."""

from mmolre.train.checkpoints import CheckpointError, load_checkpoint
from mmolre.train.config import SEEDS, TrainConfig, set_seed
from mmolre.train.evaluation import evaluate, predict
from mmolre.train.loop import TrainResult, train_model

__all__ = [
    "SEEDS",
    "CheckpointError",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_checkpoint",
    "predict",
    "set_seed",
    "train_model",
]
