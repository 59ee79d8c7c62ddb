"""Evaluation: predictions over a split, the training losses, the valid-split selection criterion and metrics.

Loss: ``sentiment_weight * L1(sentiment) + emotion_weight * BCEWithLogits(emotion presence) + CE(emotion4)``, where an
emotion is present when its intensity is > 0 and ``emotion4`` (IEMOCAP four classes) has weight 1 (it is the only task
of its datasets). With ``balance_emotions`` (default) each emotion's positive term is weighted by negatives /
positives on the train split, so rare emotions (surprise, fear) are not simply never predicted: this matches the
class-balanced weighted accuracy (WA) the field reports. ``TrainConfig.sentiment_loss = "mse"`` replaces L1 by the
mean squared error, the official MCULoRA choice (``MaskedMSELoss`` in ``MCULoRA/loss.py`` of gdace829/MCULoRA: the
squared error summed over the real utterances and divided by their number, i.e. the MSE over valid positions).

Selection criterion (:func:`selection_criterion`): each task's valid loss over the valid loss of its best constant
predictor fitted on train (:func:`reference_losses`), averaged with the task weights; see
:class:`~mmolre.train.config.TrainConfig`.

Context batches (``batch["positions"]``, (B, L) bool, see :mod:`mmolre.data.context`) carry one sample per
video/dialogue; predictions, losses and metrics are per utterance: only the valid positions count.
"""

from __future__ import annotations

import numpy as np
import torch

from mmolre.data.dataset import MultimodalDataset, flatten_positions
from mmolre.modalities import restrict
from mmolre.models.base import AffectModel, eval_mode, to_model
from mmolre.tasks import TASK_SPECS, LossOptions
from mmolre.train.config import TrainConfig


def model_tasks(model: AffectModel, dataset: MultimodalDataset) -> tuple[str, ...]:
    """Tasks the model predicts and the dataset labels (ValueError when there are none, or when the dataset is
    utterance context and the model cannot predict per utterance)."""
    if dataset.context and not getattr(model, "supports_context", False):
        raise ValueError(
            f"model {getattr(model, 'name', type(model).__name__)!r} pools over the sequence axis and cannot predict "
            f"per utterance of a context dataset ({dataset.name!r}, context=True); use an MCULoRA-family model "
            "(mculora, mcla_inline, mculora_plain) or load the dataset without context"
        )
    tasks = tuple(t for t in model.tasks if t in dataset.tasks)
    if not tasks:
        raise ValueError(
            f"the model predicts {list(model.tasks)} but dataset {dataset.name!r} labels none of them "
            f"(it labels {list(dataset.tasks)})"
        )
    return tasks


