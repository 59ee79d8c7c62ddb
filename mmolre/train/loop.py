"""The training loop of every model that follows the :class:`~mmolre.models.base.AffectModel` contract.

Loss: the weighted task losses of :mod:`mmolre.train.evaluation` plus ``aux_weight`` times the model's
``aux_loss``. The tasks trained are those the model predicts *and* the dataset labels. Model selection and early
stopping use only the valid split; the selection criterion (history column ``criterion``) is each task's valid loss
over that of its best constant predictor fitted on train, averaged with the task weights (see
:class:`~mmolre.train.config.TrainConfig`), so that a joint model's epoch is not chosen by whichever task has the
largest loss; ``valid_loss`` is the weighted sum of the valid task losses, on the scale of ``train_loss``. The test
split is evaluated once, with the selected weights.

Each epoch runs with its own seed derived from ``(seed, epoch)`` (shuffling, dropout, router noise and the
``batch_hook`` generator), so a run resumed from a checkpoint continues exactly as an uninterrupted run.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.device import default_device
from mmolre.models.base import AffectModel, to_device
from mmolre.train.checkpoints import (
    SIDECAR,
    check_identity,
    expected_identity,
    load_checkpoint,
    load_optimizer,
    model_signature,
    read_sidecar,
    write_checkpoint,
)
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
from mmolre.train.optim import Precision, build_optimizer

BatchHook = Callable[[dict[str, torch.Tensor], int, torch.Generator], dict[str, torch.Tensor]]
"""``hook(batch, epoch, generator) -> batch`` rewrites each training batch (e.g. draws a modality combination)."""
EpochHook = Callable[[nn.Module, int], None]
"""``hook(model, epoch)`` runs after each epoch's validation (e.g. a DPFT update)."""


@dataclass
class TrainResult:
    """Outcome of one run; ``model`` holds the selected (best valid) weights, ``test_predictions`` its outputs on the
    test split (see :func:`~mmolre.train.evaluation.predict`), kept for paired comparisons over utterances."""

    model: nn.Module
    tasks: tuple[str, ...]
    history: pd.DataFrame
    best_epoch: int
    best_criterion: float
    valid_metrics: dict[str, float]
    test_metrics: dict[str, float]
    epochs_run: int
    seconds: float
    test_predictions: dict[str, np.ndarray]


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000 + epoch


