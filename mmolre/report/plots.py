"""Seaborn figures shared by notebooks and benchmarks; each function returns a matplotlib Figure, or a
:class:`~mmolre.report.reporter.NoFigure` saying why nothing is drawn (one point, one epoch, nothing to compare).

Metrics are drawn as points with error bars (± one standard deviation over seeds, each seed a small grey dot) on an
axis zoomed to the data, never as bars from zero; axes and titles use :func:`mmolre.metrics.metric_label`; legends
sit outside the data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mmolre.metrics import confusion_counts, metric_label
from mmolre.protocols.paired import lower_is_better
from mmolre.report.recorded import DATASET_ORDER, RecordedRuns
from mmolre.report.reporter import NoFigure
from mmolre.report.results import method_label
from mmolre.tasks import EMOTION4_CLASSES, EMOTIONS

OURS, PUBLISHED, SEED_DOTS = "tab:blue", "tab:red", "0.65"
"""Colours of our points, published numbers and the single seeds behind a mean."""


def _legend_outside(ax: Axes, title: str | None = None) -> None:
    """Move the axes' legend to the right of the panel (nothing when it has none)."""
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title=title, fontsize=8)


def _points(ax: Axes, frame: pd.DataFrame, value: str, label: str, order: Sequence[str]) -> None:
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
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)


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
    _legend_outside(ax)
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
    _legend_outside(axes[0, -1])
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
    _legend_outside(axes[0, 0])
    fig.tight_layout()
    return fig


def _metric_panels(
    results: pd.DataFrame,
    metrics: Sequence[str],
    split: str,
    size: tuple[float, float],
    draw: Callable[[pd.DataFrame, str, Axes], None],
) -> Figure | NoFigure:
    """One panel per metric present in ``results`` (rows of ``split`` only), drawn by ``draw(part, metric, ax)``."""
    part = results[results["split"] == split] if "split" in results else results
    metrics = [m for m in metrics if m in part.columns and part[m].notna().any()]
    if not metrics:
        return NoFigure(f"no {split} metrics to draw")
    fig, axes = plt.subplots(1, len(metrics), figsize=(size[0] * len(metrics), size[1]), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        draw(part, metric, ax)
        better = "lower" if lower_is_better(metric) else "higher"
        ax.set_title(f"{split} {metric_label(metric)}\n({better} is better)", fontsize=10)
        ax.set_xlabel(metric_label(metric))
    for ax in axes[0, 1:]:
        ax.set_yticklabels([])
    fig.tight_layout()
    return fig


def plot_metric_points(
    results: pd.DataFrame, metrics: Sequence[str], x: str = "variant", split: str = "test"
) -> Figure | NoFigure:
    """One panel per metric, one row per ``x`` value (model): mean over seeds with a ± sd error bar and every
    seed as a grey dot, on an axis zoomed to the data."""
    order = [str(v) for v in dict.fromkeys(results[x])]
    frame = results.assign(**{x: results[x].astype(str).map(method_label)})
    labels = [method_label(v) for v in order]
    return _metric_panels(
        frame, metrics, split, (3.0, 0.9 + 0.42 * len(order)), lambda p, m, ax: _points(ax, p, m, x, labels)
    )


def plot_paired_differences(paired: pd.DataFrame) -> Figure | NoFigure:
    """Paired mean difference (reference - baseline) with its 95 % t interval over seeds and, where the table has
    them (:func:`~mmolre.protocols.paired.add_bootstrap`), the 95 % bootstrap interval over test utterances; one
    panel per metric of a :func:`~mmolre.protocols.paired.paired_table`. Points right of the grey line favour the
    reference when higher is better, left of it when lower is better (panel titles say which)."""
    metrics = list(dict.fromkeys(paired["metric"])) if len(paired) else []
    if not metrics:
        return NoFigure("no model ran beside the reference on the same seeds: nothing to compare")
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(3.6 * len(metrics) + 1.5, 1.2 + 0.45 * len(paired) / len(metrics)), squeeze=False
    )
    intervals = [("ci_low", "ci_high", "95 % t interval over seeds", -0.12)]
    if "boot_low" in paired.columns and paired["boot_low"].notna().any():
        intervals.append(("boot_low", "boot_high", "95 % bootstrap over test utterances", 0.12))
    for ax, metric in zip(axes[0], metrics):
        part = paired[paired["metric"] == metric].reset_index(drop=True)
        rows = range(len(part))
        for low, high, label, offset in intervals:
            spread = [part["difference"] - part[low], part[high] - part["difference"]]
            ax.errorbar(part["difference"], [r + offset for r in rows], xerr=spread, fmt="o", capsize=3, label=label)
        ax.axvline(0.0, color="grey", linewidth=1)
        ax.set_yticks(list(rows), [method_label(str(b)) for b in part["baseline"]])
        ax.invert_yaxis()
        reference = method_label(str(part["reference"].iloc[0]))
        ax.set_xlabel(f"{reference} − baseline")
        ax.set_title(f"{metric_label(metric)}\n({part['better'].iloc[0]} is better)", fontsize=10)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_routing_heatmap(routing: pd.DataFrame) -> Figure:
    """Mean routing weight per router (rows, e.g. ``text/block1/sentiment``) and shared expert (columns)."""
    grid = routing.pivot(index="router", columns="expert", values="weight")
    fig, ax = plt.subplots(figsize=(3.5 + 0.55 * grid.shape[1], 1.0 + 0.4 * grid.shape[0]))
    sns.heatmap(
        grid,
        annot=grid.shape[1] <= 16,
        fmt=".2f",
        annot_kws={"size": 8},
        cmap="viridis",
        vmin=0.0,
        ax=ax,
        cbar_kws={"label": "mean weight"},
    )
    ax.set_xlabel("shared expert")
    ax.set_ylabel("")
    ax.set_title("Routing weights (test split)")
    fig.tight_layout()
    return fig


