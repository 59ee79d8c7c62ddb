"""Paired comparisons: a model against another trained under the same seeds, on the same test utterances.

Two arms run by :func:`~mmolre.protocols.driver.run_experiment` under one seed start from the same data order and
draws, so their runs pair by seed. Per metric and pair of models (reference against a baseline):

- the paired mean difference ``reference - baseline`` over the common seeds (metric units: a negative MAE
  difference is the reference ahead) with its 95 % t interval, the paired t-test p and the Wilcoxon signed-rank p
  (zero differences dropped; exact over every sign pattern up to :data:`EXACT_WILCOXON` seeds, ties included, so
  with 5 seeds its two-sided p is never below 1/16 = 0.0625);
- ``ahead``: the seeds on which the reference is better (lower MAE, higher everything else);
- where test predictions were kept (:attr:`Experiment.predictions`), a paired bootstrap over test utterances: one
  seeded resample of the utterances per draw, shared by every model, each seed's metric on it averaged over seeds;
  the interval is the 2.5 / 97.5 percentiles of the B differences and the p the two-sided percentile p
  ``2 * (min(#(d <= 0), #(d >= 0)) + 1) / (B + 1)`` (never 0: its floor is 2 / (B + 1));
- a verdict from the paired t-test: "ahead with paired p < 0.05", "behind with paired p < 0.05" or "not
  distinguishable (p = ...)"; with one seed there is nothing to pair.

:func:`seed_ensemble` averages the test outputs of one model's seeds (sentiment values, emotion logits) and
:func:`ensemble_table` scores it with :mod:`mmolre.metrics`, beside each model's per-seed mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from mmolre.data.dataset import MultimodalDataset
from mmolre.tasks import TASK_LABELS, TASK_SPECS, in_task_order

LOWER_IS_BETTER: tuple[str, ...] = ("mae", "mae_non0")
"""Metrics where a lower value is better; every other metric is better higher."""
VERDICT_METRICS: tuple[str, ...] = ("mae", "acc2_non0", "corr", "emo_wa", "wa")
"""Metrics a verdict speaks about when a run table has them: sentiment MAE, Acc-2 and Corr, mean emotion WA,
four-class WA."""
BOOTSTRAP_METRICS: tuple[str, ...] = ("mae", "acc2_has0", "acc2_non0", "acc5", "acc7", "corr", "emo_wa", "wa")
"""Metrics the utterance bootstrap resamples (every other metric of :mod:`mmolre.metrics` is left out)."""
ALPHA = 0.05
EXACT_WILCOXON = 16
"""Up to this many non-zero differences the Wilcoxon p enumerates every sign pattern; above, the normal
approximation."""


def lower_is_better(metric: str) -> bool:
    """Whether a lower value of ``metric`` is better (MAE); every other metric is better higher."""
    return metric in LOWER_IS_BETTER


@dataclass(frozen=True)
class PairedTest:
    """One metric, reference against one baseline, over their common seeds (differences are reference - baseline)."""

    seeds: int
    reference_mean: float
    baseline_mean: float
    difference: float
    ci_low: float
    ci_high: float
    p_t: float
    p_wilcoxon: float
    ahead: int


def wilcoxon_p(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences; zeros dropped, ties given mid-ranks; NaN when no
    difference is non-zero. Exact (every sign pattern) up to :data:`EXACT_WILCOXON` non-zero differences."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[d != 0]
    if d.size == 0:
        return float("nan")
    method = stats.PermutationMethod(n_resamples=np.inf) if d.size <= EXACT_WILCOXON else "asymptotic"
    return float(stats.wilcoxon(d, method=method).pvalue)


def paired_test(reference: Sequence[float], baseline: Sequence[float], metric: str) -> PairedTest:
    """Paired statistics of ``reference`` against ``baseline`` (one value per seed, the same seeds in the same order).

    With one seed the interval and p-values are NaN; with differences that do not vary the t interval has no width
    and the t-test p is 1 (all zero) or 0 (all equal and non-zero).
    """
    ref, base = np.asarray(reference, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if ref.shape != base.shape or ref.ndim != 1 or ref.size == 0:
        raise ValueError(f"{metric}: need one value per seed for both models, got {ref.shape} and {base.shape}")
    d = ref - base
    n, mean = d.size, float(d.mean())
    gain = -d if lower_is_better(metric) else d
    low = high = p_t = p_w = float("nan")
    if n > 1:
        spread = float(d.std(ddof=1))
        if spread <= 1e-12 * max(1.0, abs(mean)):  # equal differences up to rounding (e.g. 0.3 - 0.1 vs 0.5 - 0.3)
            spread = 0.0
        half = float(stats.t.ppf(1 - ALPHA / 2, n - 1)) * spread / np.sqrt(n)
        low, high = mean - half, mean + half
        p_t = (1.0 if mean == 0 else 0.0) if spread == 0 else float(stats.ttest_rel(ref, base).pvalue)
        p_w = wilcoxon_p(d)
    return PairedTest(n, float(ref.mean()), float(base.mean()), mean, low, high, p_t, p_w, int((gain > 0).sum()))


def verdict(test: PairedTest, metric: str) -> str:
    """The plain verdict of a paired test (see the module docstring)."""
    if test.seeds < 2:
        return "nothing to pair (one seed)"
    if test.p_t < ALPHA:
        gain = -test.difference if lower_is_better(metric) else test.difference
        return f"{'ahead' if gain > 0 else 'behind'} with paired p < {ALPHA:g}"
    return f"not distinguishable (p = {test.p_t:.3g})"


def _verdict_metrics(frame: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    wanted = VERDICT_METRICS if metrics is None else metrics
    return [m for m in wanted if m in frame.columns and frame[m].notna().any()]


def paired_table(
    runs: pd.DataFrame,
    reference: str = "mmolre",
    by: str = "variant",
    metrics: Sequence[str] | None = None,
    split: str = "test",
) -> pd.DataFrame:
    """One row per baseline and metric: ``reference`` against every other ``by`` value of a per-seed run table
    (columns ``by``, ``seed``, ``split`` and the metrics; default :data:`VERDICT_METRICS` present), paired on the
    seeds both have. Empty when ``reference`` is absent or alone."""
    part = runs[runs["split"] == split] if "split" in runs else runs
    rows = []
    names = list(dict.fromkeys(part[by]))
    if reference in names:
        ref = part[part[by] == reference]
        for other in (n for n in names if n != reference):
            joined = ref.merge(part[part[by] == other], on="seed", suffixes=("_ref", "_base"))
            for metric in _verdict_metrics(part, metrics):
                pairs = joined[[f"{metric}_ref", f"{metric}_base"]].dropna()
                if pairs.empty:
                    continue
                test = paired_test(pairs[f"{metric}_ref"], pairs[f"{metric}_base"], metric)
                rows.append(
                    {
                        "reference": reference,
                        "baseline": other,
                        "metric": metric,
                        "better": "lower" if lower_is_better(metric) else "higher",
                        **asdict(test),
                        "verdict": verdict(test, metric),
                    }
                )
    return pd.DataFrame(rows)


def _number(value: float, digits: int = 4) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}".replace("-", "−")


def _p(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3g}"


def verdict_text(table: pd.DataFrame) -> str:
    """Markdown lines, one per row of :func:`paired_table` (with the bootstrap columns of
    :func:`add_bootstrap` when present): the paired numbers and the verdict in bold."""
    if table.empty:
        return "no verdict: the reference model has no baseline to be compared with"
    lines = []
    for row in table.itertuples(index=False):
        text = (
            f"- {row.metric} ({row.better} is better): {row.reference} {_number(row.reference_mean)} vs "
            f"{row.baseline} {_number(row.baseline_mean)}"
        )
        if row.seeds > 1:
            text += (
                f", {row.seeds} paired seeds: difference {_number(row.difference)} (95 % CI {_number(row.ci_low)} "
                f"to {_number(row.ci_high)}), paired t p = {_p(row.p_t)}, Wilcoxon p = {_p(row.p_wilcoxon)}, "
                f"ahead on {row.ahead} of {row.seeds} seeds"
            )
        if "p_bootstrap" in table.columns and not pd.isna(row.p_bootstrap):
            text += f"; bootstrap over test utterances p = {_p(row.p_bootstrap)}"
        lines.append(f"{text}: **{row.verdict}**")
    return "\n".join(lines)


def split_truth(dataset: MultimodalDataset, split: str = "test") -> dict[str, np.ndarray]:
    """Per task the labels of a split, one row per utterance (the order of
    :func:`~mmolre.train.evaluation.predict`)."""
    labels = dataset.splits[split].utterance_labels()
    return {task: labels[field].numpy() for task, field in TASK_LABELS.items() if field in labels}


def score_predictions(truth: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """:mod:`mmolre.metrics` of the tasks in ``predictions`` (each task's :attr:`~mmolre.tasks.TaskSpec.metrics`;
    keys as in a run table: emotion metrics ``emo_*``)."""
    result: dict[str, float] = {}
    for task in in_task_order(predictions):
        result.update(TASK_SPECS[task].metrics(truth[task], predictions[task]))
    return result


def seed_ensemble(runs: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The mean output of several seeds of one model, per task (sentiment values, emotion / class logits)."""
    if not runs:
        raise ValueError("a seed ensemble needs the predictions of at least one seed")
    tasks = set(runs[0])
    if any(set(r) != tasks for r in runs):
        raise ValueError(f"every seed must predict the same tasks, got {[sorted(r) for r in runs]}")
    return {task: np.mean([np.asarray(r[task], dtype=np.float64) for r in runs], axis=0) for task in runs[0]}


