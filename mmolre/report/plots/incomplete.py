"""Figures of the incomplete-modality protocol (notebook 06): per test condition, against the missing rate, the DPFT
sampling probabilities and their per-modality trajectories, and the MCLA rank."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mmolre.metrics import metric_label
from mmolre.modalities import MODALITIES
from mmolre.models.registry import display_name
from mmolre.protocols.dpft_trajectory import UNIFORM
from mmolre.report.plots.style import legend_outside
from mmolre.report.reporter import NoFigure


def plot_condition_points(conditions: pd.DataFrame, metric: str = "acc2_non0") -> Figure | NoFigure:
    """One metric per applicable test condition (and their average) and method: mean ± sd over seeds as dodged
    points on a zoomed axis. Nothing is drawn when a single condition applies (its row is the average)."""
    kept = conditions[conditions["applicable"].astype(bool) & conditions[metric].notna()]
    fixed = [c for c in dict.fromkeys(kept["condition"]) if c != "avg"]
    if len(fixed) < 2:
        return NoFigure(
            f"only condition {', '.join(fixed) or 'none'} applies: the tables above have every method on it"
        )
    kept = kept.assign(method=kept["method"].astype(str).map(display_name))
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.pointplot(
        data=kept,
        x="condition",
        y=metric,
        hue="method",
        errorbar="sd",
        dodge=min(0.8, 0.12 * kept["method"].nunique()),
        linestyle="none",
        marker="o",
        markersize=5,
        capsize=0.05,
        ax=ax,
    )
    ax.set_xlabel("test condition (a = audio, t = text, v = vision)")
    ax.set_ylabel(metric_label(metric))
    ax.grid(axis="y", color="0.9")
    ax.set_title(f"{metric_label(metric)} per test condition (mean ± sd over seeds)")
    legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_missing_rates(rates: pd.DataFrame, metric: str = "acc2_non0") -> Figure | NoFigure:
    """One metric against the random missing rate, one line per method (band = sd over seeds). Nothing is drawn
    for a single rate."""
    if rates.empty or rates["rate"].nunique() < 2:
        shown = ", ".join(f"{r:g}" for r in sorted(set(rates.get("rate", [])))) or "none"
        return NoFigure(f"a single missing rate ({shown}): the table below has every method at it")
    frame = rates.assign(method=rates["method"].astype(str).map(display_name))
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.lineplot(data=frame, x="rate", y=metric, hue="method", marker="o", errorbar="sd", ax=ax)
    ax.set_xlabel("missing rate (each modality of each test sample dropped, at least one kept)")
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"{metric_label(metric)} under random missing modalities")
    legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_sampling_probabilities(
    sampling: pd.DataFrame, hue: str = "combination", title: str = "DPFT sampling probability per modality combination"
) -> Figure | NoFigure:
    """DPFT sampling probability per epoch, one line per ``hue`` value (combination or modality), mean over seeds
    with a ± sd band clipped to [0, 1], from :func:`mmolre.protocols.incomplete.sampling_long`."""
    if sampling.empty or sampling["epoch"].nunique() < 2:
        return NoFigure("the sampling probabilities were recorded for a single epoch: no curve to draw")
    stats = sampling.groupby([hue, "epoch"], sort=False)["probability"].agg(["mean", "std"]).reset_index()
    fig, ax = plt.subplots(figsize=(8, 4))
    for (name, part), colour in zip(stats.groupby(hue, sort=False), sns.color_palette(n_colors=stats[hue].nunique())):
        spread = part["std"].fillna(0.0)
        ax.plot(part["epoch"], part["mean"], marker=".", color=colour, label=str(name))
        low, high = np.clip(part["mean"] - spread, 0.0, 1.0), np.clip(part["mean"] + spread, 0.0, 1.0)
        ax.fill_between(part["epoch"], low, high, color=colour, alpha=0.2, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = float(stats["mean"].min()), float(stats["mean"].max())
    ax.set_ylim(max(0.0, low - 0.05) - 0.01, min(1.0, high + 0.05) + 0.01)  # a change of 0.003 looks like one
    ax.set_xlabel("epoch")
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend(title=hue)
    legend_outside(ax, title=hue)
    fig.tight_layout()
    return fig


def plot_rank_ablation(conditions: pd.DataFrame, metric: str = "acc2_non0") -> Figure | NoFigure:
    """One metric on the condition average against the MCLA rank (band = sd over seeds). Nothing is drawn for a
    single rank."""
    avg = conditions[conditions["condition"] == "avg"]
    if avg["rank"].nunique() < 2:
        ranks = ", ".join(str(r) for r in sorted(set(avg["rank"]))) or "none"
        return NoFigure(f"a single rank ({ranks}): nothing to compare (see the table)")
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(data=avg, x="rank", y=metric, marker="o", errorbar="sd", ax=ax)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("MCLA rank r (MLP rank 2r)")
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"{metric_label(metric)}, average over test conditions")
    fig.tight_layout()
    return fig


def plot_modality_trajectories(trajectories: pd.DataFrame) -> Figure:
    """One panel per modality: the presence probability per epoch of every DPFT method (mean over runs, band =
    min to max over runs; dots, where the selected epochs are recorded: for each epoch selected on valid, the last
    probabilities that drew that model's batches, i.e. the state before that epoch's update, mean over the runs that
    selected it) and the uniform baseline (dashed)."""
    presence = trajectories[trajectories["quantity"] == "presence"]
    modalities = [m for m in MODALITIES if m in set(presence["modality"])]
    methods = [m for m in presence["method"].unique() if m != UNIFORM]
    colours = dict(zip(methods, sns.color_palette(n_colors=max(len(methods), 1))))
    fig, axes = plt.subplots(1, len(modalities), figsize=(4.2 * len(modalities) + 1.8, 3.6), sharey=True, squeeze=False)
    for ax, modality in zip(axes[0], modalities):
        for method, part in presence[presence["modality"] == modality].groupby("method", sort=False):
            stats = part.groupby("epoch")["probability"].agg(["mean", "min", "max"])
            uniform = method == UNIFORM
            colour = "0.35" if uniform else colours[method]
            ax.plot(stats.index, stats["mean"], color=colour, linestyle="--" if uniform else "-", label=method)
            if not uniform:
                ax.fill_between(stats.index, stats["min"], stats["max"], color=colour, alpha=0.2, linewidth=0)
            if not uniform and "best_epoch" in part and part["best_epoch"].notna().all():
                # the last probabilities that drew a selected model's batches: the state before its epoch's update
                drew = part[part["epoch"] == part["best_epoch"] - 1].groupby("epoch")["probability"].mean()
                ax.plot(drew.index, drew, "o", color=colour, markersize=5, markeredgecolor="white")
        ax.set_title(modality)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    values = presence["probability"]
    pad = max(0.02, 0.1 * float(values.max() - values.min()))
    axes[0][0].set_ylim(float(np.clip(values.min() - pad, 0, 1)), float(np.clip(values.max() + pad, 0, 1)))
    axes[0][0].set_ylabel("P(modality kept in a batch)")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    fig.suptitle(
        "DPFT: probability that a training batch keeps each modality (band: min to max over runs; dots: the last "
        "draws of the epochs selected on valid)"
    )
    fig.tight_layout()
    return fig
