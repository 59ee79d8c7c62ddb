"""The per-class view of four-class emotion results (IEMOCAP): confusion counts per run, the recall of each class
over runs, and the confusion matrix pooled over runs (its figure is drawn from these counts by
:func:`mmolre.report.plots.plot_confusion_matrix`, the one confusion-matrix figure).

Every run is scored on the test split with every modality the dataset has; a run is one method, rank, seed and,
over IEMOCAP's five folds, fold (:mod:`mmolre.protocols.folds`).
"""

from __future__ import annotations

import pandas as pd

from mmolre.data.dataset import MultimodalDataset
from mmolre.emotions import EMOTION4_CLASSES
from mmolre.metrics import class_recall, confusion_counts
from mmolre.models.base import AffectModel
from mmolre.train.evaluation import predict

PAIR_COLUMNS: tuple[str, ...] = ("true", "predicted", "count")
"""The columns of a confusion frame besides those naming the run."""


def confusion_frame(model: AffectModel, dataset: MultimodalDataset, split: str = "test") -> pd.DataFrame:
    """One row per (true, predicted) class with its count on ``split`` (an evaluator of
    :func:`~mmolre.protocols.driver.run_experiment`); empty when the dataset has no four-class labels."""
    if "emotion4" not in dataset.tasks:
        return pd.DataFrame()
    logits = predict(model, dataset, split)["emotion4"]
    counts = confusion_counts(dataset.splits[split].utterance_labels()["emotion4"].numpy(), logits)
    return pd.DataFrame(
        [
            {"true": true, "predicted": predicted, "count": int(counts[i, j])}
            for i, true in enumerate(EMOTION4_CLASSES)
            for j, predicted in enumerate(EMOTION4_CLASSES)
        ]
    )


def _matrix(part: pd.DataFrame) -> pd.DataFrame:
    """Counts summed over the rows of ``part``: true classes as rows, predicted classes as columns."""
    table = part.pivot_table(index="true", columns="predicted", values="count", aggfunc="sum", fill_value=0)
    return table.reindex(index=list(EMOTION4_CLASSES), columns=list(EMOTION4_CLASSES), fill_value=0).astype(int)


def recall_per_class(confusion: pd.DataFrame) -> pd.DataFrame:
    """Per run (every column but :data:`PAIR_COLUMNS`) and class: ``recall`` and ``support`` (test utterances)."""
    runs = [c for c in confusion.columns if c not in PAIR_COLUMNS]
    rows = []
    for key, part in confusion.groupby(runs, sort=False):
        matrix = _matrix(part)
        recall = class_recall(matrix.to_numpy())
        for name, value, support in zip(EMOTION4_CLASSES, recall, matrix.sum(axis=1)):
            run = dict(zip(runs, key if isinstance(key, tuple) else (key,)))
            rows.append({**run, "class": name, "recall": value, "support": int(support)})
    return pd.DataFrame(rows)


def pooled_confusion(confusion: pd.DataFrame, method: str) -> pd.DataFrame:
    """``method``'s confusion counts summed over its runs (rows: true class, columns: predicted class)."""
    part = confusion[confusion["method"] == method]
    if part.empty:
        raise ValueError(f"no confusion counts for method {method!r}; methods: {sorted(set(confusion['method']))}")
    return _matrix(part)
