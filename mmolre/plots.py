"""Seaborn figures shared by notebooks and benchmarks; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


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
