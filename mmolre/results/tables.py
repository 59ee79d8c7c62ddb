"""The results tables: every recorded run of every report profile (:mod:`mmolre.results.recorded`), summarised over
seeds, beside the published numbers (:mod:`mmolre.results.published`): sentiment, emotions, MMoLRE paired with each
baseline, incomplete modalities (average and per condition), efficiency, and the long frame the comparison figures
draw. Every ``mean ± std`` comes from the one summariser, :func:`mmolre.protocols.summary.summarize`, every paired
comparison from :mod:`mmolre.protocols.paired`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from mmolre.data.registry import dataset_spec, display_order
from mmolre.emotions import EMOTIONS
from mmolre.metrics import metric_label
from mmolre.modalities import CONDITIONS
from mmolre.models.registry import display_name
from mmolre.protocols.paired import paired_table
from mmolre.protocols.summary import fold_spans, summarize
from mmolre.results.published import PUBLISHED, REFERENCES
from mmolre.results.recorded import RecordedRuns

SENTIMENT_METRICS: dict[str, str] = {
    m: metric_label(m) for m in ("acc2_has0", "acc2_non0", "f1_non0", "acc7", "mae", "corr")
}
INCOMPLETE_METRICS: dict[str, str] = {
    m: metric_label(m) for m in ("acc2_non0", "f1_non0", "mae", "corr", "wa", "ua", "wf1")
}
EMOTION_METRICS: dict[str, str] = {
    m: metric_label(m) for m in [*(f"emo_{kind}_{e}" for e in EMOTIONS for kind in ("wa", "f1")), "emo_wa", "emo_f1"]
}


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Datasets in the registry's order, published rows first within a dataset, then ours in recorded order."""
    rank = {name: i for i, name in enumerate(display_order())}
    keys = frame["dataset"].map(lambda d: rank.get(d, len(rank)))
    published = frame["source"].str.startswith("published").map(lambda p: 0 if p else 1)
    ordered = frame.assign(_d=keys, _p=published).sort_values(["_d", "_p"], kind="stable")
    return ordered.drop(columns=["_d", "_p"]).reset_index(drop=True)


def _ours(frame: pd.DataFrame, by: str, metrics: Mapping[str, str], split: str | None) -> pd.DataFrame:
    """``mean ± std`` over seeds per profile, dataset, features and ``by``, metric columns renamed for display."""
    keys = ["dataset", "profile", "features", by]
    table = summarize(frame, by=keys, metrics=list(metrics), split=split)
    if "fold" in frame.columns:  # cross-validated runs: the count reads "<seeds> × <folds> folds"
        table = _fold_counts(frame if split is None else frame[frame["split"] == split], table, keys)
    table["method"] = table[by].map(lambda m: display_name(str(m)))
    table["source"] = "ours: " + table["profile"].astype(str)
    kept = [m for m in metrics if m in table.columns]
    columns = ["dataset", "method", "source", "features", "seeds", *kept]
    return table[columns].rename(columns=metrics)


