"""Resuming across sittings: the run state (weights, optimiser, schedule, gradient scaler, progress) is restored from
the checkpoint, so an interrupted run ends exactly as an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig, build_model
from mmolre.train import TrainConfig, set_seed, train_model
from mmolre.train.checkpoints import SIDECAR, restore_checkpoint, write_checkpoint
from mmolre.train.identity import expected_identity
from mmolre.train.optim import build_optimizer
from mmolre.train.state import RunState

TINY = dict(dim=8, n_shared=2, shared_ranks=(2, 2), specific_rank=2, blocks=1)
SEED = 5


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosei", n_train=96, n_valid=48, n_test=48, seq_len=4, dim_scale=0.05, seed=3)


def _model(dataset):
    set_seed(7)
    return build_model("mmolre", dataset.dims, ("sentiment", "emotion"), ModelConfig(**TINY))


CONFIG = TrainConfig(epochs=5, batch_size=32, lr=2e-2, patience=0, lr_schedule="linear", warmup_ratio=0.2)


class Interrupted(Exception):
    """Stands for a run killed between two epochs."""


def _interrupt_at(epoch: int):
    def hook(model: torch.nn.Module, current: int) -> None:
        if current == epoch:
            raise Interrupted

    return hook


def _train_state(root: Path) -> dict[str, object]:
    return torch.load(root / json.loads((root / SIDECAR).read_text())["train_state"], weights_only=True)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(dataset, tmp_path):
    full = train_model(_model(dataset), dataset, CONFIG, seed=SEED, checkpoint_dir=tmp_path / "full")
    part = tmp_path / "part"
    with pytest.raises(Interrupted):  # the hook runs before epoch 3 is checkpointed: epoch 2 is on disk
        train_model(_model(dataset), dataset, CONFIG, seed=SEED, checkpoint_dir=part, epoch_hook=_interrupt_at(3))
    assert json.loads((part / SIDECAR).read_text())["epoch"] == 2
    assert _train_state(part)["schedule"]["last_epoch"] == 2 * 3  # 96 rows in batches of 32: 3 steps an epoch
    resumed = train_model(_model(dataset), dataset, CONFIG, seed=SEED, checkpoint_dir=part, resume=True)
    pd.testing.assert_frame_equal(resumed.history, full.history)
    assert (resumed.best_epoch, resumed.best_criterion) == (full.best_epoch, full.best_criterion)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    ours, theirs = _train_state(part), _train_state(tmp_path / "full")
    assert ours["schedule"]["last_epoch"] == theirs["schedule"]["last_epoch"] == 5 * 3
    assert ours["schedule"]["_last_lr"] == theirs["schedule"]["_last_lr"]
    assert [g["lr"] for g in ours["optimizer"]["param_groups"]] == [
        g["lr"] for g in theirs["optimizer"]["param_groups"]
    ]


def _state(model: torch.nn.Module, scaler: torch.amp.GradScaler) -> RunState:
    optimizer, schedule = build_optimizer(model, CONFIG, steps=30)
    return RunState(model, optimizer, schedule, scaler)


def test_schedule_and_scaler_are_restored_not_replayed(dataset, tmp_path):
    """A scaler's scale and growth tracker cannot be replayed from a step count: they come from the checkpoint."""
    state = _state(_model(dataset), torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=7))
    for _ in range(4):
        state.optimizer.step()
        state.schedule.step()
    state.scaler.scale(torch.tensor(1.0))  # the scaler sets up its scale lazily
    state.scaler.update(new_scale=256.0)
    state.epoch, state.best_epoch, state.best_criterion, state.improved = 1, 1, 0.5, True
    state.history = [{"epoch": 1, "train_loss": 1.0, "criterion": 0.5}]
    identity = expected_identity(state.model, dataset, CONFIG, SEED)
    write_checkpoint(tmp_path, state, identity, CONFIG)

    fresh = _state(_model(dataset), torch.amp.GradScaler("cpu"))
    assert fresh.schedule.last_epoch == 0 and fresh.scaler.get_scale() == 65536.0
    assert restore_checkpoint(fresh, tmp_path, identity, torch.device("cpu"), epochs=CONFIG.epochs)
    assert fresh.schedule.last_epoch == 4
    assert fresh.schedule.get_last_lr() == state.schedule.get_last_lr()
    assert fresh.scaler.get_scale() == 256.0 and fresh.scaler.get_growth_interval() == 7
    assert (fresh.epoch, fresh.best_epoch, fresh.bad_epochs, fresh.history) == (1, 1, 0, state.history)
    for key, value in state.model.state_dict().items():
        assert torch.equal(value, fresh.best_weights[key]) and torch.equal(value, fresh.model.state_dict()[key])
    assert not restore_checkpoint(fresh, tmp_path / "empty", identity, torch.device("cpu"), epochs=CONFIG.epochs)
