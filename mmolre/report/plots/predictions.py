"""Figures of one model's test predictions: the confusion matrix of a class task, predicted against true sentiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mmolre.metrics import confusion_counts
from mmolre.report.labels import method_label
from mmolre.report.plots.style import OURS
from mmolre.tasks import EMOTION4_CLASSES


def plot_confusion_matrix(
    labels: np.ndarray, logits: Sequence[np.ndarray], classes: Sequence[str] = EMOTION4_CLASSES, title: str = ""
) -> Figure:
    """Confusion matrix of class ``labels`` against argmax of each seed's ``logits``, counts pooled over the
    seeds: each cell is the share of its true class's utterances (rows sum to 1), with the count below it."""
    counts = sum(confusion_counts(labels, np.asarray(scores), len(classes)) for scores in logits)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    notes = np.array([[f"{s:.2f}\n({c})" for s, c in zip(srow, crow)] for srow, crow in zip(shares, counts)])
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(classes), 1.0 + 0.95 * len(classes)))
    sns.heatmap(
        pd.DataFrame(shares, index=list(classes), columns=list(classes)),
        annot=notes,
        fmt="",
        cmap="Blues",
        vmin=0.0,
        vmax=1.0,
        annot_kws={"size": 8},
        cbar_kws={"label": "share of the true class"},
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    seeds = f"{len(logits)} seed{'s' if len(logits) != 1 else ''}"
    ax.set_title(title or f"Confusion matrix (test, counts pooled over {seeds})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_predicted_vs_true(truth: np.ndarray, predictions: Mapping[str, np.ndarray], title: str = "") -> Figure:
    """Predicted against annotated sentiment, one panel per model (``predictions``: model name -> one value per test
    utterance); the diagonal is a perfect prediction, the dotted lines the Acc-2 boundary at 0."""
    truth = np.asarray(truth, dtype=float).reshape(-1)
    names = list(predictions)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.5), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        pred = np.asarray(predictions[name], dtype=float).reshape(-1)
        ax.scatter(truth, pred, s=6, alpha=0.35, color=OURS, linewidths=0)
        ax.plot([-3, 3], [-3, 3], color="0.4", linewidth=1)
        ax.axhline(0.0, color="0.6", linestyle=":", linewidth=1)
        ax.axvline(0.0, color="0.6", linestyle=":", linewidth=1)
        mae = float(np.mean(np.abs(truth - pred)))
        corr = float(np.corrcoef(truth, pred)[0, 1]) if truth.std() > 0 and pred.std() > 0 else float("nan")
        ax.set_title(f"{method_label(name)}\nMAE {mae:.3f}, Corr {corr:.3f}", fontsize=9)
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(min(-3.2, pred.min() - 0.2), max(3.2, pred.max() + 0.2))
        ax.set_xlabel("true sentiment")
    axes[0, 0].set_ylabel("predicted sentiment")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
