"""What every figure shares: colours, the points-with-error-bars layout on a zoomed axis, legends outside the
data, one panel per metric or per dataset."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mmolre.data.registry import display_order
from mmolre.metrics import metric_label
from mmolre.protocols.paired import lower_is_better
from mmolre.report.reporter import NoFigure

OURS, PUBLISHED, SEED_DOTS = "tab:blue", "tab:red", "0.65"
"""Colours of our points, published numbers and the single seeds behind a mean."""


def legend_outside(ax: Axes, title: str | None = None) -> None:
    """Move the axes' legend to the right of the panel (nothing when it has none)."""
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title=title, fontsize=8)


def points(ax: Axes, frame: pd.DataFrame, value: str, label: str, order: Sequence[str]) -> None:
    """One row per ``label``: every seed as a grey dot and the mean with a ± sd error bar, on a zoomed axis."""
    sns.stripplot(data=frame, x=value, y=label, order=order, color=SEED_DOTS, size=3, jitter=0.12, ax=ax)
    sns.pointplot(
        data=frame,
        x=value,
        y=label,
        order=order,
        errorbar="sd",
        linestyle="none",
        color=OURS,
        marker="D",
        markersize=5,
        capsize=0.25,
        ax=ax,
    )
    ax.set_ylabel("")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # a narrow zoomed panel would crowd its tick labels
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)


PANELS_PER_ROW = 5
"""Most metric panels side by side; more wrap onto further rows of equal length."""


def panel_grid(panels: int) -> tuple[int, int]:
    """Rows and columns for ``panels`` panels: at most :data:`PANELS_PER_ROW` a row, the rows as even as possible."""
    rows = max(1, math.ceil(panels / PANELS_PER_ROW))
    return rows, math.ceil(panels / rows)


def metric_panels(
    results: pd.DataFrame,
    metrics: Sequence[str],
    split: str,
    size: tuple[float, float],
    draw: Callable[[pd.DataFrame, str, Axes], None],
) -> Figure | NoFigure:
    """One panel per metric present in ``results`` (rows of ``split`` only), drawn by ``draw(part, metric, ax)``;
    more than :data:`PANELS_PER_ROW` panels wrap onto rows of at most that many (as even as possible)."""
    part = results[results["split"] == split] if "split" in results else results
    metrics = [m for m in metrics if m in part.columns and part[m].notna().any()]
    if not metrics:
        return NoFigure(f"no {split} metrics to draw")
    rows, columns = panel_grid(len(metrics))
    fig, axes = plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False)
    for index, (ax, metric) in enumerate(zip(axes.flat, metrics)):
        draw(part, metric, ax)
        better = "lower" if lower_is_better(metric) else "higher"
        ax.set_title(f"{split} {metric_label(metric)}\n({better} is better)", fontsize=10)
        ax.set_xlabel(metric_label(metric))
        if index % columns:
            ax.set_yticklabels([])
    for ax in list(axes.flat)[len(metrics) :]:
        fig.delaxes(ax)
    fig.tight_layout()
    return fig


def datasets_of(frame: pd.DataFrame, metric: str) -> list[str]:
    """Datasets of ``frame`` with at least one value of ``metric``, in the registry's order (then by name)."""
    found = set(frame.loc[frame[metric].notna(), "dataset"]) if metric in frame else set()
    order = display_order()
    return [d for d in order if d in found] + sorted(found - set(order))


def dataset_panels(sizes: list[int]) -> tuple[Figure, np.ndarray]:
    """One full-width panel per dataset, each as tall as its number of rows (``sizes``)."""
    return plt.subplots(
        len(sizes),
        1,
        figsize=(7.5, 0.9 * len(sizes) + 0.32 * sum(sizes)),
        squeeze=False,
        gridspec_kw={"height_ratios": sizes},
    )
