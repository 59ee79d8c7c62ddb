"""Seaborn figures shared by notebooks and benchmarks; each function returns a matplotlib Figure."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mmolre.report.recorded import DATASET_ORDER, RecordedRuns
from mmolre.report.results import method_label
from mmolre.tasks import EMOTIONS


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
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def plot_efficiency(table: pd.DataFrame, x: str = "n_experts") -> Figure:
    """Parameters, FLOPs, throughput and peak memory of low-rank vs full-rank mixtures against ``x``."""
    metrics = ["parameters", "flops_per_sample", "samples_per_s", "peak_memory_mb"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.5))
    for ax, metric in zip(axes, metrics):
        sns.lineplot(data=table, x=x, y=metric, hue="experts", marker="o", ax=ax)
        ax.set_xscale("log", base=2)
        if metric != "samples_per_s":
            ax.set_yscale("log")
        ax.set_title(metric)
    fig.tight_layout()
    return fig


def plot_learning_curves(
    history: pd.DataFrame, best_epoch: int | None = None, metrics: tuple[str, ...] = ("mae", "emo_wa")
) -> Figure:
    """Train/valid loss per epoch, plus the chosen valid metrics present in ``history``; marks the selected epoch."""
    shown = [m for m in metrics if m in history.columns]
    fig, axes = plt.subplots(1, 1 + len(shown), figsize=(4.2 * (1 + len(shown)), 3.3), squeeze=False)
    losses = history.melt(id_vars="epoch", value_vars=["train_loss", "valid_loss"], var_name="curve", value_name="loss")
    sns.lineplot(data=losses, x="epoch", y="loss", hue="curve", marker="o", ax=axes[0, 0])
    axes[0, 0].set_title("loss")
    for ax, metric in zip(axes[0, 1:], shown):
        sns.lineplot(data=history, x="epoch", y=metric, marker="o", ax=ax)
        ax.set_title(f"valid {metric}")
    if best_epoch is not None:
        for ax in axes[0]:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
    fig.tight_layout()
    return fig


def _metric_panels(
    results: pd.DataFrame,
    metrics: list[str],
    split: str,
    size: tuple[float, float],
    draw: Callable[[pd.DataFrame, str, Axes], None],
) -> Figure:
    """One panel per metric present in ``results`` (rows of ``split`` only), drawn by ``draw(part, metric, ax)``."""
    part = results[results["split"] == split]
    metrics = [m for m in metrics if m in part.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(size[0] * len(metrics), size[1]), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        draw(part, metric, ax)
        ax.set_title(f"{split} {metric}")
    fig.tight_layout()
    return fig


def plot_metric_bars(results: pd.DataFrame, metrics: list[str], x: str = "variant", split: str = "test") -> Figure:
    """One bar panel per metric: mean over seeds with a standard-deviation error bar, one bar per ``x`` value."""

    def draw(part: pd.DataFrame, metric: str, ax: Axes) -> None:
        sns.barplot(data=part, x=x, y=metric, hue=x, errorbar="sd", capsize=0.2, ax=ax, legend=False)
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")

    return _metric_panels(results, metrics, split, (3.4, 3.6), draw)


def plot_paired_differences(paired: pd.DataFrame) -> Figure:
    """Paired mean difference (reference - baseline) with its 95 % t interval over seeds and, where the table has
    them (:func:`~mmolre.protocols.paired.add_bootstrap`), the 95 % bootstrap interval over test utterances; one
    panel per metric of a :func:`~mmolre.protocols.paired.paired_table`. Points right of the grey line favour the
    reference when higher is better, left of it when lower is better (panel titles say which)."""
    metrics = list(dict.fromkeys(paired["metric"])) if len(paired) else []
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(3.6 * max(1, len(metrics)), 3.0), squeeze=False)
    if not metrics:
        axes[0, 0].set_axis_off()
        axes[0, 0].set_title("nothing to compare")
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
        ax.set_title(f"{metric} ({part['better'].iloc[0]} is better)")
    if metrics:
        axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
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


def plot_ablation(results: pd.DataFrame, metrics: list[str], x: str = "variant", split: str = "test") -> Figure:
    """Metric against the ablated setting (mean over seeds, ± std band), one panel per metric."""

    def draw(part: pd.DataFrame, metric: str, ax: Axes) -> None:
        sns.lineplot(data=part, x=x, y=metric, errorbar="sd", marker="o", sort=False, ax=ax)
        ax.tick_params(axis="x", rotation=30)

    return _metric_panels(results, metrics, split, (3.6, 3.3), draw)


def plot_condition_bars(conditions: pd.DataFrame, metric: str = "acc2_non0") -> Figure:
    """Grouped bars of one metric per test condition (applicable ones and ``avg``) and method, mean ± sd over seeds."""
    kept = conditions[conditions["applicable"].astype(bool)]
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(data=kept, x="condition", y=metric, hue="method", errorbar="sd", ax=ax)
    low = kept[metric].min()
    if metric != "mae" and low > 0.3:
        ax.set_ylim(low - 0.05, min(1.0, kept[metric].max() + 0.05))
    ax.set_xlabel("test condition (a = audio, t = text, v = vision)")
    ax.set_title(f"{metric} per test condition (mean ± sd over seeds)")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def plot_missing_rates(rates: pd.DataFrame, metric: str = "acc2_non0") -> Figure:
    """One metric against the random missing rate, one line per method (band = sd over seeds)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(data=rates, x="rate", y=metric, hue="method", marker="o", errorbar="sd", ax=ax)
    ax.set_xlabel("missing rate (each modality of each test sample dropped, at least one kept)")
    ax.set_title(f"{metric} under random missing modalities")
    fig.tight_layout()
    return fig


