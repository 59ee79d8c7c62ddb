"""Headline results: every recorded run of every report profile, summarised over seeds, beside published numbers.

Inputs are the per-seed tables the notebooks write under ``reports/<profile>/tables/`` (``baselines_runs``,
``mmolre_runs``, ``encoder_runs``, ``incomplete_conditions_long``) and the benchmark tables under
``reports/benchmarks/tables/``. Which dataset and text encoder a table came from is read from the executed
notebook's parameters (``reports/<profile>/notebooks/``), else from ``results/data_summary.json``. Every ``mean ±
std`` comes from the one summariser, :func:`mmolre.protocols.summary.summarize`, every paired comparison from
:mod:`mmolre.protocols.paired`. The README's headline table and the full results in ``docs/results.md`` are generated
here too (:func:`headline_block`, :func:`readme_block`, :func:`write_readme`), so they can be checked against the
reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mmolre.files import atomic_write
from mmolre.metrics import metric_label
from mmolre.modalities import CONDITIONS
from mmolre.paths import PROJECT_ROOT
from mmolre.protocols.paired import lower_is_better, paired_table
from mmolre.protocols.summary import summarize
from mmolre.report.published import PUBLISHED, REFERENCES
from mmolre.report.recorded import (
    DATASET_ORDER,
    RecordedRuns,
    collect_runs,
    default_root,
    list_profiles,
)
from mmolre.tasks import EMOTIONS

README_SKIPPED: tuple[str, ...] = ("default",)
"""Profiles left out of the README: ``default`` is the quick synthetic configuration CI runs, not a result."""
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
"""The markers around the generated results block (in :data:`RESULTS_FILE`)."""
HEADLINE_BEGIN, HEADLINE_END = "<!-- headline:begin -->", "<!-- headline:end -->"
"""The markers around the generated headline table in README.md."""
RESULTS_FILE = PROJECT_ROOT / "docs" / "results.md"
"""Where the full generated results live (README.md holds only the headline)."""

SENTIMENT_METRICS: dict[str, str] = {
    m: metric_label(m) for m in ("acc2_has0", "acc2_non0", "f1_non0", "acc7", "mae", "corr")
}
INCOMPLETE_METRICS: dict[str, str] = {
    m: metric_label(m) for m in ("acc2_non0", "f1_non0", "mae", "corr", "wa", "ua", "wf1")
}
EMOTION_METRICS: dict[str, str] = {
    m: metric_label(m) for m in [*(f"emo_{kind}_{e}" for e in EMOTIONS for kind in ("wa", "f1")), "emo_wa", "emo_f1"]
}
METHOD_NAMES: dict[str, str] = {
    "mmolre": "MMoLRE",
    "single_task": "single-task (x2)",
    "hard_sharing": "hard sharing",
    "linear_head": "encoder + linear head",
    "moe_full": "MoE, full rank",
    "mmoe_full": "MMoE, full rank",
    "mculora": "MCULoRA",
    "mculora_js": "MCULoRA (DPFT, April JS rule)",
    "mculora_acc": "MCULoRA (DPFT, August accuracy rule)",
    "mculora_fusion_js": "MCLA + fusion-JS DPFT",
    "mcla_inline": "inline MCLA without DPFT",
    "mcla_uniform": "MCLA without DPFT",
    "dropout_uniform": "uniform modality dropout",
    "full_only": "full modalities only",
    "mmolre_dropout": "MMoLRE + modality dropout",
}


def method_label(name: str) -> str:
    """The readable name of a model or incomplete-modality method (the name itself when it has none)."""
    return METHOD_NAMES.get(name, name)


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Datasets in a fixed order, published rows first within a dataset, then ours in recorded order."""
    rank = {name: i for i, name in enumerate(DATASET_ORDER)}
    keys = frame["dataset"].map(lambda d: rank.get(d, len(rank)))
    published = frame["source"].str.startswith("published").map(lambda p: 0 if p else 1)
    ordered = frame.assign(_d=keys, _p=published).sort_values(["_d", "_p"], kind="stable")
    return ordered.drop(columns=["_d", "_p"]).reset_index(drop=True)


def _ours(frame: pd.DataFrame, by: str, metrics: Mapping[str, str], split: str | None) -> pd.DataFrame:
    """``mean ± std`` over seeds per profile, dataset, features and ``by``, metric columns renamed for display."""
    keys = ["dataset", "profile", "features", by]
    table = summarize(frame, by=keys, metrics=list(metrics), split=split)
    table["method"] = table[by].map(lambda m: method_label(str(m)))
    table["source"] = "ours: " + table["profile"].astype(str)
    kept = [m for m in metrics if m in table.columns]
    columns = ["dataset", "method", "source", "features", "seeds", *kept]
    return table[columns].rename(columns=metrics)


