"""The headline: per dataset, our best run (test split, mean over seeds) beside the strongest published number for
the same data and setting, with the features each used and the gap; what README.md and the dashboard open with."""

from __future__ import annotations

import pandas as pd

from mmolre.data.registry import display_order
from mmolre.metrics import metric_label
from mmolre.models.registry import display_name
from mmolre.protocols.paired import lower_is_better
from mmolre.results.published import PUBLISHED, REFERENCES
from mmolre.results.recorded import RecordedRuns
from mmolre.results.tables import signed

README_SKIPPED: tuple[str, ...] = ("default",)
"""Profiles left out of the README: ``default`` is the quick synthetic configuration CI runs, not a result."""


def _our_means(runs: RecordedRuns, dataset: str) -> tuple[pd.DataFrame, str, str]:
    """Our runs on ``dataset`` summarised over seeds (columns ``method, profile, features, mean, std, seeds``), the
    metric they are ranked on and the published setting they compare with: full-modality sentiment runs on Acc-2
    (non-zero); otherwise incomplete-modality runs on their average over the applicable conditions, compared with
    the published number of that one condition when only one applies, else with the 7-condition average."""
    sentiment = runs.sentiment
    if not sentiment.empty and "acc2_non0" in sentiment:
        part = sentiment[(sentiment["dataset"] == dataset) & (sentiment["split"] == "test")]
        part = part[part["acc2_non0"].notna()]
        if len(part):
            names = part["model"].map(lambda m: display_name(str(m)))
            if "encoder" in part:
                names = names + part["encoder"].map(lambda e: "" if pd.isna(e) else f", {e}")
            return _mean_table(part.assign(method=names), "acc2_non0"), "acc2_non0", "full"
    frame = runs.incomplete
    if frame.empty:
        return pd.DataFrame(), "", ""
    part = frame[(frame["dataset"] == dataset) & frame["applicable"].astype(bool)]
    metric = next((m for m in ("wa", "acc2_non0") if m in part and part[m].notna().any()), "")
    if not metric:
        return pd.DataFrame(), "", ""
    conditions = sorted(set(part.loc[part["condition"] != "avg", "condition"]))
    setting = conditions[0] if len(conditions) == 1 else "avg7"
    avg = part[part["condition"] == "avg"]
    return _mean_table(avg.assign(method=avg["method"].map(lambda m: display_name(str(m)))), metric), metric, setting


def _mean_table(part: pd.DataFrame, metric: str) -> pd.DataFrame:
    keys = ["method", "profile", "features"]
    if "fold" in part and "seed" in part and part["fold"].notna().any():  # a seed's value: the mean over its folds
        part = part.groupby([*keys, "seed"], sort=False)[metric].mean().reset_index()
    grouped = part.groupby(keys, sort=False)[metric]
    return grouped.agg(mean="mean", std="std", seeds="count").reset_index()


def headline_records(runs: RecordedRuns) -> list[dict[str, object]]:
    """Per dataset with runs of ours: our best (method, profile) on the dataset's headline metric (test split, mean
    over seeds; groups with at least three seeds when there are any, so that one lucky seed does not lead) and the
    strongest published number for the same data and setting (None when there is none). ``gap`` is ours minus
    published, sign flipped for error metrics (positive is better)."""
    found = set(runs.sentiment.get("dataset", [])) | set(runs.incomplete.get("dataset", []))
    records = []
    order = display_order()
    for dataset in [d for d in order if d in found] + sorted(found - set(order)):
        ours, metric, setting = _our_means(runs, dataset)
        if ours.empty:
            continue
        if (ours["seeds"] >= 3).any():
            ours = ours[ours["seeds"] >= 3]
        best = ours.loc[ours["mean"].idxmin() if lower_is_better(metric) else ours["mean"].idxmax()]
        candidates = [p for p in PUBLISHED if (p.dataset_label, p.metric, p.setting) == (dataset, metric, setting)]
        pick = min if lower_is_better(metric) else max
        strongest = pick(candidates, key=lambda p: p.value) if candidates else None
        gap = None if strongest is None else float(best["mean"]) - strongest.value
        records.append(
            {
                "dataset": dataset,
                "metric": metric,
                "setting": setting,
                "method": best["method"],
                "profile": best["profile"],
                "features": best["features"],
                "mean": float(best["mean"]),
                "std": float(best["std"]) if best["seeds"] > 1 else float("nan"),
                "seeds": int(best["seeds"]),
                "published": None if strongest is None else REFERENCES[strongest.ref],
                "published_value": None if strongest is None else strongest.value,
                "gap": None if gap is None else (-gap if lower_is_better(metric) else gap),
            }
        )
    return records


def headline_table(runs: RecordedRuns) -> pd.DataFrame:
    """:func:`headline_records` as a table for readers: our best run per dataset (mean ± std over seeds, features)
    beside the strongest published number (features) and the gap."""
    rows = []
    for r in headline_records(runs):
        setting = str(r["setting"])
        where = " (avg over conditions)" if setting == "avg7" else "" if setting == "full" else f", condition {setting}"
        spread = "" if r["seeds"] < 2 else f" ± {r['std']:.3f}"
        ref = r["published"]
        rows.append(
            {
                "dataset": r["dataset"],
                "metric": metric_label(str(r["metric"])) + where,
                "ours": f"{r['method']} ({r['profile']})",
                "ours: value": f"{r['mean']:.3f}{spread} ({r['seeds']} seed{'s' if r['seeds'] != 1 else ''})",
                "ours: features": r["features"],
                "strongest published": "–" if ref is None else ref.label,
                "published: value": "–" if ref is None else f"{r['published_value']:.4f}",
                "published: features": "–" if ref is None else ref.features,
                "gap": "–" if r["gap"] is None else signed(float(r["gap"])),
            }
        )
    return pd.DataFrame(rows)
