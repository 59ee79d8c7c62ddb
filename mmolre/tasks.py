"""The one owner of tasks: names, label fields, output widths and which tasks a dataset labels.

- ``sentiment`` (MSA): one regression output, labels in [-3, 3] in ``batch["sentiment"]``.
- ``emotion`` (MER): six logits over :data:`EMOTIONS` (CMU-MOSEI), an emotion is present when its intensity in
  ``batch["emotions"]`` is > 0.
- ``emotion4`` (IEMOCAP four-class): four logits over :data:`EMOTION4_CLASSES`, one class index 0..3 per utterance in
  ``batch["emotion4"]`` (single-label classification, cross-entropy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TASKS: tuple[str, ...] = ("sentiment", "emotion")
"""The CMU-MOSI / CMU-MOSEI tasks (the default task set of a model)."""
ALL_TASKS: tuple[str, ...] = (*TASKS, "emotion4")
"""Every task a model may predict."""
EMOTIONS: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
EMOTION4_CLASSES: tuple[str, ...] = ("happy", "sad", "neutral", "angry")
"""IEMOCAP four-class labels 0..3 in the GCNet/MCULoRA pickle; ``happy`` includes ``excited`` (merged there)."""
TASK_OUTPUTS: dict[str, int] = {"sentiment": 1, "emotion": len(EMOTIONS), "emotion4": len(EMOTION4_CLASSES)}
"""Output width of each task's head."""
TASK_LABELS: dict[str, str] = {"sentiment": "sentiment", "emotion": "emotions", "emotion4": "emotion4"}
"""The label field (batch key and :class:`~mmolre.data.dataset.SplitData` attribute) of each task."""


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
