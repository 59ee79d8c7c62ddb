"""Figures of one model's test predictions: the confusion matrix of a class task, predicted against true sentiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mmolre.emotions import EMOTION4_CLASSES
from mmolre.models.registry import display_name
from mmolre.report.plots.style import OURS
from mmolre.report.reporter import NoFigure


def plot_confusion_matrix(
    counts: pd.DataFrame | np.ndarray, classes: Sequence[str] | None = None, title: str = ""
) -> Figure | NoFigure:
    """Confusion matrix from its counts: rows are true classes, columns predicted classes (a frame such as
    :func:`mmolre.protocols.classes.pooled_confusion`, or a square array such as
    :func:`mmolre.metrics.confusion_counts`, summed over seeds or runs to pool them). Each cell is coloured by the
    share of its true class's utterances (rows sum to 1) and shows that share with the count below it. ``classes``
    names the rows and columns of an array (default: a frame's own labels, else the four IEMOCAP classes)."""
    if isinstance(counts, pd.DataFrame):
        if list(counts.index) != list(counts.columns):
            raise ValueError(
                f"confusion counts need the same classes as rows and columns, got {list(counts.index)} and "
                f"{list(counts.columns)}"
            )
        names = [str(c) for c in counts.index] if classes is None else list(classes)
        values = counts.to_numpy()
    else:
        values = np.asarray(counts)
        names = list(EMOTION4_CLASSES if classes is None else classes)
    if values.ndim != 2 or values.shape != (len(names), len(names)):
        raise ValueError(f"confusion counts must be a {len(names)} x {len(names)} matrix, got shape {values.shape}")
    values = values.astype(np.int64)
    if values.sum() == 0:
        return NoFigure("no confusion matrix: the counts are all zero (no test utterance was scored)")
    shares = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    notes = np.array([[f"{s:.2f}\n({c})" for s, c in zip(srow, crow)] for srow, crow in zip(shares, values)])
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(names), 1.0 + 0.95 * len(names)))
    sns.heatmap(
        pd.DataFrame(shares, index=names, columns=names),
        annot=notes,
        fmt="",
        cmap="Blues",
        vmin=0.0,
        vmax=1.0,
        annot_kws={"size": 8},
        cbar_kws={"label": "share of the true class"},
        ax=ax,
    )
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"Confusion matrix (test, {int(values.sum())} utterances)", fontsize=10)
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
        ax.set_title(f"{display_name(name)}\nMAE {mae:.3f}, Corr {corr:.3f}", fontsize=9)
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(min(-3.2, pred.min() - 0.2), max(3.2, pred.max() + 0.2))
        ax.set_xlabel("true sentiment")
    axes[0, 0].set_ylabel("predicted sentiment")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
