"""The one metrics module: sentiment (MSA) and emotion (MER) metrics exactly as the field reports them.

Sentiment (CMU-MOSI / CMU-MOSEI, labels in [-3, 3]):
- Has0 Acc-2 / F1: truth >= 0 vs prediction >= 0, on all samples.
- Non0 Acc-2 / F1: samples with truth == 0 dropped, then truth > 0 vs prediction > 0.
- F1 is scikit-learn's weighted F1 with arguments (y_true, y_pred).
- Acc-7 / Acc-5: clip both to [-3, 3] / [-2, 2], round with numpy (half to even), compare.
- MAE on raw (unclipped) predictions; Corr = Pearson correlation.
- MAE / Corr on non-zero labels (``mae_non0``, ``corr_non0``): the same on the samples with truth != 0 only, the
  convention of the official MCULoRA code (its MAE and Corr are computed after dropping neutral labels); reported
  beside ours for comparison with MCULoRA's tables.

Emotions (CMU-MOSEI, multi-label over :data:`mmolre.emotions.EMOTIONS`): an emotion is present when its
intensity is > 0 and predicted present when sigmoid(logit) >= 0.5. Per emotion: weighted accuracy
WA = (TP * N / P + TN) / (2N) (the mean of TPR and TNR) and weighted F1; plus their means.

Four-class emotions (IEMOCAP, one class per utterance, predicted class = argmax of the logits), as GCNet / MCULoRA
report them, pooled over all utterances of the split: WA = accuracy, UA = mean per-class recall (over the classes
present in the truth), wF1 = scikit-learn weighted F1 (weights = class support in the truth); the confusion counts
(:func:`confusion_counts`) and the recall of each class (:func:`class_recall`) give the per-class view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.metrics import f1_score

from mmolre.emotions import EMOTION4_CLASSES, EMOTIONS

SENTIMENT_METRICS: tuple[str, ...] = (
    "acc2_has0",
    "f1_has0",
    "acc2_non0",
    "f1_non0",
    "acc5",
    "acc7",
    "mae",
    "corr",
    "mae_non0",
    "corr_non0",
)


def _as_array(values: Iterable[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or inf")
    return array


def _class_accuracy(truth: np.ndarray, pred: np.ndarray, low: float, high: float) -> float:
    return float(np.mean(np.round(np.clip(truth, low, high)) == np.round(np.clip(pred, low, high))))


def _pearson(truth: np.ndarray, pred: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant (or has fewer than two values)."""
    if truth.size > 1 and truth.std() > 0 and pred.std() > 0:
        return float(np.corrcoef(truth, pred)[0, 1])
    return float("nan")


