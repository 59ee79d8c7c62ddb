"""Summaries and verdicts of the incomplete-modality protocol (:mod:`mmolre.protocols.incomplete_runs` runs it).

Verdicts on the average over the applicable conditions: :func:`mculora_verdict` sets each MCULoRA method beside the
best other method, seed by seed; :func:`mculora_paired` pairs each MCULoRA method with each of
:data:`PAIRED_BASELINES` over seeds (over folds, each seed's fold mean) with :mod:`mmolre.protocols.paired`, and
:func:`mculora_paired_text` says it in one paragraph, with how far DPFT's probabilities moved.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mmolre.metrics import metric_label
from mmolre.modalities import CONDITIONS
from mmolre.models.registry import METHODS
from mmolre.protocols.dpft_trajectory import selected_epochs
from mmolre.protocols.paired import ALPHA, lower_is_better, paired_table
from mmolre.protocols.summary import summarize

SUMMARY_METRICS: tuple[str, ...] = (
    "acc2_non0",
    "f1_non0",
    "mae",
    "corr",
    "mae_non0",
    "corr_non0",
    "emo_wa",
    "emo_f1",
    "wa",
    "ua",
    "wf1",
)
"""Summarised metrics; ``mae_non0`` / ``corr_non0`` are MCULoRA's convention (non-zero labels only); ``wa`` /
``ua`` / ``wf1`` are the four-class IEMOCAP metrics."""


def summarize_conditions(frame: pd.DataFrame, by: Sequence[str] = ("method", "condition")) -> pd.DataFrame:
    """``mean ± std`` over seeds of :data:`SUMMARY_METRICS` (not-applicable conditions are dropped)."""
    return summarize(frame, by, SUMMARY_METRICS)


def sampling_long(sampling: pd.DataFrame, kind: str = "combination") -> pd.DataFrame:
    """Sampling histories in long form: method, rank, (fold,) seed, epoch, ``kind``, probability. ``kind`` is
    ``"combination"`` (combination probabilities, every sampler) or ``"modality"`` (per-modality keep
    probabilities of the ``dpft_js`` rule, history columns ``p_<modality>``)."""
    if kind not in ("combination", "modality"):
        raise ValueError(f"sampling_long kind must be 'combination' or 'modality', got {kind!r}")
    ids = [c for c in ("method", "rank", "fold", "seed", "epoch") if c in sampling.columns]
    if kind == "combination":
        values = [c for c in sampling.columns if c in CONDITIONS]
    else:
        values = [c for c in sampling.columns if c.startswith("p_")]
    frame = sampling[ids + values].rename(columns={c: c.removeprefix("p_") for c in values})
    return frame.melt(id_vars=ids, var_name=kind, value_name="probability").dropna(subset=["probability"])


def conditions_matrix(frame: pd.DataFrame, metric: str = "acc2_non0") -> pd.DataFrame:
    """Mean over seeds of one metric: methods as rows, conditions (incl. ``avg``) as columns."""
    kept = frame[frame["applicable"].astype(bool)]
    order = [c for c in (*CONDITIONS, "avg") if c in set(kept["condition"])]
    return kept.pivot_table(index="method", columns="condition", values=metric, aggfunc="mean", sort=False)[order]


def margin(frame: pd.DataFrame, method: str, baseline: str, metric: str = "acc2_non0") -> float:
    """Seed-mean difference on the ``avg`` row (positive = ``method`` better; sign flipped for MAE)."""
    avg = frame[frame["condition"] == "avg"].groupby("method")[metric].mean()
    difference = float(avg[method] - avg[baseline])
    return -difference if metric in ("mae", "mae_non0") else difference


MCULORA_METHODS: tuple[str, ...] = tuple(
    name for name, method in METHODS.items() if method.model == "mculora" and str(method.sampler).startswith("dpft")
)
"""Methods that are MCULoRA proper: published MCLA streams with a DPFT sampler."""


def mculora_verdict(frame: pd.DataFrame, metric: str = "acc2_non0") -> tuple[pd.DataFrame, str]:
    """Each MCULoRA method against the best other method on the ``avg`` row (higher ``metric`` is better), per seed.

    Returns a table (method, mean, std, best baseline, its mean, difference, seeds ahead) and a plain sentence
    per MCULoRA method, followed by the mean over methods of every applicable single-modality condition (how
    much each modality alone carries).
    """
    kept = frame[frame["applicable"].astype(bool)]
    avg = kept[kept["condition"] == "avg"].pivot_table(index="seed", columns="method", values=metric)
    ours = [m for m in MCULORA_METHODS if m in avg.columns]
    others = [m for m in avg.columns if m not in MCULORA_METHODS]
    if not ours or not others:
        return pd.DataFrame(), f"no comparison: needs an MCULoRA method ({', '.join(MCULORA_METHODS)}) and a baseline"
    best = max(others, key=lambda m: avg[m].mean())
    rows, lines = [], []
    for method in ours:
        difference = avg[method] - avg[best]
        ahead = int((difference > 0).sum())
        rows.append(
            {
                "method": method,
                "mean": avg[method].mean(),
                "std": avg[method].std(ddof=1),
                "best baseline": best,
                "baseline mean": avg[best].mean(),
                "difference": difference.mean(),
                "seeds ahead": f"{ahead} of {len(difference)}",
            }
        )
        verb = "ahead of" if difference.mean() > 0 else "behind"
        lines.append(
            f"- **{method}**: {metric} {avg[method].mean():.4f} ± {avg[method].std(ddof=1):.4f} on the average over "
            f"the applicable conditions, {verb} the best baseline **{best}** ({avg[best].mean():.4f} ± "
            f"{avg[best].std(ddof=1):.4f}) by {abs(difference.mean()):.4f}; ahead in {ahead} of {len(difference)} "
            "seeds."
        )
    single = kept[kept["condition"].isin([c for c in CONDITIONS if len(c) == 1])]
    alone = single.groupby("condition")[metric].mean()
    if len(alone):
        lines.append(
            "- Each modality alone (mean over methods and seeds): "
            + ", ".join(f"{c} {alone[c]:.4f}" for c in CONDITIONS if c in alone)
            + "."
        )
    return pd.DataFrame(rows).round(4), "\n".join(lines)


PAIRED_BASELINES: tuple[str, ...] = ("dropout_uniform", "full_only", "mcla_uniform", "mcla_inline")
"""The baselines every MCULoRA method is paired with: uniform modality dropout, full-modality training and MCLA
without DPFT (decoupled streams with uniform draws; the per-layer switch)."""
BARELY_MOVED = 0.05
"""Below this largest move of a DPFT method's per-modality presence probability (the probability that a training
batch keeps the modality; uniform draws over the seven combinations keep each with 4/7, the ``dpft_js`` clip
[0.4, 0.6] bounds it to about [0.44, 0.70]) its draws are called nearly uniform."""


def seed_averages(frame: pd.DataFrame, metric: str = "acc2_non0") -> pd.DataFrame:
    """Per method and seed, ``metric`` on the ``avg`` row (the mean over the applicable conditions); results stacked
    over folds (:mod:`mmolre.protocols.folds`) give each seed's mean over its folds, one value per seed. Columns
    ``method``, ``seed``, ``metric`` and, over folds, ``folds`` (how many were averaged). ValueError when a method
    has two runs of one seed (and fold), e.g. several ranks, or when the seeds of a method do not cover the same
    folds (their means would not compare)."""
    kept = frame[(frame["condition"] == "avg") & frame["applicable"].astype(bool)]
    keys = ["method", *(["fold"] if "fold" in kept.columns else []), "seed"]
    repeated = kept[kept.duplicated(keys, keep=False)]
    if len(repeated):
        raise ValueError(f"several runs of one {'/'.join(keys)}: {repeated[keys].drop_duplicates().values.tolist()}")
    if "fold" not in kept.columns:
        return kept[["method", "seed", metric]].reset_index(drop=True)
    folds = kept.groupby(["method", "seed"], sort=False)["fold"].agg(lambda f: tuple(sorted(f)))
    if folds.nunique() > 1:
        raise ValueError(f"the seeds do not cover the same folds, so their fold means do not pair: {folds.to_dict()}")
    means = kept.groupby(["method", "seed"], sort=False)[metric].mean().reset_index()
    return means.assign(folds=kept["fold"].nunique())


def mculora_paired(
    frame: pd.DataFrame, metric: str = "acc2_non0", baselines: Sequence[str] = PAIRED_BASELINES
) -> pd.DataFrame:
    """Each MCULoRA method (:data:`MCULORA_METHODS`) against each of ``baselines`` present, on ``metric`` averaged
    over the applicable test conditions and paired by seed (:func:`seed_averages`: over folds, each seed's fold
    mean, so the pairs are the independent seeds and not the folds, which share training sessions), with
    :func:`mmolre.protocols.paired.paired_table`: the paired mean difference (method - baseline) with its 95 % t
    interval, paired t and Wilcoxon p, seeds ahead and the verdict. ``paired_on`` says what one pair is. Empty
    without an MCULoRA method or a baseline."""
    averages = seed_averages(frame, metric)
    present = set(averages["method"])
    ours = [m for m in MCULORA_METHODS if m in present]
    others = [m for m in baselines if m in present]
    unit = "seed" if "folds" not in averages else f"seed (mean over {averages['folds'].iloc[0]} folds)"
    tables = []
    for method in ours:
        part = pd.concat([averages[averages["method"] == m] for m in (method, *others)], ignore_index=True)
        tables.append(paired_table(part, reference=method, by="method", metrics=[metric]))
    table = pd.concat(tables, ignore_index=True) if ours and others else pd.DataFrame()
    if table.empty:
        return table
    table.insert(table.columns.get_loc("seeds") + 1, "paired_on", unit)
    return table


def _signed(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:+.4f}"


def _pair(row: pd.Series) -> str:
    """One baseline of a verdict sentence: the difference, its interval and both p."""
    return (
        f"{row['baseline']} (difference {_signed(row['difference'])}, 95 % CI [{_signed(row['ci_low'])}, "
        f"{_signed(row['ci_high'])}], t p = {row['p_t']:.3g}, Wilcoxon p = {row['p_wilcoxon']:.3g})"
    )


def _listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def dpft_movement_text(ranges: pd.DataFrame | None, methods: Sequence[str], baselines: Sequence[str]) -> str:
    """What the DPFT trajectories (``dpft_modality_range``: :func:`~mmolre.protocols.dpft_trajectory.trajectory_range`)
    mean for a verdict, method by method: those of ``methods`` whose presence probabilities barely moved (less than
    :data:`BARELY_MOVED` for every modality) drew nearly uniform combinations and are expected to tie with
    ``mcla_uniform`` (the same model with uniform draws); those that moved are not. Where the selected epochs are
    recorded, what counts is the movement of the probabilities that drew the reported (selected) models' batches:
    a method that moved only after its selected epochs is named as such. Empty when no method of ``methods`` has a
    trajectory."""
    if ranges is None or ranges.empty:
        return ""
    part = ranges[(ranges["quantity"] == "presence") & ranges["method"].isin(methods)]
    if part.empty:
        return ""
    if "moved_by_selection" not in part:
        part = part.assign(moved_by_selection=float("nan"), selected_min=float("nan"), selected_max=float("nan"))
    moved = part.groupby("method", sort=False).agg(
        moved=("moved", "max"),
        by_selection=("moved_by_selection", lambda v: v.max() if v.notna().all() else float("nan")),
        epochs=("epochs", "max"),
        modalities=("modality", "nunique"),
        start=("start", "mean"),
    )
    chosen = {method: selected_epochs(rows) for method, rows in part.groupby("method", sort=False)}
    uniform = "mcla_uniform" in baselines
    others = [b for b in baselines if b != "mcla_uniform"]
    rest = (
        f"; a difference from {_listed(others)} comes from what else differs (the model, or training on full "
        "modalities only), not from DPFT"
        if others
        else ""
    )
    if (moved["modalities"] == 1).all():
        tie = (
            ", and MCULoRA is expected to tie with mcla_uniform (the same model with uniform draws)" if uniform else ""
        )
        return (
            "DPFT cannot move here: with one modality there is a single combination to draw, so DPFT and uniform "
            f"draws train alike{tie}{rest}."
        )
    epochs, start = int(moved["epochs"].max()), float(moved["start"].mean())
    effective = moved["by_selection"].fillna(moved["moved"])
    still, went = moved[effective < BARELY_MOVED], moved[effective >= BARELY_MOVED]
    late = still[still["moved"] >= BARELY_MOVED]  # moved, but only after the epochs whose models are reported
    still = still[still["moved"] < BARELY_MOVED]
    sentences = []
    if len(still):
        names, one = _listed(list(still.index)), len(still) == 1
        each = ", ".join(f"{m} {r.moved:.3f}" for m, r in still.iterrows())
        verb = "is" if one else "are"
        tie = f", and {names} against mcla_uniform (the same model with uniform draws) {verb} expected to tie"
        sentences.append(
            f"DPFT's probabilities barely moved for {names}: over {epochs} epochs the probability that a training "
            f"batch keeps a modality moved at most {float(still['moved'].max()):.3f} from the uniform draws' "
            f"{start:.3f} ({each}; below {BARELY_MOVED:g}), so {'it' if one else 'they'} drew nearly the combinations "
            "uniform sampling draws under this schedule (the official one runs 200–300 epochs)"
            f"{tie if uniform else ''}{rest}."
        )
    if len(late):
        names, one = _listed(list(late.index)), len(late) == 1
        each = ", ".join(
            f"{m}: {r.moved:.3f} over {epochs} epochs, {r.by_selection:.3f} by its selected {chosen[m]}"
            for m, r in late.iterrows()
        )
        tie = ", so a tie with mcla_uniform (the same model with uniform draws) is expected" if uniform else ""
        sentences.append(
            f"DPFT's probabilities moved for {names}, but only after the epochs selected on valid: the reported "
            f"model{'' if one else 's'} trained on nearly uniform draws ({each}; below {BARELY_MOVED:g} by "
            f"selection){tie}{rest}."
        )
    if len(went):
        names = _listed(list(went.index))
        each = ", ".join(
            f"{m} {r.moved:.3f}" + (f", {r.by_selection:.3f} by its selected {chosen[m]}" if chosen[m] else "")
            for m, r in went.iterrows()
        )
        sentences.append(
            f"DPFT's probabilities moved for {names}: up to {float(went['moved'].max()):.3f} from the uniform draws' "
            f"{start:.3f} over {epochs} epochs ({each})"
            + (", so a tie with mcla_uniform is not explained by nearly uniform draws." if uniform else ".")
        )
    return " ".join(sentences)


def mculora_paired_text(table: pd.DataFrame, metric: str, ranges: pd.DataFrame | None = None) -> str:
    """One Markdown paragraph from :func:`mculora_paired`: per MCULoRA method, the baselines it is ahead of or behind
    with paired p < 0.05 and those it is not distinguishable from, then how far DPFT moved
    (:func:`dpft_movement_text` of the ``dpft_modality_range`` table ``ranges``)."""
    if table.empty:
        return (
            f"No paired verdict: it needs an MCULoRA method ({', '.join(MCULORA_METHODS)}) and one of the baselines "
            f"({', '.join(PAIRED_BASELINES)})."
        )
    methods = list(dict.fromkeys(table["reference"]))
    baselines = list(dict.fromkeys(table["baseline"]))
    n, most = int(table["seeds"].min()), int(table["seeds"].max())
    unit = str(table["paired_on"].iloc[0])
    where = f"{metric_label(metric)} averaged over the applicable test conditions"
    parts = []
    if most < 2:
        folds = " (the runs of one seed on several folds are not pairs: the folds share training sessions)"
        parts.append(
            f"**Nothing to pair**: one seed per method ({where}), so no interval, p-value or verdict"
            f"{folds if 'folds' in unit else ''}; run several seeds (e.g. 1111 to 1115) for a paired verdict."
        )
    else:
        better = "lower" if lower_is_better(metric) else "higher"
        parts.append(
            f"**Paired verdict** on {where} ({better} is better), one pair per {unit}, "
            f"{n if n == most else f'{n} to {most}'} pairs; differences are MCULoRA minus baseline."
        )
        for method in methods:
            rows = table[table["reference"] == method]
            groups = []
            for before, match, after in (
                ("ahead of", "ahead with", f" with p < {ALPHA:g}"),
                ("behind", "behind with", f" with p < {ALPHA:g}"),
                ("not distinguishable from", "not distinguishable", ""),
                ("not paired with", "nothing to pair", " (one common seed)"),
            ):
                hits = rows[rows["verdict"].str.startswith(match)]
                if len(hits):
                    groups.append(f"{before} {_listed([_pair(r) for _, r in hits.iterrows()])}{after}")
            parts.append(f"**{method}** is {'; '.join(groups)}.")
        if 2 <= n and 2 / 2**n >= ALPHA:
            parts.append(
                f"The verdict follows the paired t-test: with {n} seeds the exact Wilcoxon p cannot fall below "
                f"{2 / 2**n:.3g}."
            )
    movement = dpft_movement_text(ranges, methods, baselines)
    if movement:
        parts.append(movement)
    return " ".join(parts)
