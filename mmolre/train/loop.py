"""The training loop of every model that follows the :class:`~mmolre.models.base.AffectModel` contract.

Loss: the weighted task losses of :mod:`mmolre.train.evaluation` plus ``aux_weight`` times the model's
``aux_loss``. The tasks trained are those the model predicts *and* the dataset labels. Model selection and early
stopping use only the valid split; the selection criterion (history column ``criterion``) is each task's valid loss
over that of its best constant predictor fitted on train, averaged with the task weights (see
:class:`~mmolre.train.config.TrainConfig`), so that a joint model's epoch is not chosen by whichever task has the
largest loss; ``valid_loss`` is the weighted sum of the valid task losses, on the scale of ``train_loss``. The test
split is evaluated once, with the selected weights.

One :class:`~mmolre.train.state.RunState` holds the run (model, optimiser, schedule, gradient scaler, progress); the
loop trains and validates an epoch, appends its history row and calls the callbacks of
:mod:`mmolre.train.callbacks` in order: selection, the epoch hook, early stopping, checkpointing. Resuming restores
that state from the checkpoint, the schedule and scaler included (never replayed). Each epoch runs with its own seed
derived from ``(seed, epoch)`` (shuffling, dropout, router noise, the generator of ``batch_hook`` and of
``TrainConfig.modality_dropout``), so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.device import default_device
from mmolre.modalities import drop_modalities
from mmolre.models.base import AffectModel, to_model
from mmolre.progress import tracked
from mmolre.train.callbacks import Callback, Checkpointing, EarlyStopping, EpochHook, EpochHookFunction, Selection
from mmolre.train.config import TrainConfig, set_seed
from mmolre.train.distributed import Distributed
from mmolre.train.evaluation import (
    emotion_pos_weight,
    model_tasks,
    predict,
    reference_losses,
    selection_criterion,
    split_losses,
    split_metrics,
    task_losses,
    task_weights,
    weighted_loss,
)
from mmolre.train.identity import expected_identity, model_signature
from mmolre.train.optim import Precision, build_optimizer
from mmolre.train.state import RunState

BatchHook = Callable[[dict[str, torch.Tensor], int, torch.Generator], dict[str, torch.Tensor]]
"""``hook(batch, epoch, generator) -> batch`` rewrites each training batch (e.g. draws a modality combination)."""


@dataclass
class TrainResult:
    """Outcome of one run; ``model`` holds the selected (best valid) weights, ``test_predictions`` its outputs on the
    test split (see :func:`~mmolre.train.evaluation.predict`), kept for paired comparisons over utterances;
    ``valid_metrics`` and ``test_metrics`` have the same keys (losses and criterion per epoch are in ``history``);
    ``seconds`` is this call's wall time, ``train_seconds`` that of every epoch the run trained over all its sittings
    (NaN when a checkpoint written before it was recorded resumed the run). ``model`` is None for a run restored from
    its record (:mod:`mmolre.train.records`), which keeps everything but the weights."""

    model: nn.Module | None
    tasks: tuple[str, ...]
    history: pd.DataFrame
    best_epoch: int
    best_criterion: float
    valid_metrics: dict[str, float]
    test_metrics: dict[str, float]
    epochs_run: int
    seconds: float
    test_predictions: dict[str, np.ndarray]
    train_seconds: float = math.nan


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000 + epoch


def train_model(
    model: AffectModel,
    dataset: MultimodalDataset,
    config: TrainConfig,
    seed: int,
    checkpoint_dir: str | Path | None = None,
    batch_hook: BatchHook | None = None,
    epoch_hook: EpochHookFunction | None = None,
    resume: bool = False,
    distributed: Distributed | None = None,
) -> TrainResult:
    """Train with AdamW (see :mod:`mmolre.train.optim`), select the epoch with the lowest valid criterion, evaluate
    the test split once.

    ``batch_hook(batch, epoch, generator)`` may rewrite each training batch; ``epoch_hook(model, epoch)`` runs
    after each epoch's validation. With ``checkpoint_dir`` every epoch is saved (safetensors + JSON sidecar);
    ``resume=True`` continues from the last completed epoch there (CheckpointError when it is damaged, edited or
    belongs to another run). With ``distributed`` (see :mod:`mmolre.train.distributed`) this process trains its
    shard of every global batch of ``batch_size`` rows through DistributedDataParallel and only rank 0 writes
    checkpoints.
    """
    started = time.perf_counter()
    device = default_device(config.device) if distributed is None else distributed.device
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    model.to(device, torch.float64 if config.precision == "fp64" else None)
    tasks = model_tasks(model, dataset)
    pos_weight = emotion_pos_weight(dataset, config)
    reference = reference_losses(dataset, "valid", tasks, pos_weight, config.sentiment_loss)
    steps_per_epoch = math.ceil(len(dataset.splits["train"]) / config.batch_size)
    optimizer, schedule = build_optimizer(model, config, config.epochs * steps_per_epoch)
    precision = Precision(device, config)
    state = RunState(model, optimizer, schedule, precision.scaler)
    checkpointing = None
    if checkpoint_dir is not None:
        identity = expected_identity(model, dataset, config, seed)
        checkpointing = Checkpointing(Path(checkpoint_dir), identity, config, distributed)
    if resume:
        if checkpointing is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        checkpointing.restore(state, device)
    callbacks: list[Callback] = [Selection()]
    if epoch_hook is not None:
        callbacks.append(EpochHook(epoch_hook))
    callbacks.append(EarlyStopping(config.patience))
    if checkpointing is not None:
        callbacks.append(checkpointing)
    network = model if distributed is None else distributed.wrap(model)

    while not state.finished(config.epochs):
        epoch_started = time.perf_counter()
        state.epoch += 1
        epoch_seed = _epoch_seed(seed, state.epoch)
        set_seed(epoch_seed)
        generator = torch.Generator().manual_seed(epoch_seed)
        batches = dataset.loader(
            "train", config.batch_size, shuffle=True, seed=epoch_seed, bucket_by_length=config.bucket_by_length
        )
        model.train()
        total, count = 0.0, 0
        for batch in tracked(batches, f"epoch {state.epoch}/{config.epochs}", steps_per_epoch):
            if batch_hook is not None:
                batch = batch_hook(batch, state.epoch, generator)
            if config.modality_dropout > 0:
                batch = drop_modalities(batch, config.modality_dropout, generator)
            batch, share = (batch, 1.0) if distributed is None else distributed.shard(batch)
            loss = _train_step(network, state, to_model(batch, model), share, precision, config, tasks, pos_weight)
            size = len(batch["mask"]) if share > 0 else 0
            total, count = total + loss * size, count + size
        if distributed is not None:
            total, count = distributed.all_sum(total, count)
        valid = _validate(model, dataset, state.epoch, tasks, config, pos_weight, reference, distributed)
        state.history.append({"epoch": state.epoch, "train_loss": total / count, **valid})
        state.seconds += time.perf_counter() - epoch_started
        for callback in callbacks:
            callback.on_epoch_end(state)

    model.load_state_dict(state.best_weights)
    test_predictions = predict(model, dataset, "test", batch_size=config.eval_batch_size)
    test_metrics = split_metrics(test_predictions, dataset, "test", tasks)
    history = pd.DataFrame(state.history)
    best_row = history.loc[history["epoch"] == state.best_epoch].iloc[0]
    valid_metrics = {key: float(best_row[key]) for key in test_metrics}
    if config.verbose and (distributed is None or distributed.is_main):
        print(
            f"{model_signature(model)['model']} seed {seed}: best epoch {state.best_epoch}/{state.epoch}, "
            f"valid criterion {state.best_criterion:.4f}"
        )
    return TrainResult(
        model,
        tasks,
        history,
        state.best_epoch,
        state.best_criterion,
        valid_metrics,
        test_metrics,
        state.epoch,
        time.perf_counter() - started,
        test_predictions,
        state.seconds,
    )


def _train_step(
    network: nn.Module,
    state: RunState,
    batch: dict[str, torch.Tensor],
    share: float,
    precision: Precision,
    config: TrainConfig,
    tasks: tuple[str, ...],
    pos_weight: torch.Tensor | None,
) -> float:
    """One optimiser step on one batch (``share``: this process's loss weight, see distributed); its loss."""
    with precision.autocast():
        output = network(batch)
        losses = task_losses(output.predictions, batch, tasks, pos_weight, config.sentiment_loss)
        loss = weighted_loss(losses, config)
        if config.aux_weight > 0:
            loss = loss + config.aux_weight * output.aux_loss
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(loss * share).backward()
    if config.grad_clip > 0:
        state.scaler.unscale_(state.optimizer)
        nn.utils.clip_grad_norm_(state.model.parameters(), config.grad_clip)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.schedule.step()
    return float(loss.detach())


def _validate(
    model: nn.Module,
    dataset: MultimodalDataset,
    epoch: int,
    tasks: tuple[str, ...],
    config: TrainConfig,
    pos_weight: torch.Tensor | None,
    reference: dict[str, float],
    distributed: Distributed | None,
) -> dict[str, float]:
    """The valid split's history columns: weighted loss, per-task losses, criterion (rank 0's) and metrics;
    ValueError when the model's valid predictions are not finite (the run diverged)."""
    predictions = predict(model, dataset, "valid", batch_size=config.eval_batch_size)
    diverged = [task for task, values in predictions.items() if not np.isfinite(values).all()]
    if diverged:
        raise ValueError(
            f"epoch {epoch}: valid predictions of {diverged} contain NaN or inf; the run diverged "
            "(lower the learning rate)"
        )
    losses = split_losses(predictions, dataset, "valid", tasks, pos_weight, config.sentiment_loss)
    criterion = selection_criterion(losses, reference, config)
    if distributed is not None:
        criterion = distributed.from_main(criterion)
    weights = task_weights(config)
    return {
        "valid_loss": sum(weights[task] * value for task, value in losses.items()),
        **{f"valid_{task}_loss": value for task, value in losses.items()},
        "criterion": criterion,
        **split_metrics(predictions, dataset, "valid", tasks),
    }
