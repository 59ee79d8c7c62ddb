"""Evaluation: predictions over a split, the training losses, the valid-split selection loss and metrics.

Loss: ``sentiment_weight * L1(sentiment) + emotion_weight * BCEWithLogits(emotion presence)``, where an emotion is
present when its intensity is > 0. With ``balance_emotions`` (default) each emotion's positive term is weighted by
negatives / positives on the train split, so rare emotions (surprise, fear) are not simply never predicted: this
matches the class-balanced weighted accuracy (WA) the field reports.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mmolre.data.dataset import MultimodalDataset
from mmolre.metrics import emotion_metrics, sentiment_metrics
from mmolre.modalities import restrict
from mmolre.models.base import AffectModel, eval_mode, model_device, to_device
from mmolre.train.config import TrainConfig


def model_tasks(model: AffectModel, dataset: MultimodalDataset) -> tuple[str, ...]:
    """Tasks the model predicts and the dataset labels."""
    tasks = tuple(t for t in model.tasks if t in dataset.tasks)
    if not tasks:
        raise ValueError(
            f"the model predicts {list(model.tasks)} but dataset {dataset.name!r} labels none of them "
            f"(it has {'sentiment and emotions' if dataset.has_emotions else 'sentiment only'})"
        )
    return tasks


def predict(
    model: AffectModel, dataset: MultimodalDataset, split: str, mask_override: object = None, batch_size: int = 512
) -> dict[str, np.ndarray]:
    """Model outputs over a split, concatenated: ``sentiment`` (n,) and/or ``emotion`` (n, 6) logits.

    ``mask_override`` is a (3,) bool over ``MODALITIES`` (or a combination name) ANDed with each sample's mask.
    """
    device = model_device(model)
    parts: dict[str, list[torch.Tensor]] = {}
    with eval_mode(model):
        for batch in dataset.loader(split, batch_size=batch_size):
            batch = to_device(batch, device)
            if mask_override is not None:
                batch = restrict(batch, mask_override)
            for task, values in model(batch).predictions.items():
                parts.setdefault(task, []).append(values.detach().float().cpu())
    return {task: torch.cat(chunks).numpy() for task, chunks in parts.items()}


def emotion_pos_weight(dataset: MultimodalDataset, config: TrainConfig) -> torch.Tensor | None:
    """Per-emotion BCE ``pos_weight`` (negatives / positives on the train split), or None when not balancing."""
    emotions = dataset.splits["train"].emotions
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
) -> dict[str, torch.Tensor]:
    losses = {}
    if "sentiment" in tasks:
        losses["sentiment"] = F.l1_loss(outputs["sentiment"].reshape(-1), batch["sentiment"])
    if "emotion" in tasks:
        weight = None if pos_weight is None else pos_weight.to(outputs["emotion"].device)
        losses["emotion"] = F.binary_cross_entropy_with_logits(
            outputs["emotion"], (batch["emotions"] > 0).float(), pos_weight=weight
        )
    return losses


def weighted_loss(losses: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    weights = {"sentiment": config.sentiment_weight, "emotion": config.emotion_weight}
    return sum(weights[task] * value for task, value in losses.items())


def selection_loss(
    predictions: dict[str, np.ndarray],
    dataset: MultimodalDataset,
    split: str,
    tasks: tuple[str, ...],
    config: TrainConfig,
    pos_weight: torch.Tensor | None,
) -> float:
    """The valid-split selection criterion: weighted task losses over the whole split (no auxiliary term)."""
    data = dataset.splits[split]
    outputs = {task: torch.from_numpy(predictions[task]) for task in tasks}
    labels = {"sentiment": data.sentiment, "emotions": data.emotions}
    return float(weighted_loss(task_losses(outputs, labels, tasks, pos_weight), config))


def split_metrics(
    predictions: dict[str, np.ndarray], dataset: MultimodalDataset, split: str, tasks: tuple[str, ...]
) -> dict[str, float]:
    data = dataset.splits[split]
    result: dict[str, float] = {}
    if "sentiment" in tasks:
        result.update(sentiment_metrics(data.sentiment.numpy(), predictions["sentiment"].reshape(-1)))
    if "emotion" in tasks:
        result.update(
            {
                f"emo_{key}": value
                for key, value in emotion_metrics(data.emotions.numpy(), predictions["emotion"]).items()
            }
        )
    return result


def evaluate(
    model: AffectModel, dataset: MultimodalDataset, split: str, mask_override: object = None, batch_size: int = 512
) -> dict[str, float]:
    """Metrics on one split: sentiment metrics (``acc2_has0`` ... ``corr``) and emotion metrics prefixed ``emo_``.

    ``mask_override`` is a (3,) bool over ``MODALITIES`` (or a combination name) ANDed with each sample's mask.
    """
    tasks = model_tasks(model, dataset)
    return split_metrics(predict(model, dataset, split, mask_override, batch_size), dataset, split, tasks)
