"""Summary tables and seaborn figures describing a :class:`~mmolre.dataset.MultimodalDataset` (notebook 01)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mmolre.data.dataset import MultimodalDataset
from mmolre.emotions import EMOTION4_CLASSES, EMOTIONS
from mmolre.modalities import MODALITIES


def split_table(data: MultimodalDataset) -> pd.DataFrame:
    """One row per split: size (samples, and utterances for context datasets), sentiment mean/std and share of
    non-negative sentiment, and for four-class emotions the share of each class."""
    rows = []
    for split, part in data.splits.items():
        labels = part.utterance_labels()
        row: dict[str, object] = {"split": split, "n": len(part)}
        if part.positions is not None:
            row["utterances"] = int(part.positions.sum())
        if "sentiment" in labels:
            y = labels["sentiment"].numpy()
            row.update(
                sentiment_mean=float(y.mean()), sentiment_std=float(y.std()), share_nonnegative=float((y >= 0).mean())
            )
        if "emotion4" in labels:
            counts = np.bincount(labels["emotion4"].numpy(), minlength=len(EMOTION4_CLASSES))
            row.update({f"share_{name}": float(c / counts.sum()) for name, c in zip(EMOTION4_CLASSES, counts)})
        rows.append(row)
    return pd.DataFrame(rows)


def modality_table(data: MultimodalDataset) -> pd.DataFrame:
    """Per modality: width, sequence length, whether it is real, and the share of samples where it is present."""
    rows = []
    for column, modality in enumerate(MODALITIES):
        values = data.splits["train"].features.get(modality)
        row = {
            "modality": modality,
            "dim": None if values is None else int(values.shape[-1]),
            "seq_len": None if values is None else int(values.shape[1]),
            "real": modality in data.real_modalities,
        }
        for split, part in data.splits.items():
            row[f"present_{split}"] = float(part.mask[:, column].float().mean())
        rows.append(row)
    return pd.DataFrame(rows).astype({"dim": "Int64", "seq_len": "Int64"})


def sentiment_frame(data: MultimodalDataset) -> pd.DataFrame:
    """Long frame ``split, sentiment`` (one row per utterance) over all splits."""
    return pd.concat(
        [
            pd.DataFrame({"split": split, "sentiment": part.utterance_labels()["sentiment"].numpy()})
            for split, part in data.splits.items()
        ],
        ignore_index=True,
    )


def plot_label_distribution(data: MultimodalDataset) -> Figure:
    """Sentiment histogram per split (:func:`plot_sentiment_distribution`), or, for four-class emotions, the share
    of each class per split."""
    if "sentiment" in data.tasks:
        return plot_sentiment_distribution(data)
    table = split_table(data).melt(
        id_vars="split", value_vars=[f"share_{c}" for c in EMOTION4_CLASSES], var_name="class", value_name="share"
    )
    table["class"] = table["class"].str.removeprefix("share_")
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.barplot(data=table, x="class", y="share", hue="split", ax=ax)
    ax.set_ylabel("share of the split (bars start at 0)")
    ax.set_title(f"{data.name}: class distribution")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_sentiment_distribution(data: MultimodalDataset) -> Figure:
    """Histogram of sentiment per split (density, so splits of different size compare)."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.histplot(
        data=sentiment_frame(data),
        x="sentiment",
        hue="split",
        stat="density",
        common_norm=False,
        bins=np.linspace(-3, 3, 25),
        element="step",
        ax=ax,
    )
    ax.set_title(f"{data.name}: sentiment distribution")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def emotion_cooccurrence(data: MultimodalDataset, split: str = "train") -> pd.DataFrame:
    """P(column emotion present | row emotion present) on ``split``; the diagonal is each emotion's prevalence."""
    emotions = data.splits[split].emotions
    if emotions is None:
        raise ValueError(f"{data.name} has no emotion labels")
    present = (emotions.numpy() > 0).astype(float)
    counts = present.T @ present
    prevalence = present.mean(axis=0)
    table = counts / np.maximum(np.diag(counts)[:, None], 1.0)
    np.fill_diagonal(table, prevalence)
    return pd.DataFrame(table, index=list(EMOTIONS), columns=list(EMOTIONS))


def plot_emotion_cooccurrence(data: MultimodalDataset, split: str = "train") -> Figure:
    """Heatmap of :func:`emotion_cooccurrence`."""
    table = emotion_cooccurrence(data, split)
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    sns.heatmap(
        table,
        annot=True,
        fmt=".2f",
        cmap="mako",
        vmin=0,
        vmax=1,
        ax=ax,
        cbar_kws={"label": "P(column | row); diagonal = prevalence"},
    )
    ax.set_title(f"{data.name} ({split}): emotion co-occurrence")
    fig.tight_layout()
    return fig


def plot_modality_availability(data: MultimodalDataset) -> Figure:
    """Share of samples with each modality present, per split."""
    table = modality_table(data).melt(
        id_vars="modality", value_vars=[f"present_{s}" for s in data.splits], var_name="split", value_name="present"
    )
    table["split"] = table["split"].str.removeprefix("present_")
    fig, ax = plt.subplots(figsize=(6, 3.2))
    sns.barplot(data=table, x="modality", y="present", hue="split", ax=ax)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of samples present (from 0)")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(f"{data.name}: modality availability")
    fig.tight_layout()
    return fig