def per_utterance(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``outputs`` with one row per utterance: valid positions flattened when the batch has ``positions``."""
    positions = batch.get("positions")
    if positions is None:
        return outputs
    return {key: flatten_positions(values, positions) for key, values in outputs.items()}


def predict(
    model: AffectModel, dataset: MultimodalDataset, split: str, mask_override: object = None, batch_size: int = 512
) -> dict[str, np.ndarray]:
    """Model outputs over a split, one row per utterance: ``sentiment`` (n,), ``emotion`` (n, 6) and/or
    ``emotion4`` (n, 4) logits.

    ``mask_override`` is a (3,) bool over ``MODALITIES`` (or a combination name) ANDed with each sample's mask.
    """
    parts: dict[str, list[torch.Tensor]] = {}
    with eval_mode(model):
        for batch in dataset.loader(split, batch_size=batch_size):
            batch = to_model(batch, model)
            if mask_override is not None:
                batch = restrict(batch, mask_override)
            for task, values in per_utterance(model(batch).predictions, batch).items():
                parts.setdefault(task, []).append(values.detach().float().cpu())
    return {task: torch.cat(chunks).numpy() for task, chunks in parts.items()}


def emotion_pos_weight(dataset: MultimodalDataset, config: TrainConfig) -> torch.Tensor | None:
    """Per-emotion BCE ``pos_weight`` (negatives / positives on the train split), or None when not balancing."""
    emotions = dataset.splits["train"].utterance_labels().get("emotions")
    if not config.balance_emotions or emotions is None:
        return None
    present = (emotions > 0).float()
    positives = present.sum(0).clamp(min=1.0)
    return (len(present) - positives).clamp(min=1.0) / positives


def task_losses(
    outputs: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    tasks: tuple[str, ...],
    pos_weight: torch.Tensor | None = None,
    sentiment: str = "l1",
) -> dict[str, torch.Tensor]:
    """Per-task losses (each task's :attr:`~mmolre.tasks.TaskSpec.loss`; ``sentiment``: the sentiment loss kind);
    with ``batch["positions"]`` outputs and labels are first reduced to the valid positions."""
    outputs = per_utterance({task: outputs[task] for task in tasks}, batch)
    labels = per_utterance({task: batch[TASK_SPECS[task].label_field] for task in tasks}, batch)
    options = LossOptions(sentiment, pos_weight)
    return {task: TASK_SPECS[task].loss(outputs[task], labels[task], options) for task in tasks}


def task_weights(config: TrainConfig) -> dict[str, float]:
    """Weight of each task's loss in training and in the selection criterion: ``sentiment_weight`` and
    ``emotion_weight`` from the config, 1 for every other task of :data:`~mmolre.tasks.TASK_SPECS`."""
    return {task: 1.0 for task in TASK_SPECS} | {"sentiment": config.sentiment_weight, "emotion": config.emotion_weight}


def weighted_loss(losses: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    weights = task_weights(config)
    return sum(weights[task] * value for task, value in losses.items())


def split_losses(
    predictions: dict[str, np.ndarray],
    dataset: MultimodalDataset,
    split: str,
    tasks: tuple[str, ...],
    pos_weight: torch.Tensor | None,
    sentiment: str = "l1",
) -> dict[str, float]:
    """Each task's loss over a whole split (per utterance, no auxiliary term)."""
    outputs = {task: torch.as_tensor(predictions[task]) for task in tasks}
    labels = dataset.splits[split].utterance_labels()
    return {task: float(value) for task, value in task_losses(outputs, labels, tasks, pos_weight, sentiment).items()}


def constant_predictions(
    dataset: MultimodalDataset, tasks: tuple[str, ...], pos_weight: torch.Tensor | None, n: int, sentiment: str = "l1"
) -> dict[str, np.ndarray]:
    """``n`` rows of each task's best constant prediction fitted on the train split (its
    :attr:`~mmolre.tasks.TaskSpec.constant`): the median sentiment (L1) or the mean (MSE), per emotion the logit that
    minimises the (pos_weight-weighted) BCE at the train prevalence, the log train class frequencies (four-class CE)."""
    labels = dataset.splits["train"].utterance_labels()
    options = LossOptions(sentiment, pos_weight)
    constants = {task: TASK_SPECS[task].constant(labels[TASK_SPECS[task].label_field], options) for task in tasks}
    return {task: value.reshape(1, -1).repeat(n, 1).squeeze(-1).numpy() for task, value in constants.items()}


def reference_losses(
    dataset: MultimodalDataset,
    split: str,
    tasks: tuple[str, ...],
    pos_weight: torch.Tensor | None,
    sentiment: str = "l1",
) -> dict[str, float]:
    """Each task's loss on ``split`` of :func:`constant_predictions`: the scale the selection criterion divides by."""
    n = len(next(iter(dataset.splits[split].utterance_labels().values())))
    constants = constant_predictions(dataset, tasks, pos_weight, n, sentiment)
    losses = split_losses(constants, dataset, split, tasks, pos_weight, sentiment)
    for task, value in losses.items():
        if not value > 0:
            raise ValueError(
                f"{dataset.name}/{split}: a constant predicts every {task} label exactly (loss {value}), so the "
                "normalised selection criterion is undefined"
            )
    return losses


def selection_criterion(losses: dict[str, float], reference: dict[str, float], config: TrainConfig) -> float:
    """The selection criterion (see :class:`~mmolre.train.config.TrainConfig`): each task's loss over its constant
    predictor's ``reference`` loss, averaged with the task weights (a plain mean when every weight is zero)."""
    weights = task_weights(config)
    total = sum(weights[task] for task in losses)
    share = {task: weights[task] / total if total > 0 else 1.0 / len(losses) for task in losses}
    return float(sum(share[task] * losses[task] / reference[task] for task in losses))


def split_metrics(
    predictions: dict[str, np.ndarray], dataset: MultimodalDataset, split: str, tasks: tuple[str, ...]
) -> dict[str, float]:
    """Per-utterance metrics of each task (its :attr:`~mmolre.tasks.TaskSpec.metrics`): sentiment (``acc2_has0``
    ...), emotion (prefixed ``emo_``), emotion4 (``wa`` ...)."""
    labels = dataset.splits[split].utterance_labels()
    result: dict[str, float] = {}
    for task in tasks:
        result.update(TASK_SPECS[task].metrics(labels[TASK_SPECS[task].label_field].numpy(), predictions[task]))
    return result


def evaluate(
    model: AffectModel, dataset: MultimodalDataset, split: str, mask_override: object = None, batch_size: int = 512
) -> dict[str, float]:
    """Metrics on one split: sentiment metrics (``acc2_has0`` ... ``corr``), emotion metrics prefixed ``emo_`` and
    four-class metrics ``wa``, ``ua``, ``wf1``, all per utterance.

    ``mask_override`` is a (3,) bool over ``MODALITIES`` (or a combination name) ANDed with each sample's mask.
    """
    tasks = model_tasks(model, dataset)
    return split_metrics(predict(model, dataset, split, mask_override, batch_size), dataset, split, tasks)
