"""The state of one training run: what the loop advances, the callbacks read and change, and a checkpoint holds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

PROGRESS_KEYS: tuple[str, ...] = ("epoch", "best_epoch", "best_criterion", "bad_epochs", "stopped_early", "history")
"""The fields of :meth:`RunState.progress`, as a checkpoint sidecar records them."""


@dataclass
class RunState:
    """Model, optimiser, schedule and gradient scaler of a run, and its progress after ``epoch`` completed epochs.

    ``history`` holds one row per completed epoch (``epoch``, ``train_loss``, ``criterion``, valid losses and
    metrics); ``best_*`` describe the epoch with the lowest ``criterion`` so far (the first, on ties) and
    ``best_weights`` a copy of its weights; ``bad_epochs`` counts the epochs since; ``improved`` says whether the
    last epoch is the best; ``stopped`` that early stopping ended the run; ``seconds`` the wall time of the completed
    epochs (training and validation) over every sitting, NaN when an earlier sitting's checkpoint did not record it.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_criterion: float = math.inf
    best_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    bad_epochs: int = 0
    improved: bool = False
    stopped: bool = False
    seconds: float = 0.0

    def finished(self, epochs: int) -> bool:
        """Whether the run is over: ``epochs`` completed, or stopped early."""
        return self.stopped or self.epoch >= epochs

    def keep_best_weights(self) -> None:
        """Copy the model's current weights as the best ones."""
        self.best_weights = {key: value.detach().clone() for key, value in self.model.state_dict().items()}

    def progress(self) -> dict[str, object]:
        """The progress fields (:data:`PROGRESS_KEYS`) as plain JSON values."""
        return {
            "epoch": self.epoch,
            "best_epoch": self.best_epoch,
            "best_criterion": self.best_criterion,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped,
            "history": [dict(row) for row in self.history],
        }

    def set_progress(self, progress: dict[str, object]) -> None:
        """Take over the progress fields of a (validated) checkpoint sidecar."""
        self.epoch = int(progress["epoch"])
        self.best_epoch = int(progress["best_epoch"])
        self.best_criterion = float(progress["best_criterion"])
        self.bad_epochs = int(progress["bad_epochs"])
        self.stopped = bool(progress["stopped_early"])
        self.history = [dict(row) for row in progress["history"]]
        self.improved = self.best_epoch == self.epoch

    def train_state(self) -> dict[str, object]:
        """Optimiser, schedule and scaler state (what a checkpoint saves beside the weights)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_train_state(self, saved: dict[str, object]) -> None:
        """Restore :meth:`train_state`; an empty scaler state (written without loss scaling) leaves the scaler as is."""
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        if saved["scaler"]:
            self.scaler.load_state_dict(saved["scaler"])