def _by_model(predictions: Mapping[tuple[str, int], Mapping[str, np.ndarray]]) -> dict[str, dict[int, Mapping]]:
    models: dict[str, dict[int, Mapping]] = {}
    for (label, seed), outputs in predictions.items():
        models.setdefault(label, {})[seed] = outputs
    return models


def ensemble_table(
    predictions: Mapping[tuple[str, int], Mapping[str, np.ndarray]],
    truth: Mapping[str, np.ndarray],
    metrics: Sequence[str] | None = None,
    by: str = "variant",
) -> pd.DataFrame:
    """Per model two rows: ``mean over seeds`` of the per-seed metrics and ``seed ensemble`` (the metrics of
    :func:`seed_ensemble`); ``predictions`` maps ``(label, seed)`` to test outputs."""
    rows = []
    for label, seeds in _by_model(predictions).items():
        per_seed = pd.DataFrame([score_predictions(truth, seeds[s]) for s in sorted(seeds)])
        ensemble = score_predictions(truth, seed_ensemble([seeds[s] for s in sorted(seeds)]))
        wanted = list(per_seed.columns) if metrics is None else [m for m in metrics if m in per_seed.columns]
        rows.append({by: label, "rows": "mean over seeds", "seeds": len(seeds), **per_seed[wanted].mean().to_dict()})
        rows.append({by: label, "rows": "seed ensemble", "seeds": len(seeds), **{m: ensemble[m] for m in wanted}})
    return pd.DataFrame(rows)


