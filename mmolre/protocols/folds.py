"""Cross-validation folds of the incomplete-modality protocol: IEMOCAP's five leave-one-session-out folds.

Fold ``k`` tests session ``k``; its validation dialogues are drawn from the other four sessions, never from the test
session (:func:`mmolre.data.iemocap.session_folds`). :func:`run_folds` runs the protocol on every fold and stacks the
results with a ``fold`` column, so that :func:`summarize_runs` gives the mean ± std over every run (fold and seed,
counted as ``runs`` beside the ``folds`` and ``seeds`` they span), and :func:`fold_matrix` the mean over seeds per
fold with the mean ± std of those fold means (the published five-fold numbers are fold means of one seed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from mmolre.data import load_dataset, options
from mmolre.data.dataset import MultimodalDataset
from mmolre.progress import progress
from mmolre.protocols.incomplete import SUMMARY_METRICS
from mmolre.protocols.incomplete_runs import IncompleteConfig, IncompleteResults, run_incomplete, stack_results
from mmolre.protocols.summary import fold_spans, summarize
from mmolre.protocols.workers import check_workers, run_jobs
from mmolre.train.config import SEEDS

FoldLoader = Callable[[int], MultimodalDataset]
"""``load(fold) -> dataset`` with that fold's splits."""
FRAMES = ("conditions", "missing_rates", "sampling", "runs", "classes")
"""The result tables that get a ``fold`` column."""


@dataclass(frozen=True)
class DatasetFolds:
    """``load(fold)``: dataset ``name`` with ``options`` and that fold (a picklable :data:`FoldLoader`, so that
    folds can train in worker processes)."""

    name: str
    data_dir: str | Path | None
    options: Mapping[str, object]

    def __call__(self, fold: int) -> MultimodalDataset:
        return load_dataset(self.name, data_dir=self.data_dir or None, **self.options, fold=fold)


def fold_loader(
    name: str, data_dir: str | Path | None = None, dataset_options: Mapping[str, object] | None = None
) -> FoldLoader:
    """A loader of dataset ``name`` (with ``dataset_options``) whose ``fold`` option is set per call; ValueError when
    the dataset has no ``fold`` option."""
    if "fold" not in options(name):
        raise ValueError(f"dataset {name!r} has no folds (no 'fold' option); folds apply to IEMOCAP")
    return DatasetFolds(name, data_dir, {key: value for key, value in (dataset_options or {}).items() if key != "fold"})


def _with_fold(frame: pd.DataFrame, fold: int) -> pd.DataFrame:
    """``frame`` with a ``fold`` column after its run columns (``method``, ``rank``), or first."""
    if frame.empty:
        return frame
    position = max((frame.columns.get_loc(c) + 1 for c in ("method", "rank") if c in frame.columns), default=0)
    frame = frame.copy()
    frame.insert(position, "fold", fold)
    return frame


def _fold_job(
    job: tuple[int, Sequence[str], Sequence[int]],
    load: FoldLoader,
    config: IncompleteConfig | None,
    checkpoint_root: str | Path | None,
) -> IncompleteResults:
    """The runs of ``job = (fold, methods, seeds)``, tagged with their fold, checkpoints under ``<root>/fold<k>``."""
    fold, methods, seeds = job
    progress(f"fold {fold}: {', '.join(methods)}, seed(s) {', '.join(map(str, seeds))}")
    root = None if checkpoint_root is None else Path(checkpoint_root) / f"fold{fold}"
    result = run_incomplete(methods, load(fold), config, seeds, checkpoint_root=root)
    tagged = {name: _with_fold(getattr(result, name), fold) for name in FRAMES}
    predictions = {(f"{label}/fold{fold}", seed): p for (label, seed), p in result.predictions.items()}
    return dataclasses.replace(result, **tagged, predictions=predictions)


def run_folds(
    methods: Sequence[str],
    load: FoldLoader,
    folds: Sequence[int],
    config: IncompleteConfig | None = None,
    seeds: Sequence[int] = SEEDS,
    checkpoint_root: str | Path | None = None,
    workers: int = 1,
) -> IncompleteResults:
    """:func:`~mmolre.protocols.incomplete_runs.run_incomplete` on each fold's dataset, results stacked with a ``fold``
    column; prediction keys are ``("<arm label>/fold<k>", seed)``; checkpoints under ``<root>/fold<k>``. With
    ``workers`` > 1, every run (fold, method, seed) trains in one of that many processes
    (:func:`~mmolre.protocols.workers.run_jobs`), with the results of one process (the same rows in the same
    order)."""
    if not folds or len(set(folds)) != len(folds):
        raise ValueError(f"folds must be distinct fold numbers, got {list(folds)}")
    jobs = [(fold, list(methods), list(seeds)) for fold in folds]
    if check_workers(workers) > 1:  # one run per job, so that the workers stay busy to the end
        jobs = [(fold, [method], [seed]) for fold in folds for method in methods for seed in seeds]
    job = partial(_fold_job, load=load, config=config, checkpoint_root=checkpoint_root)
    return stack_results(run_jobs(job, jobs, workers))


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
    table = table.rename(columns={"seeds": "runs"}).merge(fold_spans(frame, by), on=list(by), how="left")
    return table[[c for c in table.columns if c not in ("folds", "seeds", "runs")] + ["folds", "seeds", "runs"]]