def plot_sampling_probabilities(
    sampling: pd.DataFrame, hue: str = "combination", title: str = "DPFT sampling probability per modality combination"
) -> Figure:
    """DPFT sampling probability per epoch, one line per ``hue`` value (combination or modality; band = sd over
    seeds), from :func:`mmolre.protocols.incomplete.sampling_long`."""
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(data=sampling, x="epoch", y="probability", hue=hue, marker=".", errorbar="sd", ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_rank_ablation(conditions: pd.DataFrame, metric: str = "acc2_non0") -> Figure:
    """One metric on the condition average against the MCLA rank (band = sd over seeds)."""
    avg = conditions[conditions["condition"] == "avg"]
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(data=avg, x="rank", y=metric, marker="o", errorbar="sd", ax=ax)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("MCLA rank r (MLP rank 2r)")
    ax.set_title(f"{metric}, average over test conditions")
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
        ax.set_title(f"test {metric}")
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


def plot_published_comparison(frame: pd.DataFrame, metric: str = "acc2_non0") -> Figure:
    """Horizontal bars per method, one panel per dataset: ours (mean over seeds, sd whiskers) and published."""
    datasets = [d for d in DATASET_ORDER if d in set(frame["dataset"])]
    datasets += sorted(set(frame["dataset"]) - set(datasets))
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(5.5 * max(1, len(datasets)), 4.5), squeeze=False)
    if not datasets:
        axes[0, 0].set_axis_off()
        axes[0, 0].set_title("no recorded runs")
    palette = {"ours": "tab:blue", "published": "tab:grey"}
    for ax, dataset in zip(axes[0], datasets):
        part = frame[frame["dataset"] == dataset]
        sns.barplot(data=part, y="method", x=metric, hue="kind", palette=palette, errorbar="sd", dodge=False, ax=ax)
        ax.set_title(dataset)
        ax.set_ylabel("")
        if metric.startswith(("acc", "f1")):
            ax.set_xlim(left=max(0.0, float(part[metric].min()) - 0.1))
    fig.tight_layout()
    return fig


def plot_emotion_results(runs: RecordedRuns, kind: str = "wa") -> Figure:
    """Per-emotion weighted accuracy (``wa``) or weighted F1 (``f1``) per model, test split, mean with sd whiskers."""
    frame = runs.sentiment
    columns = [f"emo_{kind}_{e}" for e in EMOTIONS]
    if frame.empty or not set(columns) <= set(frame.columns):
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.set_axis_off()
        ax.set_title("no emotion runs recorded")
        return fig
    test = frame[(frame["split"] == "test") & frame[columns[0]].notna()]
    test = test.assign(method=test["model"].map(lambda m: method_label(str(m))) + " (" + test["profile"] + ")")
    long = test.melt(id_vars=["dataset", "method"], value_vars=columns, var_name="emotion", value_name=kind.upper())
    long["emotion"] = long["emotion"].str.removeprefix(f"emo_{kind}_")
    datasets = sorted(set(long["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(7 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sns.barplot(
            data=long[long["dataset"] == dataset], x="emotion", y=kind.upper(), hue="method", errorbar="sd", ax=ax
        )
        ax.set_title(dataset)
        ax.set_ylim(0.4, 1.0)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