def _resampled(metric: str, truth: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray], index: np.ndarray):
    """``metric`` of one model's outputs on every resample (rows of ``index``), with the definitions of
    :mod:`mmolre.metrics` (tests/test_paired.py checks that the identity resample reproduces them)."""
    if metric == "emo_wa":
        present, predicted = truth["emotion"] > 0, outputs["emotion"] >= 0
        wa = []
        for column in range(present.shape[1]):
            t, p = present[index, column], predicted[index, column]
            positives, negatives = t.sum(1), (~t).sum(1)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = ((t & p).sum(1) * negatives / positives + (~t & ~p).sum(1)) / (2 * negatives)
            wa.append(np.where((positives > 0) & (negatives > 0), value, np.nan))
        return np.nanmean(np.stack(wa, axis=1), axis=1)
    if metric == "wa":
        return (outputs["emotion4"].argmax(1) == truth["emotion4"])[index].mean(1)
    truth_s, pred = truth["sentiment"].reshape(-1), outputs["sentiment"].reshape(-1)
    if metric == "mae":
        return np.abs(truth_s - pred)[index].mean(1)
    if metric == "acc2_has0":
        return ((truth_s >= 0) == (pred >= 0))[index].mean(1)
    if metric == "acc2_non0":
        nonzero, correct = truth_s != 0, (truth_s > 0) == (pred > 0)
        return (correct & nonzero)[index].sum(1) / nonzero[index].sum(1)
    if metric in ("acc5", "acc7"):
        bound = 2.0 if metric == "acc5" else 3.0
        same = np.round(np.clip(truth_s, -bound, bound)) == np.round(np.clip(pred, -bound, bound))
        return same[index].mean(1)
    if metric == "corr":
        x, y = truth_s[index], pred[index]
        x, y = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))
    raise ValueError(f"the bootstrap resamples {BOOTSTRAP_METRICS}, not {metric!r}")


