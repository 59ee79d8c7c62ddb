"""Routing figures of the mixture models: mean weight per router and expert, and per position of one sample."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


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
