"""The one owner of tasks: one :class:`TaskSpec` record per task says where its labels are, how wide its head is, its
loss, its best constant prediction, its metrics and how a prediction is shown.

- ``sentiment`` (MSA): one regression output, labels in [-3, 3] in ``batch["sentiment"]``; L1 loss (ours) or MSE
  (:data:`SENTIMENT_LOSSES`).
- ``emotion`` (MER): six logits over :data:`~mmolre.emotions.EMOTIONS` (CMU-MOSEI), an emotion is present when its
  intensity in ``batch["emotions"]`` is > 0; binary cross-entropy per emotion (optionally class-balanced,
  ``pos_weight``).
- ``emotion4`` (IEMOCAP four-class): four logits over :data:`~mmolre.emotions.EMOTION4_CLASSES`, one class index
  0..3 per utterance in ``batch["emotion4"]`` (single-label classification, cross-entropy).

The training loop, evaluation, the paired statistics, exports and model cards read these records
(:mod:`mmolre.train.evaluation`, :mod:`mmolre.protocols.paired`, :mod:`mmolre.exports`); a task's metrics carry the
keys of the run tables (emotion metrics prefixed ``emo_``, see :mod:`mmolre.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mmolre.emotions import EMOTION4_CLASSES, EMOTIONS
from mmolre.metrics import classification_metrics, emotion_metrics, sentiment_metrics

SENTIMENT_LOSSES: tuple[str, ...] = ("l1", "mse")
"""The sentiment losses: L1 (ours, every profile by default) or MSE (the official MCULoRA code's masked MSE,
``MCULoRA/loss.py`` ``MaskedMSELoss``, used for CMU-MOSI / CMU-MOSEI in ``MCULoRA/train_MCULoRA.py``)."""


@dataclass(frozen=True)
class LossOptions:
    """What a task's loss and constant may depend on besides outputs and labels: the sentiment loss kind
    (:data:`SENTIMENT_LOSSES`) and the per-emotion weights of the positive terms (None: unweighted)."""

    sentiment_loss: str = "l1"
    pos_weight: torch.Tensor | None = None


@dataclass(frozen=True)
class TaskSpec:
    """One task, as everything outside a model's head needs to know it."""

    name: str
    label_field: str
    """The batch key and :class:`~mmolre.data.dataset.SplitData` attribute of its labels."""
    outputs: int
    """Width of its head (one output is squeezed to one value per utterance)."""
    loss: Callable[[torch.Tensor, torch.Tensor, LossOptions], torch.Tensor]
    """``loss(outputs, labels, options)``: the training loss over one row per utterance."""
    constant: Callable[[torch.Tensor, LossOptions], torch.Tensor]
    """``constant(train_labels, options)``: the one output (a vector of :attr:`outputs` values) that minimises the
    loss on the train labels; the selection criterion divides each task's valid loss by this constant's."""
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    """``metrics(labels, outputs)``: the field's metrics, keyed as in the run tables."""
    columns: Callable[[torch.Tensor], dict[str, np.ndarray]]
    """``columns(outputs)``: the prediction table's columns of this task (scores, probabilities)."""
    card: str
    """The model card's line on these columns."""


def _sentiment_loss(outputs: torch.Tensor, labels: torch.Tensor, options: LossOptions) -> torch.Tensor:
    if options.sentiment_loss not in SENTIMENT_LOSSES:
        raise ValueError(f"sentiment loss must be one of {SENTIMENT_LOSSES}, got {options.sentiment_loss!r}")
    loss = F.l1_loss if options.sentiment_loss == "l1" else F.mse_loss
    return loss(outputs.reshape(-1), labels.reshape(-1))


def _sentiment_constant(labels: torch.Tensor, options: LossOptions) -> torch.Tensor:
    values = labels.reshape(-1)
    return (values.median() if options.sentiment_loss == "l1" else values.mean()).reshape(1)


def _emotion_loss(outputs: torch.Tensor, labels: torch.Tensor, options: LossOptions) -> torch.Tensor:
    weight = None if options.pos_weight is None else options.pos_weight.to(outputs.device, outputs.dtype)
    return F.binary_cross_entropy_with_logits(outputs, (labels > 0).to(outputs.dtype), pos_weight=weight)


