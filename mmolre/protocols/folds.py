"""Cross-validation folds of the incomplete-modality protocol: IEMOCAP's five leave-one-session-out folds.

Fold ``k`` tests session ``k``; its validation dialogues are drawn from the other four sessions, never from the test
session (:func:`mmolre.data.iemocap.session_folds`). :func:`run_folds` runs the protocol on every fold and stacks the
results with a ``fold`` column, so that :func:`summarize_runs` gives the mean ± std over every run (fold and seed,
counted as ``runs`` beside the ``folds`` and ``seeds`` they span), and :func:`fold_matrix` the mean over seeds per
fold with the mean ± std of those fold means (the published five-fold numbers are fold means of one seed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from mmolre.data import load_dataset, options
from mmolre.data.dataset import MultimodalDataset
from mmolre.protocols.incomplete import SUMMARY_METRICS
from mmolre.protocols.incomplete_runs import IncompleteConfig, IncompleteResults, run_incomplete
from mmolre.protocols.summary import summarize
from mmolre.train.config import SEEDS

FoldLoader = Callable[[int], MultimodalDataset]
"""``load(fold) -> dataset`` with that fold's splits."""


def fold_loader(
    name: str, data_dir: str | Path | None = None, dataset_options: Mapping[str, object] | None = None
) -> FoldLoader:
    """A loader of dataset ``name`` (with ``dataset_options``) whose ``fold`` option is set per call; ValueError when
    the dataset has no ``fold`` option."""
    if "fold" not in options(name):
        raise ValueError(f"dataset {name!r} has no folds (no 'fold' option); folds apply to IEMOCAP")
    base = {key: value for key, value in (dataset_options or {}).items() if key != "fold"}
    return lambda fold: load_dataset(name, data_dir=data_dir or None, **base, fold=fold)


def _with_fold(frame: pd.DataFrame, fold: int) -> pd.DataFrame:
    """``frame`` with a ``fold`` column after its run columns (``method``, ``rank``), or first."""
    if frame.empty:
        return frame
    position = max((frame.columns.get_loc(c) + 1 for c in ("method", "rank") if c in frame.columns), default=0)
    frame = frame.copy()
    frame.insert(position, "fold", fold)
    return frame


def run_folds(
    methods: Sequence[str],
    load: FoldLoader,
    folds: Sequence[int],
    config: IncompleteConfig | None = None,
    seeds: Sequence[int] = SEEDS,
    checkpoint_root: str | Path | None = None,
) -> IncompleteResults:
    """:func:`~mmolre.protocols.incomplete_runs.run_incomplete` on each fold's dataset, results stacked with a ``fold``
    column; prediction keys are ``("<arm label>/fold<k>", seed)``; checkpoints under ``<root>/fold<k>``."""
    if not folds or len(set(folds)) != len(folds):
        raise ValueError(f"folds must be distinct fold numbers, got {list(folds)}")
    parts: dict[str, list[pd.DataFrame]] = {}
    predictions = {}
    for fold in folds:
        root = None if checkpoint_root is None else Path(checkpoint_root) / f"fold{fold}"
        result = run_incomplete(methods, load(fold), config, seeds, checkpoint_root=root)
        for name in ("conditions", "missing_rates", "sampling", "runs", "classes"):
            parts.setdefault(name, []).append(_with_fold(getattr(result, name), fold))
        predictions.update({(f"{label}/fold{fold}", seed): p for (label, seed), p in result.predictions.items()})
    frames = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    return IncompleteResults(
        frames["conditions"],
        frames["missing_rates"],
        frames["sampling"],
        frames["runs"],
        predictions,
        frames["classes"],
    )


def fold_matrix(conditions: pd.DataFrame, metric: str, condition: str = "avg") -> pd.DataFrame:
    """Mean over seeds of ``metric`` under ``condition``, methods as rows and folds as columns, then the ``mean``
    and ``std`` over the fold means."""
    part = conditions[(conditions["condition"] == condition) & conditions["applicable"].astype(bool)]
    table = part.pivot_table(index="method", columns="fold", values=metric, aggfunc="mean", sort=False)
    table.columns = [f"fold {k}" for k in table.columns]
    return table.assign(mean=table.mean(axis=1), std=table.std(axis=1, ddof=1))


def summarize_runs(
    frame: pd.DataFrame, by: Sequence[str] = ("method", "condition"), metrics: Sequence[str] = SUMMARY_METRICS
) -> pd.DataFrame:
    """:func:`~mmolre.protocols.summary.summarize` of results that may be stacked over folds (default: the
    conditions table's :data:`~mmolre.protocols.incomplete.SUMMARY_METRICS`). With a ``fold`` column, every
    (fold, seed) run is one value of the ``mean ± std``, and the count column is ``runs`` (folds x seeds), after
    ``folds`` and ``seeds``, the distinct folds and seeds of the group; without one, the summary of one fold, whose
    ``seeds`` column counts its seeds, unchanged."""
    table = summarize(frame, by, metrics)
    if "fold" not in frame.columns or "fold" in by:
        return table
    part = frame[frame["applicable"].astype(bool)] if "applicable" in frame else frame
    spans = part.groupby(list(by), sort=False).agg(folds=("fold", "nunique"), distinct=("seed", "nunique"))
    table = table.rename(columns={"seeds": "runs"}).merge(spans.reset_index(), on=list(by), how="left")
    order = [c for c in table.columns if c not in ("folds", "distinct", "runs")] + ["folds", "distinct", "runs"]
    return table[order].rename(columns={"distinct": "seeds"})
