"""What happens after each epoch, as callbacks over one :class:`~mmolre.train.state.RunState`, called in order:
:class:`Selection` (best epoch on the valid criterion), :class:`EpochHook` (e.g. a DPFT update),
:class:`EarlyStopping` and :class:`Checkpointing` (which also restores a run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from mmolre.train.checkpoints import checkpoint_folder, restore_checkpoint, write_checkpoint
from mmolre.train.config import TrainConfig
from mmolre.train.distributed import Distributed
from mmolre.train.state import RunState

EpochHookFunction = Callable[[nn.Module, int], None]
"""``hook(model, epoch)`` runs after each epoch's validation (e.g. a DPFT update)."""


class Callback(Protocol):
    def on_epoch_end(self, state: RunState) -> None:
        """Read and update ``state`` after its epoch ``state.epoch`` has been trained and validated."""


class Selection:
    """Keeps the epoch with the lowest valid ``criterion`` (the first on ties) and its weights."""

    def on_epoch_end(self, state: RunState) -> None:
        criterion = float(state.history[-1]["criterion"])
        state.improved = criterion < state.best_criterion
        if state.improved:
            state.best_epoch, state.best_criterion, state.bad_epochs = state.epoch, criterion, 0
            state.keep_best_weights()
        else:
            state.bad_epochs += 1


class EpochHook:
    """Calls ``hook(model, epoch)``."""

    def __init__(self, hook: EpochHookFunction) -> None:
        self.hook = hook

    def on_epoch_end(self, state: RunState) -> None:
        self.hook(state.model, state.epoch)


class EarlyStopping:
    """Stops the run after ``patience`` epochs without a better criterion (``patience = 0``: never)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_epoch_end(self, state: RunState) -> None:
        state.stopped = self.patience > 0 and state.bad_epochs >= self.patience


class Checkpointing:
    """Writes the run to ``root`` after every epoch (rank 0 only, see :mod:`mmolre.train.checkpoints`) and restores
    it from there. The folder is checked (and created) at once, before anything trains."""

    def __init__(
        self, root: Path, identity: dict[str, object], config: TrainConfig, distributed: Distributed | None
    ) -> None:
        self.root, self.identity, self.config, self.distributed = root, identity, config, distributed
        self.writes = distributed is None or distributed.is_main
        if self.writes:
            checkpoint_folder(root)

    def restore(self, state: RunState, device: torch.device) -> bool:
        """Restore ``state`` from the checkpoint (False when there is none yet); see
        :func:`~mmolre.train.checkpoints.restore_checkpoint`."""
        return restore_checkpoint(state, self.root, self.identity, device, self.config.epochs)

    def on_epoch_end(self, state: RunState) -> None:
        if self.writes:
            write_checkpoint(self.root, state, self.identity, self.config)
        if self.distributed is not None:
            self.distributed.barrier()