def train_model(
    model: AffectModel,
    dataset: MultimodalDataset,
    config: TrainConfig,
    seed: int,
    checkpoint_dir: str | Path | None = None,
    batch_hook: BatchHook | None = None,
    epoch_hook: EpochHook | None = None,
    resume: bool = False,
    distributed: Distributed | None = None,
) -> TrainResult:
    """Train with AdamW (see :mod:`mmolre.train.optim`), select the epoch with the lowest valid loss, evaluate the
    test split once.

    ``batch_hook(batch, epoch, generator)`` may rewrite each training batch; ``epoch_hook(model, epoch)`` runs
    after each epoch's validation. With ``checkpoint_dir`` every epoch is saved (safetensors + JSON sidecar);
    ``resume=True`` continues from the last completed epoch there (CheckpointError when it does not match).
    With ``distributed`` (see :mod:`mmolre.train.distributed`) this process trains its shard of every global batch
    of ``batch_size`` rows through DistributedDataParallel and only rank 0 writes checkpoints.
    """
    started = time.perf_counter()
    device = default_device(config.device) if distributed is None else distributed.device
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    model.to(device)
    tasks = model_tasks(model, dataset)
    pos_weight = emotion_pos_weight(dataset, config)
    reference = reference_losses(dataset, "valid", tasks, pos_weight)
    steps_per_epoch = math.ceil(len(dataset.splits["train"]) / config.batch_size)
    optimizer, schedule = build_optimizer(model, config, config.epochs * steps_per_epoch)
    precision = Precision(device, config)
    root = Path(checkpoint_dir) if checkpoint_dir is not None else None
    identity = expected_identity(model, dataset, config, seed)
    rows: list[dict[str, float]] = []
    best_epoch, best_loss, bad_epochs, start = 0, float("inf"), 0, 1
    best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    if resume:
        if root is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        if (root / SIDECAR).is_file():
            sidecar = read_sidecar(root)
            check_identity(sidecar, identity, root / SIDECAR)
            load_checkpoint(model, root, "best")
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
            load_checkpoint(model, root, "last")
            load_optimizer(optimizer, root, sidecar, device)
            rows = list(sidecar["history"])
            best_epoch, best_loss, bad_epochs = (
                int(sidecar["best_epoch"]),
                float(sidecar["best_criterion"]),
                int(sidecar["bad_epochs"]),
            )
            start = int(sidecar["epoch"]) + 1
            with warnings.catch_warnings():  # the schedule is a function of the step count: replay it
                warnings.simplefilter("ignore", UserWarning)
                for _ in range((start - 1) * steps_per_epoch):
                    schedule.step()
            if sidecar.get("stopped_early"):
                start = config.epochs + 1
    network = model if distributed is None else distributed.wrap(model)
    for epoch in range(start, config.epochs + 1):
        epoch_seed = _epoch_seed(seed, epoch)
        set_seed(epoch_seed)
        generator = torch.Generator().manual_seed(epoch_seed)
        model.train()
        total, count = 0.0, 0
        batches = dataset.loader(
            "train", config.batch_size, shuffle=True, seed=epoch_seed, bucket_by_length=config.bucket_by_length
        )
        for batch in batches:
            if batch_hook is not None:
                batch = batch_hook(batch, epoch, generator)
            share = 1.0
            if distributed is not None:
                batch, share = distributed.shard(batch)
            batch = to_device(batch, device)
            with precision.autocast():
                output = network(batch)
                loss = weighted_loss(task_losses(output.predictions, batch, tasks, pos_weight), config)
                if config.aux_weight > 0:
                    loss = loss + config.aux_weight * output.aux_loss
            optimizer.zero_grad(set_to_none=True)
            precision.scaler.scale(loss if distributed is None else loss * share).backward()
            if config.grad_clip > 0:
                precision.scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            precision.scaler.step(optimizer)
            precision.scaler.update()
            schedule.step()
            size = len(batch["mask"]) if share > 0 else 0
            total, count = total + float(loss.detach()) * size, count + size
        if distributed is not None:
            total, count = distributed.all_sum(total, count)
        predictions = predict(model, dataset, "valid", batch_size=config.eval_batch_size)
        losses = split_losses(predictions, dataset, "valid", tasks, pos_weight)
        criterion = selection_criterion(losses, reference, config)
        if distributed is not None:
            criterion = distributed.from_main(criterion)
        weights = task_weights(config)
        rows.append(
            {
                "epoch": epoch,
                "train_loss": total / count,
                "valid_loss": sum(weights[task] * value for task, value in losses.items()),
                **{f"valid_{task}_loss": value for task, value in losses.items()},
                "criterion": criterion,
                **split_metrics(predictions, dataset, "valid", tasks),
            }
        )
        improved = criterion < best_loss
        if improved:
            best_epoch, best_loss, bad_epochs = epoch, criterion, 0
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        else:
            bad_epochs += 1
        if epoch_hook is not None:
            epoch_hook(model, epoch)
        stop = config.patience > 0 and bad_epochs >= config.patience
        if root is not None and (distributed is None or distributed.is_main):
            state = {
                "epoch": epoch,
                "best_epoch": best_epoch,
                "best_criterion": best_loss,
                "bad_epochs": bad_epochs,
                "stopped_early": stop,
                "history": rows,
            }
            write_checkpoint(root, model, optimizer, state, identity, config, improved)
        if root is not None and distributed is not None:
            distributed.barrier()
        if stop:
            break
    model.load_state_dict(best_state)
    test_predictions = predict(model, dataset, "test", batch_size=config.eval_batch_size)
    test_metrics = split_metrics(test_predictions, dataset, "test", tasks)
    history = pd.DataFrame(rows)
    valid_metrics = {
        k: float(v) for k, v in history.loc[history["epoch"] == best_epoch].iloc[0].items() if k != "epoch"
    }
    seconds = time.perf_counter() - started
    if config.verbose and (distributed is None or distributed.is_main):
        print(
            f"{model_signature(model)['model']} seed {seed}: best epoch {best_epoch}/{len(rows)}, "
            f"valid criterion {best_loss:.4f}"
        )
    return TrainResult(
        model, tasks, history, best_epoch, best_loss, valid_metrics, test_metrics, len(rows), seconds, test_predictions
    )
