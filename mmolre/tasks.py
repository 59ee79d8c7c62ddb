"""The one owner of tasks: names, label fields, output widths and which tasks a dataset labels.

- ``sentiment`` (MSA): one regression output, labels in [-3, 3] in ``batch["sentiment"]``.
- ``emotion`` (MER): six logits over :data:`EMOTIONS` (CMU-MOSEI), an emotion is present when its intensity in
  ``batch["emotions"]`` is > 0.
"""

from __future__ import annotations

from collections.abc import Sequence

TASKS: tuple[str, ...] = ("sentiment", "emotion")
EMOTIONS: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
TASK_OUTPUTS: dict[str, int] = {"sentiment": 1, "emotion": len(EMOTIONS)}
"""Output width of each task's head."""


def tasks_for(has_emotions: bool) -> tuple[str, ...]:
    """The tasks a dataset labels: sentiment always, emotion only with emotion labels."""
    return TASKS if has_emotions else ("sentiment",)


def check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    """``tasks`` as a tuple, or ValueError unless they are distinct names from :data:`TASKS`."""
    tasks = tuple(tasks)
    if not tasks or len(set(tasks)) != len(tasks) or any(t not in TASKS for t in tasks):
        raise ValueError(f"tasks must be distinct names from {TASKS}, got {tasks}")
    return tasks
