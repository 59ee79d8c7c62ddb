"""Figures of the recorded results beside the published numbers (notebook 07 and the dashboard): ours and published per
dataset, ours minus the strongest published number, emotions per category, the headline gaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mmolre.emotions import EMOTIONS
from mmolre.metrics import metric_label
from mmolre.models.registry import display_name
from mmolre.protocols.paired import lower_is_better
from mmolre.report.plots.style import OURS, PUBLISHED, SEED_DOTS, dataset_panels, datasets_of, legend_outside, points
from mmolre.report.reporter import NoFigure


class RecordedRuns(Protocol):
    """What :func:`plot_emotion_results` reads of :class:`mmolre.results.recorded.RecordedRuns` (the figures do
    not import the results)."""

    sentiment: pd.DataFrame


def plot_published_comparison(frame: pd.DataFrame, metric: str = "acc2_non0", title: str = "") -> Figure | NoFigure:
    """One panel per dataset, one row per method: ours as mean ± sd over seeds (each seed a grey dot), published
    numbers as red squares, on an axis zoomed to the data; from :func:`~mmolre.results.tables.comparison_frame`."""
    datasets = datasets_of(frame, metric)
    if not datasets:
        return NoFigure(f"no recorded run has {metric_label(metric)}")
    sizes = [frame[(frame["dataset"] == d) & frame[metric].notna()]["method"].nunique() for d in datasets]
    fig, axes = dataset_panels(sizes)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = frame[(frame["dataset"] == dataset) & frame[metric].notna()]
        order = list(dict.fromkeys(part["method"]))
        ours, published = part[part["kind"] == "ours"], part[part["kind"] == "published"]
        points(ax, ours, metric, "method", order)
        rows = {name: i for i, name in enumerate(order)}
        ax.scatter(published[metric], published["method"].map(rows), marker="s", color=PUBLISHED, zorder=3)
        ax.set_title(dataset, fontsize=10, loc="left")
        ax.set_xlabel("")
    axes[-1, 0].set_xlabel(
        f"{metric_label(metric)} (test; {'lower' if lower_is_better(metric) else 'higher'} is better)"
    )
    handles = [
        plt.Line2D([], [], marker="D", color=OURS, linestyle="none", label="ours: mean ± sd over seeds"),
        plt.Line2D([], [], marker="o", color=SEED_DOTS, linestyle="none", markersize=4, label="ours: one seed"),
        plt.Line2D([], [], marker="s", color=PUBLISHED, linestyle="none", label="published"),
    ]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - (0.4 / fig.get_figheight() if title else 0.0)))
    return fig


def published_gaps(frame: pd.DataFrame, metric: str = "acc2_non0") -> pd.DataFrame:
    """Per dataset, every seed of every method of ours minus the strongest published number on that dataset
    (highest, or lowest for an error metric); columns ``dataset, method, gap, published_method, published``.
    Datasets without a published number are left out."""
    columns = ["dataset", "method", "gap", "published_method", "published"]
    rows = []
    for dataset, part in frame[frame[metric].notna()].groupby("dataset", sort=False):
        published = part[part["kind"] == "published"]
        if published.empty:
            continue
        best = published.loc[published[metric].idxmin() if lower_is_better(metric) else published[metric].idxmax()]
        ours = part[part["kind"] == "ours"]
        rows += [
            {
                "dataset": dataset,
                "method": method,
                "gap": value - best[metric],
                "published_method": best["method"],
                "published": best[metric],
            }
            for method, value in zip(ours["method"], ours[metric])
        ]
    return pd.DataFrame(rows, columns=columns)


def plot_published_gaps(frame: pd.DataFrame, metric: str = "acc2_non0") -> Figure | NoFigure:
    """Ours minus the strongest published number on the same dataset (:func:`published_gaps`): one panel per
    dataset, one row per method of ours, mean ± sd over seeds; the grey line is the published number."""
    gaps = published_gaps(frame, metric)
    datasets = datasets_of(gaps.rename(columns={"gap": metric}), metric)
    if not datasets:
        return NoFigure(f"no dataset has both a run of ours and a published {metric_label(metric)}")
    sizes = [gaps[gaps["dataset"] == d]["method"].nunique() for d in datasets]
    fig, axes = dataset_panels(sizes)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = gaps[gaps["dataset"] == dataset]
        points(ax, part, "gap", "method", list(dict.fromkeys(part["method"])))
        ax.axvline(0.0, color="0.4", linewidth=1)
        best = part.iloc[0]
        ax.set_title(
            f"{dataset}: against {best['published_method']} ({best['published']:.4f})", fontsize=10, loc="left"
        )
        ax.set_xlabel("")
    better = "right" if not lower_is_better(metric) else "left"
    axes[-1, 0].set_xlabel(f"{metric_label(metric)}: ours − strongest published (test; {better} of 0 is better)")
    fig.tight_layout()
    return fig


def plot_emotion_results(runs: RecordedRuns, kind: str = "wa") -> Figure | NoFigure:
    """Per-emotion weighted accuracy (``wa``) or weighted F1 (``f1``) per model, test split: mean ± sd over seeds as
    dodged points, one panel per dataset with emotion runs."""
    frame = runs.sentiment
    columns = [f"emo_{kind}_{e}" for e in EMOTIONS]
    if frame.empty or not set(columns) <= set(frame.columns) or frame[columns[0]].notna().sum() == 0:
        return NoFigure("no recorded run has emotion labels")
    test = frame[(frame["split"] == "test") & frame[columns[0]].notna()]
    test = test.assign(method=test["model"].map(lambda m: display_name(str(m))) + " (" + test["profile"] + ")")
    label = metric_label(f"emo_{kind}").removeprefix("emotion ")
    long = test.melt(id_vars=["dataset", "method"], value_vars=columns, var_name="emotion", value_name=label)
    long["emotion"] = long["emotion"].str.removeprefix(f"emo_{kind}_")
    datasets = sorted(set(long["dataset"]))
    fig, axes = plt.subplots(len(datasets), 1, figsize=(10, 3.8 * len(datasets)), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        sns.pointplot(
            data=long[long["dataset"] == dataset],
            x="emotion",
            y=label,
            hue="method",
            errorbar="sd",
            dodge=0.35,
            linestyle="none",
            marker="o",
            markersize=4,
            capsize=0.05,
            ax=ax,
        )
        ax.set_title(f"{dataset}: {label} per emotion (test, mean ± sd over seeds)", fontsize=10)
        ax.grid(axis="y", color="0.9")
        legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_headline_gaps(records: Sequence[Mapping[str, object]]) -> Figure | NoFigure:
    """One row per dataset of :func:`~mmolre.results.headline.headline_records` that has a published number: our
    best run minus the strongest published number (mean, ± sd over seeds), positive when ours is better."""
    shown = [r for r in records if r["gap"] is not None]
    if not shown:
        return NoFigure("no dataset has both a run of ours and a published number to compare with")
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.55 * len(shown)))
    rows = range(len(shown))
    spread = [0.0 if np.isnan(float(r["std"])) else float(r["std"]) for r in shown]
    ax.errorbar([float(r["gap"]) for r in shown], rows, xerr=spread, fmt="D", color=OURS, capsize=4)
    ax.axvline(0.0, color="0.4", linewidth=1)
    labels = [f"{r['dataset']}, {metric_label(str(r['metric']))}\nvs {r['published'].label}" for r in shown]
    ax.set_yticks(list(rows), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min(-0.01, ax.get_xlim()[0]), max(0.01, ax.get_xlim()[1]))
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel("our best run − strongest published number (test; right of 0: ours better)")
    ax.set_title("How far our best runs are from the published numbers", fontsize=10)
    fig.tight_layout()
    return fig
