"""The one summariser: ``mean ± std`` over seeds of long-form result frames, one row per group."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

ID_COLUMNS: tuple[str, ...] = (
    "model",
    "variant",
    "method",
    "ablation",
    "rank",
    "rate",
    "fold",
    "seed",
    "split",
    "params",
    "best_epoch",
    "epochs_run",
    "seconds",
    "train_seconds",
    "epoch",
)
"""Columns of result frames that identify a run rather than measure it."""


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a long-form result frame (everything numeric that is not an id column)."""
    return [
        c
        for c in frame.columns
        if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def mean_std(frame: pd.DataFrame, by: list[str], metrics: list[str], digits: int = 3) -> pd.DataFrame:
    """Aggregate seeds: one row per ``by`` group, each metric as ``"mean ± std"`` plus the seed count.

    A group with a single seed has no spread to report: its cells hold the value alone; a group without any value
    of a metric (another task's metric in a table of several datasets) gets ``"–"``.
    """
    grouped = frame.groupby(by, sort=False)[metrics]
    means, stds, counts = grouped.mean(), grouped.std(ddof=1), grouped.size()
    table = means.copy().astype(object)
    for metric in metrics:
        table[metric] = [
            "–" if pd.isna(m) else f"{m:.{digits}f}" if n == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"
            for m, s, n in zip(means[metric], stds[metric], counts)
        ]
    table["seeds"] = counts
    return table.reset_index()


def summarize(
    frame: pd.DataFrame,
    by: Sequence[str] = ("variant",),
    metrics: Sequence[str] | None = None,
    split: str | None = None,
    digits: int = 3,
) -> pd.DataFrame:
    """``mean ± std`` over seeds per ``by`` group of the metrics present (default: every metric column).

    ``split`` keeps only rows of that split; rows of not-applicable conditions (``applicable == False``) are
    dropped; a ``params`` column, when present, is reported once per group right after the group columns.
    """
    by = list(by)
    part = frame if split is None else frame[frame["split"] == split]
    if "applicable" in part:
        part = part[part["applicable"].astype(bool)]
    wanted = metric_columns(part) if metrics is None else list(metrics)
    present = [m for m in wanted if m in part.columns and part[m].notna().any()]
    table = mean_std(part, by, present, digits=digits)
    if "params" in part.columns and "params" not in by:
        params = part.groupby(by, sort=False)["params"].first().reset_index()
        table = params.merge(table, on=by)
    return table


def fold_spans(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per ``by`` group of results stacked over folds, the distinct ``folds`` and ``seeds`` its runs span (rows of
    not-applicable conditions left out), with the ``by`` columns."""
    part = frame[frame["applicable"].astype(bool)] if "applicable" in frame else frame
    spans = part.groupby(list(by), dropna=False, sort=False).agg(folds=("fold", "nunique"), seeds=("seed", "nunique"))
    return spans.reset_index()
