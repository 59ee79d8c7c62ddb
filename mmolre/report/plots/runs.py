"""Figures of the runs a training notebook made (02-05): parameters per model, efficiency, learning curves, test
metrics per model, paired differences, ablations, text-encoder settings."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

from mmolre.metrics import metric_label
from mmolre.models.registry import display_name
from mmolre.report.plots.style import legend_outside, metric_panels, panel_grid, points
from mmolre.report.reporter import NoFigure


def plot_model_parameters(table: pd.DataFrame) -> Figure:
    """Grouped bar chart of parameters per model and component from :func:`mmolre.models.model_table`."""
    parts = table[table["component"] != "total"]
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(data=parts, x="model", y="parameters", hue="component", ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("")
    ax.set_ylabel("trainable parameters (log scale)")
    ax.tick_params(axis="x", rotation=35)
    ax.set_title("Parameters per model and component")
    legend_outside(ax)
    fig.tight_layout()
    return fig


EFFICIENCY_LABELS: dict[str, str] = {
    "parameters": "parameters",
    "flops_per_sample": "FLOPs per sample",
    "samples_per_s": "samples per second",
    "peak_memory_mb": "peak memory (MB)",
}


def plot_efficiency(table: pd.DataFrame, x: str = "n_experts") -> Figure:
    """Parameters, FLOPs, throughput and peak memory of low-rank vs full-rank mixtures against ``x``."""
    metrics = [m for m in EFFICIENCY_LABELS if m in table.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics) + 1.5, 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        sns.lineplot(data=table, x=x, y=metric, hue="experts", marker="o", ax=ax, legend=ax is axes[0, -1])
        ax.set_xscale("log", base=2)
        if metric != "samples_per_s":
            ax.set_yscale("log")
        ax.set_title(EFFICIENCY_LABELS[metric])
        ax.set_ylabel("")
    legend_outside(axes[0, -1])
    fig.tight_layout()
    return fig


def plot_learning_curves(
    history: pd.DataFrame, best_epoch: int | None = None, metrics: tuple[str, ...] = ("mae", "emo_wa")
) -> Figure | NoFigure:
    """Train/valid loss per epoch, plus the chosen valid metrics present in ``history``; marks the selected epoch.
    Nothing is drawn for a single epoch."""
    if history["epoch"].nunique() < 2:
        return NoFigure("a single epoch was trained, so there is no curve to draw (the table above has its values)")
    shown = [m for m in metrics if m in history.columns and history[m].notna().any()]
    fig, axes = plt.subplots(1, 1 + len(shown), figsize=(4.2 * (1 + len(shown)) + 1.2, 3.3), squeeze=False)
    losses = history.melt(id_vars="epoch", value_vars=["train_loss", "valid_loss"], var_name="curve", value_name="loss")
    losses["curve"] = losses["curve"].str.replace("_loss", "")
    sns.lineplot(data=losses, x="epoch", y="loss", hue="curve", marker="o", ax=axes[0, 0])
    axes[0, 0].set_title("loss")
    for ax, metric in zip(axes[0, 1:], shown):
        sns.lineplot(data=history, x="epoch", y=metric, marker="o", ax=ax)
        ax.set_title(f"valid {metric_label(metric)}")
        ax.set_ylabel(metric_label(metric))
    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
    legend_outside(axes[0, 0])
    fig.tight_layout()
    return fig


def plot_metric_points(
    results: pd.DataFrame, metrics: Sequence[str], x: str = "variant", split: str = "test"
) -> Figure | NoFigure:
    """One panel per metric, one row per ``x`` value (model): mean over seeds with a ± sd error bar and every
    seed as a grey dot, on an axis zoomed to the data."""
    order = [str(v) for v in dict.fromkeys(results[x])]
    frame = results.assign(**{x: results[x].astype(str).map(display_name)})
    labels = [display_name(v) for v in order]
    return metric_panels(
        frame, metrics, split, (3.0, 0.9 + 0.42 * len(order)), lambda p, m, ax: points(ax, p, m, x, labels)
    )


def plot_paired_differences(paired: pd.DataFrame) -> Figure | NoFigure:
    """Paired mean difference (reference - baseline) with its 95 % t interval over seeds and, where the table has
    them (:func:`~mmolre.protocols.paired.add_bootstrap`), the 95 % bootstrap interval over test utterances; one
    panel per metric of a :func:`~mmolre.protocols.paired.paired_table`. Points right of the grey line favour the
    reference when higher is better, left of it when lower is better (panel titles say which)."""
    metrics = list(dict.fromkeys(paired["metric"])) if len(paired) else []
    if not metrics:
        return NoFigure("no model ran beside the reference on the same seeds: nothing to compare")
    grid_rows, columns = panel_grid(len(metrics))
    height = 1.2 + 0.45 * len(paired) / len(metrics)
    fig, axes = plt.subplots(grid_rows, columns, figsize=(3.6 * columns + 1.5, height * grid_rows), squeeze=False)
    intervals = [("ci_low", "ci_high", "95 % t interval over seeds", -0.12)]
    if "boot_low" in paired.columns and paired["boot_low"].notna().any():
        intervals.append(("boot_low", "boot_high", "95 % bootstrap over test utterances", 0.12))
    for ax, metric in zip(axes.flat, metrics):
        part = paired[paired["metric"] == metric].reset_index(drop=True)
        rows = range(len(part))
        for low, high, label, offset in intervals:
            spread = [part["difference"] - part[low], part[high] - part["difference"]]
            ax.errorbar(part["difference"], [r + offset for r in rows], xerr=spread, fmt="o", capsize=3, label=label)
        ax.axvline(0.0, color="grey", linewidth=1)
        ax.set_yticks(list(rows), [display_name(str(b)) for b in part["baseline"]])
        ax.invert_yaxis()
        reference = display_name(str(part["reference"].iloc[0]))
        ax.set_xlabel(f"{reference} − baseline")
        ax.set_title(f"{metric_label(metric)}\n({part['better'].iloc[0]} is better)", fontsize=10)
    for ax in list(axes.flat)[len(metrics) :]:
        fig.delaxes(ax)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_ablation(
    results: pd.DataFrame, metrics: Sequence[str], x: str = "variant", split: str = "test", title: str = ""
) -> Figure | NoFigure:
    """Metric per ablated setting (one row each, in run order): mean over seeds with ± sd error bars, every seed a
    grey dot; one panel per metric, under ``title``. Nothing is drawn for a single setting."""
    order = [str(v) for v in dict.fromkeys(results[x])]
    if len(order) < 2:
        return NoFigure(f"a single setting ({', '.join(order) or 'none'}): nothing to compare (see the table above)")
    frame = results.assign(**{x: results[x].astype(str)})
    fig = metric_panels(
        frame, metrics, split, (3.0, 0.9 + 0.42 * len(order)), lambda p, m, ax: points(ax, p, m, x, order)
    )
    if title:
        fig.suptitle(title, y=1.02)
    return fig


_SECONDS_TICKS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def plot_encoder_comparison(runs: pd.DataFrame, metrics: tuple[str, ...] = ("acc2_non0", "mae", "corr")) -> Figure:
    """Frozen vs fine-tuned text encoders: each test metric against the wall time per epoch (mean over seeds,
    one labelled point per setting), from :func:`mmolre.protocols.encoders.compare_encoders`."""
    test = runs[runs["split"] == "test"]
    shown = [m for m in metrics if m in test.columns]
    means = test.groupby("encoder", sort=False)[[*shown, "seconds_per_epoch"]].mean().reset_index()
    fig, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        sns.scatterplot(
            data=means, x="seconds_per_epoch", y=metric, hue="encoder", s=80, ax=ax, legend=ax is axes[0, 0]
        )
        ax.set_xscale("log")
        low, high = means["seconds_per_epoch"].min(), means["seconds_per_epoch"].max()
        ax.set_xticks([t for t in _SECONDS_TICKS if low / 1.5 <= t <= high * 1.5] or [low, high])
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())  # log-scale minor labels overlap the chosen ticks
        ax.set_xlabel("seconds per epoch (log scale)")
        ax.set_ylabel(metric_label(metric))
        ax.set_title(f"test {metric_label(metric)}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, 0].get_legend().remove()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(labels)), frameon=False)
    return fig