def _fold_counts(frame: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``table`` whose ``seeds`` count reads ``"<seeds> × <folds> folds"`` for groups run on several folds (its
    mean ± std is then over every fold and seed run)."""
    spans = fold_spans(frame, keys).rename(columns={"seeds": "_seeds", "folds": "_folds"})
    table = table.merge(spans, on=keys, how="left")
    table["seeds"] = [
        f"{seeds} × {folds} folds" if folds > 1 else count
        for count, seeds, folds in zip(table["seeds"], table["_seeds"], table["_folds"])
    ]
    return table.drop(columns=["_seeds", "_folds"])


def _published_rows(metrics: Mapping[str, str], setting: str, datasets: Sequence[str]) -> pd.DataFrame:
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for p in PUBLISHED:
        if p.setting != setting or p.metric not in metrics or p.dataset_label not in datasets:
            continue
        ref = REFERENCES[p.ref]
        row = rows.setdefault(
            (p.ref, p.dataset),
            {
                "dataset": p.dataset_label,
                "method": ref.label,
                "source": f"published: {p.ref}",
                "features": ref.features,
            },
        )
        row[metrics[p.metric]] = f"{p.value:.4f}"
    return pd.DataFrame(list(rows.values()))


def _headline(
    ours: pd.DataFrame, published: pd.DataFrame, metrics: Mapping[str, str], extra: Sequence[str] = ()
) -> pd.DataFrame:
    """Published rows and ours in one table: dataset, method, source, features, seeds, ``extra``, metrics."""
    frame = pd.concat([published, ours], ignore_index=True) if len(published) else ours
    if frame.empty:
        return frame
    if "seeds" in frame:
        frame["seeds"] = frame["seeds"].map(lambda n: n if isinstance(n, str) else "" if pd.isna(n) else str(int(n)))
    columns = ["dataset", "method", "source", "features", "seeds", *extra, *metrics.values()]
    return _order(frame.reindex(columns=[c for c in columns if c in frame.columns]).fillna("–"))


def sentiment_table(runs: RecordedRuns) -> pd.DataFrame:
    """MSA, test split: every model of every profile (mean ± std over seeds) beside the published numbers."""
    frame = runs.sentiment
    if frame.empty or "acc2_non0" not in frame:
        return pd.DataFrame()
    ours = _ours(frame, "model", SENTIMENT_METRICS, split="test")
    published = _published_rows(SENTIMENT_METRICS, "full", sorted(set(ours["dataset"])))
    return _headline(ours, published, SENTIMENT_METRICS)


def emotion_table(runs: RecordedRuns) -> pd.DataFrame:
    """MER, test split: per-emotion weighted accuracy and weighted F1 (and their means) for every model with them."""
    frame = runs.sentiment
    if frame.empty or "emo_wa" not in frame:
        return pd.DataFrame()
    frame = frame[frame["emo_wa"].notna()]
    if frame.empty:
        return pd.DataFrame()
    return _headline(_ours(frame, "model", EMOTION_METRICS, split="test"), pd.DataFrame(), EMOTION_METRICS)


def _covered(frame: pd.DataFrame) -> pd.DataFrame:
    """Per profile and method, the applicable test conditions that the ``avg`` row averages."""
    kept = frame[(frame["condition"] != "avg") & frame["applicable"].astype(bool)]
    names = kept.groupby(["profile", "method"], sort=False)["condition"].agg(
        lambda c: [x for x in CONDITIONS if x in set(c)]
    )
    return names.map(lambda c: f"{len(c)}: {', '.join(c)}" if len(c) < len(CONDITIONS) else "all 7").rename(
        "conditions"
    )


def incomplete_table(runs: RecordedRuns) -> pd.DataFrame:
    """Incomplete modalities: the per-seed average over the applicable test conditions, mean ± std over seeds."""
    frame = runs.incomplete
    if frame.empty:
        return pd.DataFrame()
    ours = _ours(frame[frame["condition"] == "avg"], "method", INCOMPLETE_METRICS, split=None)
    covered = _covered(frame).reset_index()
    covered["source"] = "ours: " + covered["profile"].astype(str)
    covered["method"] = covered["method"].map(lambda m: display_name(str(m)))
    ours = ours.merge(covered[["source", "method", "conditions"]], on=["source", "method"], how="left")
    shown = [dataset_spec("mosei").label, *sorted(set(ours["dataset"]))]  # MCULoRA's own setting, always shown
    published = _published_rows(INCOMPLETE_METRICS, "avg7", shown)
    if len(published):
        published["conditions"] = "all 7"
    return _headline(ours, published, INCOMPLETE_METRICS, extra=("conditions",))


def conditions_table(runs: RecordedRuns, metric: str = "f1_non0") -> pd.DataFrame:
    """One metric per test condition (mean ± std over seeds), ours and the published per-condition numbers."""
    frame = runs.incomplete
    if frame.empty or metric not in frame:
        return pd.DataFrame()
    frame = frame[frame[metric].notna()]
    keys = ["dataset", "profile", "method"]
    long = summarize(frame[frame["condition"] != "avg"], by=[*keys, "condition"], metrics=[metric])
    ours = long.pivot_table(index=keys, columns="condition", values=metric, aggfunc="first", sort=False)
    ours = ours.reset_index()
    ours["source"] = "ours: " + ours["profile"].astype(str)
    ours["method"] = ours["method"].map(lambda m: display_name(str(m)))
    rows = {}
    for p in PUBLISHED:
        if p.metric == metric and p.setting in CONDITIONS:
            row = rows.setdefault(
                p.ref, {"dataset": p.dataset_label, "method": REFERENCES[p.ref].label, "source": f"published: {p.ref}"}
            )
            row[p.setting] = f"{p.value:.4f}"
    frame = pd.concat([pd.DataFrame(list(rows.values())), ours.drop(columns="profile")], ignore_index=True)
    columns = ["dataset", "method", "source", *[c for c in CONDITIONS if c in frame.columns]]
    return _order(frame[columns].fillna("–"))


def efficiency_table(runs: RecordedRuns) -> pd.DataFrame:
    """Low-rank against full-rank experts per benchmark setting: both costs and the low / full ratios (one run)."""
    rows = []
    for name, frame in runs.efficiency.items():
        for (width, n_experts), group in frame.groupby(["width", "n_experts"], sort=False):
            kinds = group.set_index("experts")
            if not {"low-rank", "full-rank"} <= set(kinds.index):
                continue
            low, full = kinds.loc["low-rank"], kinds.loc["full-rank"]
            row = {
                "benchmark": name,
                "width": int(width),
                "experts": int(n_experts),
                "params low-rank": int(low["parameters"]),
                "params full-rank": int(full["parameters"]),
                "params ratio": f"{low['parameters'] / full['parameters']:.3f}",
                "FLOPs ratio": f"{low['flops_per_sample'] / full['flops_per_sample']:.3f}",
            }
            if "samples_per_s" in kinds:
                row["throughput ratio"] = f"{low['samples_per_s'] / full['samples_per_s']:.2f}"
            rows.append(row)
    return pd.DataFrame(rows)


PAIRED_METRICS: dict[str, str] = {m: metric_label(m) for m in ("mae", "acc2_non0", "corr", "emo_wa", "wa")}
"""Metrics of the paired table, in order."""


def signed(value: float) -> str:
    """A difference with its sign, as the tables write it (``+0.0123``, ``−0.0045``)."""
    return f"{value:+.4f}".replace("-", "−")


def paired_results_table(runs: RecordedRuns, reference: str = "mmolre") -> pd.DataFrame:
    """MMoLRE against every model recorded beside it (same profile, dataset and features), test split, paired over
    the common seeds (:func:`mmolre.protocols.paired.paired_table`): difference with its 95 % t interval, paired t
    and Wilcoxon p, seeds ahead and the verdict. The features are those of the profile's row in
    :func:`sentiment_table`."""
    frame = runs.sentiment
    if frame.empty or "model" not in frame:
        return pd.DataFrame()
    rows = []
    for (dataset, profile, _), group in frame.groupby(["dataset", "profile", "features"], sort=False):
        for row in paired_table(group, reference, by="model", metrics=list(PAIRED_METRICS)).itertuples(index=False):
            interval = "" if row.seeds < 2 else f" [{signed(row.ci_low)}, {signed(row.ci_high)}]"
            rows.append(
                {
                    "dataset": dataset,
                    "source": f"ours: {profile}",
                    "comparison": f"{display_name(reference)} − {display_name(str(row.baseline))}",
                    "metric": f"{PAIRED_METRICS[row.metric]} ({row.better} is better)",
                    "seeds": str(row.seeds),
                    "difference [95 % CI]": signed(row.difference) + interval,
                    "p (paired t)": "–" if pd.isna(row.p_t) else f"{row.p_t:.3g}",
                    "p (Wilcoxon)": "–" if pd.isna(row.p_wilcoxon) else f"{row.p_wilcoxon:.3g}",
                    "seeds ahead": f"{row.ahead} of {row.seeds}",
                    "verdict": row.verdict,
                }
            )
    return _order(pd.DataFrame(rows)) if rows else pd.DataFrame()


def headline_tables(runs: RecordedRuns) -> dict[str, pd.DataFrame]:
    """Every headline table by name (``results_*``); a table with nothing to show is left out."""
    tables = {
        "results_sentiment": sentiment_table(runs),
        "results_emotions": emotion_table(runs),
        "results_paired": paired_results_table(runs),
        "results_incomplete": incomplete_table(runs),
        "results_conditions_f1": conditions_table(runs),
        "results_conditions_wa": conditions_table(runs, "wa"),
        "results_efficiency": efficiency_table(runs),
    }
    return {name: table for name, table in tables.items() if not table.empty}


SECTIONS: tuple[tuple[str, str], ...] = (
    ("results_sentiment", "Sentiment (MSA), test split"),
    ("results_emotions", "Emotions (MER), test split: weighted accuracy and weighted F1 per emotion"),
    ("results_paired", "MMoLRE against each baseline, test split, paired over the seeds both ran"),
    ("results_incomplete", "Incomplete modalities: average over the applicable test conditions"),
    ("results_conditions_f1", "Incomplete modalities: F1 non0 per test condition"),
    ("results_conditions_wa", "Incomplete modalities: WA per test condition (IEMOCAP four classes)"),
    ("results_efficiency", "Efficiency: low-rank against full-rank experts (one measurement each)"),
)
"""The headline tables in the order the README and notebook 07 show them, with their titles."""


def comparison_frame(runs: RecordedRuns, metric: str = "acc2_non0", study: str = "sentiment") -> pd.DataFrame:
    """Long frame for :func:`plot_comparison`, one row per seed of ours and one per published number.

    ``study``: ``sentiment`` (test split, published full-modality numbers) or ``incomplete`` (per-seed average over
    the test conditions, published 7-condition averages).
    """
    if study not in ("sentiment", "incomplete"):
        raise ValueError(f"study must be 'sentiment' or 'incomplete', got {study!r}")
    frame = runs.sentiment if study == "sentiment" else runs.incomplete
    columns = ["dataset", "method", "kind", metric]
    if frame.empty or metric not in frame:
        return pd.DataFrame(columns=columns)
    frame = frame[frame["split"] == "test"] if study == "sentiment" else frame[frame["condition"] == "avg"]
    key = "model" if study == "sentiment" else "method"
    names = frame[key].map(lambda m: display_name(str(m)))
    if "encoder" in frame:  # encoder comparisons train the same model under several text settings
        names = names + frame["encoder"].map(lambda e: "" if pd.isna(e) else f", {e}")
    ours = frame.assign(method=names + " (" + frame["profile"] + ")", kind="ours")[columns]
    setting = "full" if study == "sentiment" else "avg7"
    published = [
        {"dataset": p.dataset_label, "method": REFERENCES[p.ref].label, "kind": "published", metric: p.value}
        for p in PUBLISHED
        if p.setting == setting and p.metric == metric
    ]
    return pd.concat([pd.DataFrame(published, columns=columns), ours], ignore_index=True)