def sentiment_metrics(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> dict[str, float]:
    """All MSA metrics for continuous sentiment in [-3, 3]; keys are :data:`SENTIMENT_METRICS`."""
    truth = _as_array(y_true, "y_true").reshape(-1)
    pred = _as_array(y_pred, "y_pred").reshape(-1)
    if truth.shape != pred.shape or truth.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and equally long, got {truth.size} and {pred.size}")
    has0_true, has0_pred = truth >= 0, pred >= 0
    nonzero = truth != 0
    non0_true, non0_pred = truth[nonzero] > 0, pred[nonzero] > 0
    return {
        "acc2_has0": float(np.mean(has0_true == has0_pred)),
        "f1_has0": float(f1_score(has0_true, has0_pred, average="weighted")),
        "acc2_non0": float(np.mean(non0_true == non0_pred)) if nonzero.any() else float("nan"),
        "f1_non0": float(f1_score(non0_true, non0_pred, average="weighted")) if nonzero.any() else float("nan"),
        "acc5": _class_accuracy(truth, pred, -2.0, 2.0),
        "acc7": _class_accuracy(truth, pred, -3.0, 3.0),
        "mae": float(np.mean(np.abs(truth - pred))),
        "corr": _pearson(truth, pred),
        "mae_non0": float(np.mean(np.abs(truth - pred)[nonzero])) if nonzero.any() else float("nan"),
        "corr_non0": _pearson(truth[nonzero], pred[nonzero]),
    }


def weighted_accuracy(present_true: np.ndarray, present_pred: np.ndarray) -> float:
    """WA = (TP * N / P + TN) / (2N) for boolean arrays; NaN when one class is absent from the truth."""
    truth = np.asarray(present_true, dtype=bool)
    pred = np.asarray(present_pred, dtype=bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    true_pos = int((truth & pred).sum())
    true_neg = int((~truth & ~pred).sum())
    return (true_pos * negatives / positives + true_neg) / (2 * negatives)


def emotion_metrics(intensities: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Per-emotion WA and weighted F1 (keys ``wa_<emotion>``, ``f1_<emotion>``) and their means ``wa``, ``f1``.

    ``intensities`` are the annotated intensities (present when > 0); ``logits`` are raw model outputs
    (present when sigmoid >= 0.5, i.e. logit >= 0).
    """
    truth = _as_array(intensities, "intensities")
    scores = _as_array(logits, "logits")
    expected = (truth.shape[0] if truth.ndim else 0, len(EMOTIONS))
    if truth.ndim != 2 or truth.shape != expected or scores.shape != expected:
        raise ValueError(
            f"intensities and logits must both have shape (n, {len(EMOTIONS)}), got {truth.shape} and {scores.shape}"
        )
    present, predicted = truth > 0, scores >= 0
    result: dict[str, float] = {}
    for column, emotion in enumerate(EMOTIONS):
        result[f"wa_{emotion}"] = weighted_accuracy(present[:, column], predicted[:, column])
        result[f"f1_{emotion}"] = float(f1_score(present[:, column], predicted[:, column], average="weighted"))
    result["wa"] = float(np.nanmean([result[f"wa_{e}"] for e in EMOTIONS]))
    result["f1"] = float(np.mean([result[f"f1_{e}"] for e in EMOTIONS]))
    return result


CLASSIFICATION_METRICS: tuple[str, ...] = ("wa", "ua", "wf1")


def classification_metrics(
    labels: Sequence[int] | np.ndarray, logits: np.ndarray, n_classes: int = len(EMOTION4_CLASSES)
) -> dict[str, float]:
    """WA (accuracy), UA (mean per-class recall) and weighted F1 of argmax(``logits``) against class ``labels``."""
    truth = _as_array(labels, "labels").reshape(-1)
    scores = _as_array(logits, "logits")
    if scores.ndim != 2 or scores.shape != (truth.size, n_classes) or truth.size == 0:
        raise ValueError(
            f"logits must have shape ({truth.size}, {n_classes}) for {truth.size} labels, got {scores.shape}"
        )
    if (truth != np.round(truth)).any() or truth.min() < 0 or truth.max() >= n_classes:
        raise ValueError(f"labels must be class indices in 0..{n_classes - 1}")
    truth = truth.astype(int)
    pred = scores.argmax(axis=1)
    return {
        "wa": float(np.mean(pred == truth)),
        "ua": float(np.nanmean(class_recall(confusion_counts(truth, scores, n_classes)))),
        "wf1": float(f1_score(truth, pred, average="weighted", zero_division=0)),
    }


def confusion_counts(
    labels: Sequence[int] | np.ndarray, logits: np.ndarray, n_classes: int = len(EMOTION4_CLASSES)
) -> np.ndarray:
    """Counts of (true class, argmax(``logits``)) pairs: rows are true classes, columns predicted classes."""
    truth = _as_array(labels, "labels").reshape(-1).astype(int)
    scores = _as_array(logits, "logits")
    if scores.shape != (truth.size, n_classes):
        raise ValueError(f"logits must have shape ({truth.size}, {n_classes}), got {scores.shape}")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (truth, scores.argmax(axis=1)), 1)
    return counts


def class_recall(counts: np.ndarray) -> np.ndarray:
    """Recall of each true class from :func:`confusion_counts` (rows = true classes): the diagonal over the row
    sums; NaN for a class absent from the truth."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion counts must be a square matrix, got shape {counts.shape}")
    support = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(counts) / support, np.nan)


HEADLINE_METRICS: dict[str, str] = {"sentiment": "acc2_non0", "emotion": "emo_wa", "emotion4": "wa"}
"""The metric each task's tables and figures lead with."""


def headline_metric(tasks: Sequence[str]) -> str:
    """The headline metric of a dataset's tasks: the first task's in :data:`HEADLINE_METRICS`."""
    if not tasks or tasks[0] not in HEADLINE_METRICS:
        raise ValueError(f"no headline metric for tasks {tuple(tasks)}; known: {sorted(HEADLINE_METRICS)}")
    return HEADLINE_METRICS[tasks[0]]


METRIC_LABELS: dict[str, str] = {
    "acc2_has0": "Acc-2 (has-zero)",
    "f1_has0": "F1 (has-zero)",
    "acc2_non0": "Acc-2 (non-zero)",
    "f1_non0": "F1 (non-zero)",
    "acc5": "Acc-5",
    "acc7": "Acc-7",
    "mae": "MAE",
    "corr": "Corr",
    "mae_non0": "MAE (non-zero)",
    "corr_non0": "Corr (non-zero)",
    "emo_wa": "emotion WA",
    "emo_f1": "emotion F1",
    **{f"emo_{kind}_{e}": f"{e} {kind.upper()}" for e in EMOTIONS for kind in ("wa", "f1")},
    "wa": "WA",
    "ua": "UA",
    "wf1": "weighted F1",
}
"""The one display name of every metric column (tables, figure axes and titles)."""


def metric_label(name: str) -> str:
    """The display name of a metric column (:data:`METRIC_LABELS`; the name itself when it has none)."""
    return METRIC_LABELS.get(name, name)