def _published_rows(metrics: Mapping[str, str], setting: str, datasets: Sequence[str]) -> pd.DataFrame:
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for p in PUBLISHED:
        if p.setting != setting or p.metric not in metrics or p.dataset not in datasets:
            continue
        ref = REFERENCES[p.ref]
        row = rows.setdefault(
            (p.ref, p.dataset),
            {"dataset": p.dataset, "method": ref.label, "source": f"published: {p.ref}", "features": ref.features},
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
        frame["seeds"] = frame["seeds"].map(lambda n: "" if pd.isna(n) else str(int(n)))
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
    covered["method"] = covered["method"].map(lambda m: method_label(str(m)))
    ours = ours.merge(covered[["source", "method", "conditions"]], on=["source", "method"], how="left")
    published = _published_rows(INCOMPLETE_METRICS, "avg7", ["CMU-MOSEI", *sorted(set(ours["dataset"]))])
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
    ours["method"] = ours["method"].map(lambda m: method_label(str(m)))
    rows = {}
    for p in PUBLISHED:
        if p.metric == metric and p.setting in CONDITIONS:
            row = rows.setdefault(
                p.ref, {"dataset": p.dataset, "method": REFERENCES[p.ref].label, "source": f"published: {p.ref}"}
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


def _signed(value: float) -> str:
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
            interval = "" if row.seeds < 2 else f" [{_signed(row.ci_low)}, {_signed(row.ci_high)}]"
            rows.append(
                {
                    "dataset": dataset,
                    "source": f"ours: {profile}",
                    "comparison": f"{method_label(reference)} − {method_label(str(row.baseline))}",
                    "metric": f"{PAIRED_METRICS[row.metric]} ({row.better} is better)",
                    "seeds": str(row.seeds),
                    "difference [95 % CI]": _signed(row.difference) + interval,
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
    names = frame[key].map(lambda m: method_label(str(m)))
    if "encoder" in frame:  # encoder comparisons train the same model under several text settings
        names = names + frame["encoder"].map(lambda e: "" if pd.isna(e) else f", {e}")
    ours = frame.assign(method=names + " (" + frame["profile"] + ")", kind="ours")[columns]
    setting = "full" if study == "sentiment" else "avg7"
    published = [
        {"dataset": p.dataset, "method": REFERENCES[p.ref].label, "kind": "published", metric: p.value}
        for p in PUBLISHED
        if p.setting == setting and p.metric == metric
    ]
    return pd.concat([pd.DataFrame(published, columns=columns), ours], ignore_index=True)


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
            names = part["model"].map(lambda m: method_label(str(m)))
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
    return _mean_table(avg.assign(method=avg["method"].map(lambda m: method_label(str(m)))), metric), metric, setting


def _mean_table(part: pd.DataFrame, metric: str) -> pd.DataFrame:
    grouped = part.groupby(["method", "profile", "features"], sort=False)[metric]
    return grouped.agg(mean="mean", std="std", seeds="count").reset_index()


def headline_records(runs: RecordedRuns) -> list[dict[str, object]]:
    """Per dataset with runs of ours: our best (method, profile) on the dataset's headline metric (test split, mean
    over seeds; groups with at least three seeds when there are any, so that one lucky seed does not lead) and the
    strongest published number for the same data and setting (None when there is none). ``gap`` is ours minus
    published, sign flipped for error metrics (positive is better)."""
    found = set(runs.sentiment.get("dataset", [])) | set(runs.incomplete.get("dataset", []))
    records = []
    for dataset in [d for d in DATASET_ORDER if d in found] + sorted(found - set(DATASET_ORDER)):
        ours, metric, setting = _our_means(runs, dataset)
        if ours.empty:
            continue
        if (ours["seeds"] >= 3).any():
            ours = ours[ours["seeds"] >= 3]
        best = ours.loc[ours["mean"].idxmin() if lower_is_better(metric) else ours["mean"].idxmax()]
        candidates = [p for p in PUBLISHED if (p.dataset, p.metric, p.setting) == (dataset, metric, setting)]
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
                "gap": "–" if r["gap"] is None else _signed(float(r["gap"])),
            }
        )
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """A table as GitHub Markdown (no index), numbers already formatted as text."""
    return table.to_markdown(index=False, disable_numparse=True)


SECTIONS: tuple[tuple[str, str], ...] = (
    ("results_sentiment", "Sentiment (MSA), test split"),
    ("results_emotions", "Emotions (MER), test split: weighted accuracy and weighted F1 per emotion"),
    ("results_paired", "MMoLRE against each baseline, test split, paired over the seeds both ran"),
    ("results_incomplete", "Incomplete modalities: average over the applicable test conditions"),
    ("results_conditions_f1", "Incomplete modalities: F1 non0 per test condition"),
    ("results_conditions_wa", "Incomplete modalities: WA per test condition (IEMOCAP four classes)"),
    ("results_efficiency", "Efficiency: low-rank against full-rank experts (one measurement each)"),
)


def readme_block(root: Path | None = None) -> str:
    """The README's generated results block (markers included) from the reports under ``root``.

    Every profile except :data:`README_SKIPPED` is read; the text depends on the tables only (no dates).
    """
    root = default_root() if root is None else Path(root)
    runs = collect_runs(root, [p for p in list_profiles(root) if p not in README_SKIPPED])
    tables = headline_tables(runs)
    lines = [
        BEGIN,
        "<!-- generated by `python -m mmolre readme` from reports/*/tables (mmolre/report/results.py); "
        "do not edit by hand -->",
        "",
        f"Profiles read: {', '.join(runs.profiles) or 'none'}. Ours: mean ± std over the seeds in the `seeds` "
        "column. Published: the number as reported (fractions; MAE in label units), source below.",
    ]
    for name, title in SECTIONS:
        if name in tables:
            lines += ["", f"**{title}** (`{name}`)", "", to_markdown(tables[name])]
    shown = {
        (str(row["source"]).removeprefix("published: "), str(row["dataset"]))
        for table in tables.values()
        if "source" in table
        for _, row in table.iterrows()
    }
    others = [p for p in PUBLISHED if (p.ref, p.dataset) not in shown]
    if others:
        lines += ["", "**Published numbers with no run of ours on the same data**", ""]
        groups: dict[tuple[str, str, str], list[str]] = {}
        for p in others:
            groups.setdefault((p.ref, p.dataset, p.setting), []).append(f"{p.metric} {p.value:.4f}")
        lines += [f"- {ref}, {data}, {setting}: {', '.join(v)}" for (ref, data, setting), v in groups.items()]
    used = sorted({p.ref for p in PUBLISHED})
    lines += ["", "**Sources of the published numbers**", ""]
    lines += [f"- {key}: {REFERENCES[key].source}; checked: {REFERENCES[key].checked}." for key in used]
    selected = [key for key in used if REFERENCES[key].test_selected]
    if selected:
        lines += ["", "**Selected on the test split** (marked *selected on test* in the tables)", ""]
        lines += [f"- {key}: {REFERENCES[key].test_selected}." for key in selected]
    if runs.missing:
        lines += ["", "**Not found**", "", *[f"- {item}" for item in runs.missing]]
    lines.append(END)
    return "\n".join(lines)


def headline_block(root: Path | None = None) -> str:
    """README.md's generated headline block (markers included): :func:`headline_table` of the reports under
    ``root`` (every profile except :data:`README_SKIPPED`), the table the dashboard opens with."""
    root = default_root() if root is None else Path(root)
    runs = collect_runs(root, [p for p in list_profiles(root) if p not in README_SKIPPED])
    table = headline_table(runs)
    return "\n".join(
        [
            HEADLINE_BEGIN,
            "<!-- generated by `python -m mmolre readme` from reports/*/tables (mmolre/report/results.py); "
            "do not edit by hand -->",
            "",
            to_markdown(table) if len(table) else "(no recorded runs)",
            HEADLINE_END,
        ]
    )


def _block(begin: str, end: str) -> re.Pattern[str]:
    return re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.DOTALL)


def readme_section(text: str, path: Path, begin: str = BEGIN, end: str = END) -> str:
    """The current generated block of a text; a ValueError when the markers are missing or repeated."""
    found = _block(begin, end).findall(text)
    if len(found) != 1:
        raise ValueError(f"{path}: expected one {begin} ... {end} block, found {len(found)}")
    return found[0]


def write_generated(path: Path, root: Path | None = None) -> bool:
    """Replace every generated block that ``path`` holds (the headline block, the results block) with what the
    reports under ``root`` regenerate; returns True when the file changed. A file with neither block is a
    ValueError naming it."""
    text = path.read_text(encoding="utf-8")
    makers = {(HEADLINE_BEGIN, HEADLINE_END): headline_block, (BEGIN, END): readme_block}
    present = [(markers, make) for markers, make in makers.items() if markers[0] in text or markers[1] in text]
    if not present:
        raise ValueError(f"{path}: no generated block ({HEADLINE_BEGIN} or {BEGIN} ... their end markers)")
    updated = text
    for (begin, end), make in present:
        updated = updated.replace(readme_section(updated, path, begin, end), make(root))
    if updated == text:
        return False
    atomic_write(path, lambda tmp: tmp.write_text(updated, encoding="utf-8"))
    return True


def write_readme(readme: Path | None = None, root: Path | None = None) -> bool:
    """Regenerate the generated blocks of ``readme``, or, when None, of README.md (the headline) and
    :data:`RESULTS_FILE` (the full results); returns True when a file changed."""
    paths = [Path(readme)] if readme is not None else [PROJECT_ROOT / "README.md", RESULTS_FILE]
    return any([write_generated(path, root) for path in paths])