def resample_index(n: int, samples: int, seed: int) -> np.ndarray:
    """``samples`` resamples (rows) of ``n`` utterances with replacement, from ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def bootstrap_scores(
    truth: Mapping[str, np.ndarray],
    runs: Sequence[Mapping[str, np.ndarray]],
    metrics: Sequence[str],
    index: np.ndarray,
) -> pd.DataFrame:
    """Per resample (rows of ``index``) and metric, the metric of each run (seed) averaged over the runs."""
    return pd.DataFrame({m: np.mean([_resampled(m, truth, r, index) for r in runs], axis=0) for m in metrics})


def add_bootstrap(
    table: pd.DataFrame,
    predictions: Mapping[tuple[str, int], Mapping[str, np.ndarray]],
    truth: Mapping[str, np.ndarray],
    samples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`paired_table` with ``boot_low``, ``boot_high`` and ``p_bootstrap`` over test utterances for the
    metrics of :data:`BOOTSTRAP_METRICS` (NaN elsewhere), from the seeds both models have."""
    table = table.copy()
    table[["boot_low", "boot_high", "p_bootstrap"]] = np.nan
    if table.empty or samples < 1:
        return table
    models = _by_model(predictions)
    n = len(next(iter(truth.values())))
    index = resample_index(n, samples, seed)
    for (reference, baseline), rows in table.groupby(["reference", "baseline"], sort=False):
        wanted = [m for m in rows["metric"] if m in BOOTSTRAP_METRICS]
        seeds = sorted(set(models.get(reference, {})) & set(models.get(baseline, {})))
        if not wanted or not seeds:
            continue
        ref = bootstrap_scores(truth, [models[reference][s] for s in seeds], wanted, index)
        base = bootstrap_scores(truth, [models[baseline][s] for s in seeds], wanted, index)
        for metric in wanted:
            d = (ref[metric] - base[metric]).dropna().to_numpy()
            if d.size == 0:  # undefined on every resample (e.g. Corr of a constant prediction): left as NaN
                continue
            where = rows.index[rows["metric"] == metric]
            p = min(1.0, 2 * (min(int((d <= 0).sum()), int((d >= 0).sum())) + 1) / (len(d) + 1))
            table.loc[where, ["boot_low", "boot_high", "p_bootstrap"]] = [*np.percentile(d, [2.5, 97.5]), p]
    return table


@dataclass
class Comparison:
    """What :func:`compare_models` returns: the paired table, the seed-ensemble table and the verdict text."""

    paired: pd.DataFrame
    ensemble: pd.DataFrame
    verdict: str


def compare_models(
    runs: pd.DataFrame,
    predictions: Mapping[tuple[str, int], Mapping[str, np.ndarray]],
    truth: Mapping[str, np.ndarray],
    reference: str = "mmolre",
    by: str = "variant",
    samples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Paired comparisons of ``reference`` against every other model of a run table (with the utterance bootstrap
    when ``predictions`` are given), the seed-ensemble rows and the verdict."""
    table = paired_table(runs, reference, by)
    if predictions:
        table = add_bootstrap(table, predictions, truth, samples, seed)
    ensemble = ensemble_table(predictions, truth, _verdict_metrics(runs, None), by) if predictions else pd.DataFrame()
    names = list(dict.fromkeys(runs[by]))
    if reference not in names:
        text = f"no verdict: {reference!r} is not among the models ({', '.join(map(str, names))})"
    else:
        text = verdict_text(table)
    return Comparison(table, ensemble, text)