def plot_ablation(
    results: pd.DataFrame, metrics: Sequence[str], x: str = "variant", split: str = "test"
) -> Figure | NoFigure:
    """Metric per ablated setting (one row each, in run order): mean over seeds with ± sd error bars, every seed a
    grey dot; one panel per metric. Nothing is drawn for a single setting."""
    order = [str(v) for v in dict.fromkeys(results[x])]
    if len(order) < 2:
        return NoFigure(f"a single setting ({', '.join(order) or 'none'}): nothing to compare (see the table above)")
    frame = results.assign(**{x: results[x].astype(str)})
    return _metric_panels(
        frame, metrics, split, (3.0, 0.9 + 0.42 * len(order)), lambda p, m, ax: _points(ax, p, m, x, order)
    )


def plot_condition_points(conditions: pd.DataFrame, metric: str = "acc2_non0") -> Figure | NoFigure:
    """One metric per applicable test condition (and their average) and method: mean ± sd over seeds as dodged
    points on a zoomed axis. Nothing is drawn when a single condition applies (its row is the average)."""
    kept = conditions[conditions["applicable"].astype(bool) & conditions[metric].notna()]
    fixed = [c for c in dict.fromkeys(kept["condition"]) if c != "avg"]
    if len(fixed) < 2:
        return NoFigure(
            f"only condition {', '.join(fixed) or 'none'} applies: the tables above have every method on it"
        )
    kept = kept.assign(method=kept["method"].astype(str).map(method_label))
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
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_missing_rates(rates: pd.DataFrame, metric: str = "acc2_non0") -> Figure | NoFigure:
    """One metric against the random missing rate, one line per method (band = sd over seeds). Nothing is drawn
    for a single rate."""
    if rates.empty or rates["rate"].nunique() < 2:
        shown = ", ".join(f"{r:g}" for r in sorted(set(rates.get("rate", [])))) or "none"
        return NoFigure(f"a single missing rate ({shown}): the table below has every method at it")
    frame = rates.assign(method=rates["method"].astype(str).map(method_label))
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.lineplot(data=frame, x="rate", y=metric, hue="method", marker="o", errorbar="sd", ax=ax)
    ax.set_xlabel("missing rate (each modality of each test sample dropped, at least one kept)")
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"{metric_label(metric)} under random missing modalities")
    _legend_outside(ax)
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
    _legend_outside(ax, title=hue)
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
        ax.set_xlabel("seconds per epoch (log scale)")
        ax.set_ylabel(metric_label(metric))
        ax.set_title(f"test {metric_label(metric)}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, 0].get_legend().remove()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(labels)), frameon=False)
    return fig


def plot_token_routing(routing: pd.DataFrame, title: str = "") -> Figure:
    """Routing weight per position (rows) and shared expert (columns), one heatmap per router, from
    :func:`mmolre.protocols.routing.token_routing`."""
    routers = list(dict.fromkeys(routing["router"]))
    steps = int(routing["position"].max()) + 1
    fig, axes = plt.subplots(1, len(routers), figsize=(2.2 + 1.6 * len(routers), 1.2 + 0.25 * steps), squeeze=False)
    for ax, router in zip(axes[0], routers):
        grid = routing[routing["router"] == router].pivot(index="position", columns="expert", values="weight")
        sns.heatmap(grid, cmap="viridis", vmin=0.0, vmax=1.0, cbar=ax is axes[0, -1], ax=ax)
        ax.set_title(router, fontsize=9)
        ax.set_xlabel("shared expert")
    fig.suptitle(title or "Routing over positions (one sample)")
    fig.tight_layout()
    return fig


def _datasets(frame: pd.DataFrame, metric: str) -> list[str]:
    """Datasets of ``frame`` with at least one value of ``metric``, in :data:`DATASET_ORDER`."""
    found = set(frame.loc[frame[metric].notna(), "dataset"]) if metric in frame else set()
    return [d for d in DATASET_ORDER if d in found] + sorted(found - set(DATASET_ORDER))


def _dataset_panels(sizes: list[int]) -> tuple[Figure, np.ndarray]:
    """One full-width panel per dataset, each as tall as its number of rows (``sizes``)."""
    return plt.subplots(
        len(sizes),
        1,
        figsize=(7.5, 0.9 * len(sizes) + 0.32 * sum(sizes)),
        squeeze=False,
        gridspec_kw={"height_ratios": sizes},
    )


def plot_published_comparison(frame: pd.DataFrame, metric: str = "acc2_non0", title: str = "") -> Figure | NoFigure:
    """One panel per dataset, one row per method: ours as mean ± sd over seeds (each seed a grey dot), published
    numbers as red squares, on an axis zoomed to the data; from :func:`~mmolre.report.results.comparison_frame`."""
    datasets = _datasets(frame, metric)
    if not datasets:
        return NoFigure(f"no recorded run has {metric_label(metric)}")
    sizes = [frame[(frame["dataset"] == d) & frame[metric].notna()]["method"].nunique() for d in datasets]
    fig, axes = _dataset_panels(sizes)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = frame[(frame["dataset"] == dataset) & frame[metric].notna()]
        order = list(dict.fromkeys(part["method"]))
        ours, published = part[part["kind"] == "ours"], part[part["kind"] == "published"]
        _points(ax, ours, metric, "method", order)
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
    datasets = _datasets(gaps.rename(columns={"gap": metric}), metric)
    if not datasets:
        return NoFigure(f"no dataset has both a run of ours and a published {metric_label(metric)}")
    sizes = [gaps[gaps["dataset"] == d]["method"].nunique() for d in datasets]
    fig, axes = _dataset_panels(sizes)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = gaps[gaps["dataset"] == dataset]
        _points(ax, part, "gap", "method", list(dict.fromkeys(part["method"])))
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
    test = test.assign(method=test["model"].map(lambda m: method_label(str(m))) + " (" + test["profile"] + ")")
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
        _legend_outside(ax)
    fig.tight_layout()
    return fig


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


def plot_headline_gaps(records: Sequence[Mapping[str, object]]) -> Figure | NoFigure:
    """One row per dataset of :func:`~mmolre.report.results.headline_records` that has a published number: our
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