def _emotion_constant(labels: torch.Tensor, options: LossOptions) -> torch.Tensor:
    prevalence = (labels > 0).float().mean(0).clamp(1e-6, 1 - 1e-6)
    weight = torch.ones_like(prevalence) if options.pos_weight is None else options.pos_weight.cpu()
    return torch.log(weight * prevalence / (1 - prevalence))


def _emotion4_constant(labels: torch.Tensor, options: LossOptions) -> torch.Tensor:
    counts = torch.bincount(labels.reshape(-1).long(), minlength=len(EMOTION4_CLASSES)).float()
    return torch.log((counts / counts.sum()).clamp(min=1e-6))


def _probabilities(prefix: str, names: Sequence[str], probabilities: torch.Tensor) -> dict[str, np.ndarray]:
    values = probabilities.numpy()
    return {f"{prefix}_{name}": values[:, i] for i, name in enumerate(names)}


TASK_SPECS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "sentiment",
            "sentiment",
            1,
            _sentiment_loss,
            _sentiment_constant,
            lambda labels, outputs: sentiment_metrics(np.ravel(labels), np.ravel(outputs)),
            lambda outputs: {"sentiment": outputs.clamp(-3.0, 3.0).numpy()},
            "- `sentiment`: a score in [-3, 3] (negative to positive; predictions are clipped)",
        ),
        TaskSpec(
            "emotion",
            "emotions",
            len(EMOTIONS),
            _emotion_loss,
            _emotion_constant,
            lambda labels, outputs: {f"emo_{k}": v for k, v in emotion_metrics(labels, outputs).items()},
            lambda outputs: _probabilities("emotion", EMOTIONS, outputs.sigmoid()),
            f"- `emotion_<name>`: the probability that each of {', '.join(EMOTIONS)} is present",
        ),
        TaskSpec(
            "emotion4",
            "emotion4",
            len(EMOTION4_CLASSES),
            lambda outputs, labels, options: F.cross_entropy(outputs, labels.reshape(-1).long()),
            _emotion4_constant,
            lambda labels, outputs: classification_metrics(np.ravel(labels), outputs),
            lambda outputs: _probabilities("emotion4", EMOTION4_CLASSES, outputs.softmax(dim=-1)),
            f"- `emotion4_<class>`: probabilities over {', '.join(EMOTION4_CLASSES)} (sum 1)",
        ),
    )
}
"""Every task by name."""
TASKS: tuple[str, ...] = ("sentiment", "emotion")
"""The CMU-MOSI / CMU-MOSEI tasks (the default task set of a model)."""
ALL_TASKS: tuple[str, ...] = tuple(TASK_SPECS)
"""Every task a model may predict."""
TASK_OUTPUTS: dict[str, int] = {name: spec.outputs for name, spec in TASK_SPECS.items()}
"""Output width of each task's head."""
TASK_LABELS: dict[str, str] = {name: spec.label_field for name, spec in TASK_SPECS.items()}
"""The label field (batch key and :class:`~mmolre.data.dataset.SplitData` attribute) of each task."""
__all__ = [
    "ALL_TASKS",
    "SENTIMENT_LOSSES",
    "TASKS",
    "TASK_LABELS",
    "TASK_OUTPUTS",
    "TASK_SPECS",
    "LossOptions",
    "TaskSpec",
    "check_tasks",
    "in_task_order",
    "tasks_for",
]


def in_task_order(tasks: Iterable[str]) -> tuple[str, ...]:
    """``tasks`` in :data:`ALL_TASKS` order (the order of prediction columns, card lines and metrics)."""
    names = set(tasks)
    return tuple(task for task in ALL_TASKS if task in names)


def tasks_for(label_fields: Iterable[str]) -> tuple[str, ...]:
    """The tasks whose label field is among ``label_fields``, in :data:`ALL_TASKS` order."""
    fields = set(label_fields)
    return tuple(task for task in ALL_TASKS if TASK_LABELS[task] in fields)


def check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    """``tasks`` as a tuple, or ValueError unless they are distinct names from :data:`ALL_TASKS`."""
    tasks = tuple(tasks)
    if not tasks or len(set(tasks)) != len(tasks) or any(t not in ALL_TASKS for t in tasks):
        raise ValueError(f"tasks must be distinct names from {ALL_TASKS}, got {tasks}")
    return tasks
