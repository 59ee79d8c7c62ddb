"""Headline results: every recorded run of every report profile, summarised over seeds, beside published numbers.

Inputs are the per-seed tables the notebooks write under ``reports/<profile>/tables/`` (``baselines_runs``,
``mmolre_runs``, ``encoder_runs``, ``incomplete_conditions_long``) and the benchmark tables under
``reports/benchmarks/tables/``. Which dataset and text encoder a table came from is read from the executed
notebook's parameters (``reports/<profile>/notebooks/``), else from ``results/data_summary.json``. Every ``mean ±
std`` comes from the one summariser, :func:`mmolre.protocols.summary.summarize`. The README's results block is
generated here too (:func:`readme_block`, :func:`write_readme`), so it can be checked against the reports.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mmolre.files import atomic_write
from mmolre.modalities import CONDITIONS
from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from mmolre.protocols.summary import summarize
from mmolre.tasks import EMOTIONS

BENCHMARKS = "benchmarks"
"""The report folder of ``benchmarks/*.py`` (efficiency, fine-tuning), not a notebook profile."""
README_SKIPPED: tuple[str, ...] = ("default",)
"""Profiles left out of the README: ``default`` is the quick synthetic configuration CI runs, not a result."""
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
"""The markers around the generated block in README.md."""

SENTIMENT_METRICS: dict[str, str] = {
    "acc2_has0": "Acc-2 has0",
    "acc2_non0": "Acc-2 non0",
    "f1_non0": "F1 non0",
    "acc7": "Acc-7",
    "mae": "MAE",
    "corr": "Corr",
}
INCOMPLETE_METRICS: dict[str, str] = {"acc2_non0": "Acc-2 non0", "f1_non0": "F1 non0", "mae": "MAE", "corr": "Corr"}
EMOTION_METRICS: dict[str, str] = {
    **{f"emo_{kind}_{e}": f"{e} {kind.upper()}" for e in EMOTIONS for kind in ("wa", "f1")},
    "emo_wa": "mean WA",
    "emo_f1": "mean F1",
}
METHOD_NAMES: dict[str, str] = {
    "mmolre": "MMoLRE",
    "single_task": "single-task (x2)",
    "hard_sharing": "hard sharing",
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
DATASET_NAMES: dict[str, str] = {
    "mosi": "CMU-MOSI",
    "mosei": "CMU-MOSEI",
    "mosi_bclstm": "CMU-MOSI, bc-LSTM split",
    "iemocap": "IEMOCAP",
}
DATASET_ORDER: tuple[str, ...] = ("CMU-MOSI", "CMU-MOSEI", "CMU-MOSI, bc-LSTM split", "IEMOCAP", "synthetic")

# Which table a notebook writes, the notebook that wrote it, and the columns it needs.
RUN_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "baselines_runs": ("04_baselines", ("model", "seed", "split")),
    "mmolre_runs": ("03_train_mmolre", ("model", "seed", "split")),
    "encoder_runs": ("05_ablations", ("encoder", "seed", "split")),
    "incomplete_conditions_long": ("06_incomplete_modalities", ("method", "seed", "condition", "applicable")),
}
EFFICIENCY_TABLES: tuple[str, ...] = ("efficiency_experts", "efficiency_width")
FINETUNE_TABLE = "finetune_mosi_runs"


@dataclass(frozen=True)
class Reference:
    """Where published numbers come from."""

    key: str
    method: str
    source: str
    features: str
    checked: str


@dataclass(frozen=True)
class Published:
    """One published number: ``setting`` is ``full`` (all modalities), ``avg7`` or one test condition."""

    ref: str
    dataset: str
    setting: str
    metric: str
    value: float


_MCULORA_FEATURES = "DeBERTa-large text + wav2vec-large audio + MANet video (GCNet utterance features)"
_MCULORA_REPO = "github gdace829/MCULoRA @b5d07be (first MCULoRA commit, 2025-04-12)"
REFERENCES: dict[str, Reference] = {
    r.key: r
    for r in (
        Reference(
            "Self-MM",
            "Self-MM",
            "github thuiar/MMSA @a94e65d, results/result-stat.md (MMSA's regression table, unaligned features)",
            "BERT-base text + COVAREP audio + Facet video (MMSA processed features)",
            "read in the repository",
        ),
        Reference(
            "MMML",
            "MMML",
            "Wu et al., Multimodal Multi-loss Fusion Network for Sentiment Analysis, NAACL 2024, arXiv 2308.00264",
            "RoBERTa-large text + data2vec audio, fine-tuned end to end; no video",
            "NOT checked: the paper's table was not reachable here; values as given in the project issue",
        ),
        Reference(
            "UniMSE",
            "UniMSE",
            "Hu et al., UniMSE, EMNLP 2022, arXiv 2211.11256 (values from its Papers with Code benchmark entries)",
            "T5 text encoder + UniMSE's own acoustic and visual features",
            "against the benchmark listing of the paper, not the paper's own table",
        ),
        Reference(
            "MCULoRA",
            "MCULoRA",
            f"{_MCULORA_REPO}, data.txt blocks 'iemocap4' (5-fold mean) and 'mosei new'",
            _MCULORA_FEATURES,
            "read in the repository (scratch notes; the MOSEI F1s match its radar-plot data)",
        ),
        Reference(
            "MCULoRA log",
            "MCULoRA (logged run)",
            f"{_MCULORA_REPO}, MoMKE_cmumosei.log, final 7-condition evaluation",
            _MCULORA_FEATURES,
            "read in the repository",
        ),
        Reference(
            "MoMKE",
            "MoMKE",
            f"{_MCULORA_REPO}, drawcircer.py radar data, column MoMKE (F1, six conditions, no atv)",
            _MCULORA_FEATURES,
            "read in the repository (values typed into a plot script, not a log)",
        ),
    )
}


def _records(ref: str, dataset: str, setting: str, values: Mapping[str, float]) -> list[Published]:
    return [Published(ref, dataset, setting, metric, value) for metric, value in values.items()]


def _per_condition(ref: str, dataset: str, metric: str, values: Mapping[str, float]) -> list[Published]:
    return [Published(ref, dataset, condition, metric, value) for condition, value in values.items()]


PUBLISHED: tuple[Published, ...] = (
    *_records(
        "Self-MM",
        "CMU-MOSI",
        "full",
        {"acc2_has0": 0.8344, "acc2_non0": 0.8546, "f1_non0": 0.8543, "acc7": 0.4667, "mae": 0.7080, "corr": 0.7963},
    ),
    *_records(
        "Self-MM",
        "CMU-MOSEI",
        "full",
        {"acc2_has0": 0.8376, "acc2_non0": 0.8515, "f1_non0": 0.8490, "acc7": 0.5387, "mae": 0.5309, "corr": 0.7649},
    ),
    *_records("MMML", "CMU-MOSI", "full", {"acc2_non0": 0.8816, "mae": 0.643}),
    *_records(
        "UniMSE",
        "CMU-MOSI",
        "full",
        {"acc2_non0": 0.869, "f1_non0": 0.8642, "acc7": 0.4868, "mae": 0.691, "corr": 0.809},
    ),
    *_records("UniMSE", "CMU-MOSEI", "full", {"acc2_non0": 0.8750, "f1_non0": 0.8746, "mae": 0.523}),
    *_per_condition(
        "MCULoRA",
        "CMU-MOSEI",
        "acc2_non0",
        {"a": 0.6979, "t": 0.8643, "v": 0.6750, "at": 0.8668, "av": 0.7245, "tv": 0.8715, "atv": 0.8729},
    ),
    *_per_condition(
        "MCULoRA",
        "CMU-MOSEI",
        "f1_non0",
        {"a": 0.6818, "t": 0.8636, "v": 0.6735, "at": 0.8661, "av": 0.7198, "tv": 0.8713, "atv": 0.8722},
    ),
    *_records("MCULoRA", "CMU-MOSEI", "avg7", {"acc2_non0": 0.7961, "f1_non0": 0.7926, "corr": 0.6601}),
    *_records("MCULoRA", "IEMOCAP", "avg7", {"wa": 0.7773, "ua": 0.7843, "f1_weighted": 0.7723}),
    *_records("MCULoRA log", "CMU-MOSEI", "avg7", {"acc2_non0": 0.7885, "f1_non0": 0.7818}),
    *_per_condition(
        "MoMKE",
        "CMU-MOSEI",
        "f1_non0",
        {"a": 0.6592, "t": 0.8584, "v": 0.6491, "at": 0.8603, "av": 0.6586, "tv": 0.8442},
    ),
)
"""Published numbers (fractions, MAE in label units). MCULoRA's MOSEI MAE average is left out: the repository
adds the audio-only MAE twice to it (see the notes on the official code)."""


def published_table() -> pd.DataFrame:
    """Every published number with its method, dataset, setting, the features used, its source and whether checked."""
    rows = [
        {
            "method": REFERENCES[p.ref].method,
            "dataset": p.dataset,
            "setting": p.setting,
            "metric": p.metric,
            "value": p.value,
            "features": REFERENCES[p.ref].features,
            "source": REFERENCES[p.ref].source,
            "checked": REFERENCES[p.ref].checked,
        }
        for p in PUBLISHED
    ]
    return pd.DataFrame(rows)


@dataclass
class RecordedRuns:
    """Every recorded run found: per-seed frames tagged with ``profile``, ``dataset`` and ``features``."""

    sentiment: pd.DataFrame
    incomplete: pd.DataFrame
    efficiency: dict[str, pd.DataFrame]
    profiles: list[str]
    missing: list[str] = field(default_factory=list)


def default_root() -> Path:
    """The committed reports of this checkout (``<project>/reports``), which the README is generated from."""
    return PROJECT_ROOT / "reports"


def list_profiles(root: Path) -> list[str]:
    """Report profiles under ``root``: folders with a ``tables/`` folder, ``benchmarks`` excluded, sorted."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "tables").is_dir() and p.name != BENCHMARKS)


def notebook_parameters(path: Path) -> dict[str, object]:
    """The parameters an executed notebook ran with: its ``parameters`` cell overridden by papermill's injection."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: not a readable notebook ({error})") from error
    values: dict[str, object] = {}
    for tag in ("parameters", "injected-parameters"):
        for cell in cells:
            if tag in cell.get("metadata", {}).get("tags", []):
                try:
                    values.update(_literal_assignments("".join(cell.get("source", ""))))
                except SyntaxError as error:
                    raise ValueError(f"{path}: its {tag} cell is not valid Python ({error})") from error
    return values


def _literal_assignments(source: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for node in ast.parse(source).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and node.value is not None:
            try:
                values[target.id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def _dataset_parameters(path: Path) -> tuple[str, dict[str, object]] | None:
    params = notebook_parameters(path)
    if "dataset" not in params:
        return None
    options = params.get("dataset_options")
    return str(params["dataset"]), dict(options) if isinstance(options, dict) else {}


def run_context(root: Path, profile: str, notebook: str) -> tuple[str, dict[str, object]]:
    """``(dataset, dataset_options)`` a profile's notebook ran on.

    Read from the executed notebook (papermill runs), else from ``results/data_summary.json`` (notebook 01), else
    from the committed notebook's defaults (what nbval runs); ``("unknown", {})`` when nothing says.
    """
    executed = root / profile / "notebooks" / f"{notebook}.ipynb"
    found = _dataset_parameters(executed) if executed.is_file() else None
    if found:
        return found
    summary = root / profile / "results" / "data_summary.json"
    if summary.is_file():
        try:
            payload = json.loads(summary.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{summary}: not valid JSON ({error})") from error
        notes = payload.get("notes") or {}
        return str(payload.get("name", "unknown")), {"text_kind": notes.get("text_kind", "sentence")}
    committed = NOTEBOOKS_DIR / f"{notebook}.ipynb"
    found = _dataset_parameters(committed) if committed.is_file() else None
    return found or ("unknown", {})


def dataset_name(dataset: str) -> str:
    """Display name of a loader name (``mosi`` -> ``CMU-MOSI``; every synthetic variant -> ``synthetic``)."""
    return "synthetic" if dataset.startswith("synthetic") else DATASET_NAMES.get(dataset, dataset)


def text_features(options: Mapping[str, object], label: str | None = None) -> str:
    """How the text reached the model: encoder, frozen or fine-tuned (``label``: an encoder setting's own name)."""
    encoder = Path(str(options.get("encoder") or "all-MiniLM-L6-v2")).name
    if label:
        return f"{encoder} ({label})"
    kind = str(options.get("text_kind", "sentence"))
    if kind == "finetune":
        frozen = options.get("freeze_layers", 0)
        return f"{encoder} fine-tuned ({frozen} lower layers frozen)"
    return f"{encoder} {'token states' if kind == 'tokens' else 'sentence vectors'}, frozen"


def features(dataset: str, options: Mapping[str, object], label: str | None = None) -> str:
    """The features a run of ours used, named like the published rows' ``features``."""
    if dataset.startswith("synthetic"):
        return "synthetic features (no real modality)"
    if dataset == "mosi_bclstm":
        return "bc-LSTM text + audio + video vectors (bc-LSTM's own split)"
    if dataset == "mosi":
        return f"{text_features(options, label)} text + bc-LSTM audio; no video"
    if dataset == "mosei":
        return f"{text_features(options, label)} text only"
    return dataset


def read_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """Read a CSV table; a missing required column is a ValueError naming the file and the columns."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read the table ({error})") from error
    absent = [c for c in required if c not in frame.columns]
    if absent:
        raise ValueError(f"{path}: missing column(s) {absent}; found {list(frame.columns)}")
    return frame


def _tag(frame: pd.DataFrame, profile: str, dataset: str, feats: pd.Series | str) -> pd.DataFrame:
    return frame.assign(profile=profile, dataset=dataset_name(dataset), features=feats)


def _profile_runs(root: Path, profile: str, missing: list[str]) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Sentiment frames (one row per model, seed and split) and incomplete-condition frames of one profile."""
    tables = root / profile / "tables"
    sentiment, incomplete = [], []
    found = {name: tables / f"{name}.csv" for name in RUN_TABLES if (tables / f"{name}.csv").is_file()}
    for name, path in found.items():
        notebook, required = RUN_TABLES[name]
        if name == "mmolre_runs" and "baselines_runs" in found:
            continue  # notebook 04 trains the same MMoLRE model under every seed
        frame = read_table(path, required)
        dataset, options = run_context(root, profile, notebook)
        if name == "encoder_runs":
            feats = pd.Series([features(dataset, options, str(label)) for label in frame["encoder"]], index=frame.index)
            sentiment.append(_tag(frame.assign(model="mmolre"), profile, dataset, feats))
        elif name == "incomplete_conditions_long":
            incomplete.append(_tag(frame, profile, dataset, features(dataset, options)))
        else:
            sentiment.append(_tag(frame, profile, dataset, features(dataset, options)))
    if not found:
        missing.append(f"profile {profile}: none of {', '.join(f'{n}.csv' for n in RUN_TABLES)} in {tables}")
    return sentiment, incomplete


def collect_runs(root: Path | None = None, profiles: Sequence[str] = ()) -> RecordedRuns:
    """Every recorded run under ``root`` (default: the committed reports) for ``profiles`` (empty: all found).

    Nothing found is not an error: what is missing is listed in ``missing``.
    """
    root = default_root() if root is None else Path(root)
    wanted = list(profiles) or list_profiles(root)
    missing: list[str] = [] if wanted else [f"no report profile under {root}"]
    sentiment: list[pd.DataFrame] = []
    incomplete: list[pd.DataFrame] = []
    for profile in wanted:
        if not (root / profile / "tables").is_dir():
            missing.append(f"profile {profile}: no folder {root / profile / 'tables'}")
            continue
        found_sentiment, found_incomplete = _profile_runs(root, profile, missing)
        sentiment += found_sentiment
        incomplete += found_incomplete
    bench = root / BENCHMARKS / "tables"
    finetune = bench / f"{FINETUNE_TABLE}.csv"
    if finetune.is_file():
        frame = read_table(finetune, ("encoder", "seed", "split"))
        feats = frame["encoder"].map(lambda label: features("mosi", {}, str(label)))
        sentiment.append(_tag(frame.assign(model="mmolre"), BENCHMARKS, "mosi", feats))
    efficiency = {}
    for name in EFFICIENCY_TABLES:
        path = bench / f"{name}.csv"
        if path.is_file():
            efficiency[name] = read_table(path, ("experts", "width", "n_experts", "parameters", "flops_per_sample"))
        else:
            missing.append(f"{path} (written by `python benchmarks/efficiency.py`)")
    return RecordedRuns(
        sentiment=pd.concat(sentiment, ignore_index=True) if sentiment else pd.DataFrame(),
        incomplete=pd.concat(incomplete, ignore_index=True) if incomplete else pd.DataFrame(),
        efficiency=efficiency,
        profiles=wanted,
        missing=missing,
    )


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
    table["method"] = table[by].map(lambda m: METHOD_NAMES.get(str(m), str(m)))
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
            {"dataset": p.dataset, "method": ref.method, "source": f"published: {p.ref}", "features": ref.features},
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
    covered["method"] = covered["method"].map(lambda m: METHOD_NAMES.get(str(m), str(m)))
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
    keys = ["dataset", "profile", "method"]
    long = summarize(frame[frame["condition"] != "avg"], by=[*keys, "condition"], metrics=[metric])
    ours = long.pivot_table(index=keys, columns="condition", values=metric, aggfunc="first", sort=False)
    ours = ours.reset_index()
    ours["source"] = "ours: " + ours["profile"].astype(str)
    ours["method"] = ours["method"].map(lambda m: METHOD_NAMES.get(str(m), str(m)))
    rows = {}
    for p in PUBLISHED:
        if p.metric == metric and p.setting in CONDITIONS:
            row = rows.setdefault(
                p.ref, {"dataset": p.dataset, "method": REFERENCES[p.ref].method, "source": f"published: {p.ref}"}
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


def headline_tables(runs: RecordedRuns) -> dict[str, pd.DataFrame]:
    """Every headline table by name (``results_*``); a table with nothing to show is left out."""
    tables = {
        "results_sentiment": sentiment_table(runs),
        "results_emotions": emotion_table(runs),
        "results_incomplete": incomplete_table(runs),
        "results_conditions_f1": conditions_table(runs),
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
    names = frame[key].map(lambda m: METHOD_NAMES.get(str(m), str(m)))
    if "encoder" in frame:  # encoder comparisons train the same model under several text settings
        names = names + frame["encoder"].map(lambda e: "" if pd.isna(e) else f", {e}")
    ours = frame.assign(method=names + " (" + frame["profile"] + ")", kind="ours")[columns]
    setting = "full" if study == "sentiment" else "avg7"
    published = [
        {"dataset": p.dataset, "method": REFERENCES[p.ref].method, "kind": "published", metric: p.value}
        for p in PUBLISHED
        if p.setting == setting and p.metric == metric
    ]
    return pd.concat([pd.DataFrame(published, columns=columns), ours], ignore_index=True)


def plot_comparison(frame: pd.DataFrame, metric: str = "acc2_non0") -> Figure:
    """Horizontal bars per method, one panel per dataset: ours (mean over seeds, sd whiskers) and published."""
    datasets = [d for d in DATASET_ORDER if d in set(frame["dataset"])]
    datasets += sorted(set(frame["dataset"]) - set(datasets))
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(5.5 * max(1, len(datasets)), 4.5), squeeze=False)
    if not datasets:
        axes[0, 0].set_axis_off()
        axes[0, 0].set_title("no recorded runs")
    palette = {"ours": "tab:blue", "published": "tab:grey"}
    for ax, dataset in zip(axes[0], datasets):
        part = frame[frame["dataset"] == dataset]
        sns.barplot(data=part, y="method", x=metric, hue="kind", palette=palette, errorbar="sd", dodge=False, ax=ax)
        ax.set_title(dataset)
        ax.set_ylabel("")
        if metric.startswith(("acc", "f1")):
            ax.set_xlim(left=max(0.0, float(part[metric].min()) - 0.1))
    fig.tight_layout()
    return fig


def plot_emotions(runs: RecordedRuns, kind: str = "wa") -> Figure:
    """Per-emotion weighted accuracy (``wa``) or weighted F1 (``f1``) per model, test split, mean with sd whiskers."""
    frame = runs.sentiment
    columns = [f"emo_{kind}_{e}" for e in EMOTIONS]
    if frame.empty or not set(columns) <= set(frame.columns):
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.set_axis_off()
        ax.set_title("no emotion runs recorded")
        return fig
    test = frame[(frame["split"] == "test") & frame[columns[0]].notna()]
    test = test.assign(
        method=test["model"].map(lambda m: METHOD_NAMES.get(str(m), str(m))) + " (" + test["profile"] + ")"
    )
    long = test.melt(id_vars=["dataset", "method"], value_vars=columns, var_name="emotion", value_name=kind.upper())
    long["emotion"] = long["emotion"].str.removeprefix(f"emo_{kind}_")
    datasets = sorted(set(long["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(7 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sns.barplot(
            data=long[long["dataset"] == dataset], x="emotion", y=kind.upper(), hue="method", errorbar="sd", ax=ax
        )
        ax.set_title(dataset)
        ax.set_ylim(0.4, 1.0)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def to_markdown(table: pd.DataFrame) -> str:
    """A table as GitHub Markdown (no index), numbers already formatted as text."""
    return table.to_markdown(index=False, disable_numparse=True)


_SECTIONS: tuple[tuple[str, str], ...] = (
    ("results_sentiment", "Sentiment (MSA), test split"),
    ("results_emotions", "Emotions (MER), test split: weighted accuracy and weighted F1 per emotion"),
    ("results_incomplete", "Incomplete modalities: average over the applicable test conditions"),
    ("results_conditions_f1", "Incomplete modalities: F1 non0 per test condition"),
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
    for name, title in _SECTIONS:
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
    if runs.missing:
        lines += ["", "**Not found**", "", *[f"- {item}" for item in runs.missing]]
    lines.append(END)
    return "\n".join(lines)


_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), flags=re.DOTALL)


def readme_section(text: str, path: Path) -> str:
    """The current generated block of a README text; a ValueError when the markers are missing or repeated."""
    found = _BLOCK.findall(text)
    if len(found) != 1:
        raise ValueError(f"{path}: expected one {BEGIN} ... {END} block, found {len(found)}")
    return found[0]


def write_readme(readme: Path | None = None, root: Path | None = None) -> bool:
    """Replace the README's results block with :func:`readme_block`; returns True when the file changed."""
    readme = PROJECT_ROOT / "README.md" if readme is None else Path(readme)
    text = readme.read_text(encoding="utf-8")
    current = readme_section(text, readme)
    block = readme_block(root)
    if current == block:
        return False
    updated = text.replace(current, block)
    atomic_write(readme, lambda tmp: tmp.write_text(updated, encoding="utf-8"))
    return True
