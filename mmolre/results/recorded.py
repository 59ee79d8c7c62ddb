"""Recorded runs: every per-seed table the notebooks and benchmarks wrote under ``reports/``, tagged with the
profile, the dataset and the features it came from (read from the parameters the executed notebook recorded,
:func:`mmolre.notebook_parameters.recorded`, else from ``results/data_summary.json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mmolre import notebook_parameters
from mmolre.data.registry import dataset_spec, display_name
from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT

BENCHMARKS = "benchmarks"
"""The report folder of ``benchmarks/*.py`` (efficiency, fine-tuning), not a notebook profile."""
# Which table a notebook writes, the notebook that wrote it, and the columns it needs.
RUN_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "baselines_runs": ("04_baselines", ("model", "seed", "split")),
    "mmolre_runs": ("03_train_mmolre", ("model", "seed", "split")),
    "encoder_runs": ("05_ablations", ("encoder", "seed", "split")),
    "incomplete_conditions_long": ("06_incomplete_modalities", ("method", "seed", "condition", "applicable")),
}
EFFICIENCY_TABLES: tuple[str, ...] = ("efficiency_experts", "efficiency_width")
FINETUNE_TABLE = "finetune_mosi_runs"


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


def shown_path(path: Path) -> str:
    """A reports folder as a page may show it: relative to the project when inside it, else its name only (pages
    carry no absolute paths of the machine that made them)."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return resolved.relative_to(PROJECT_ROOT).as_posix() or "."
    return f"{resolved.name} (outside the project)"


def list_profiles(root: Path) -> list[str]:
    """Report profiles under ``root``: folders with a ``tables/`` folder, ``benchmarks`` excluded, sorted."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "tables").is_dir() and p.name != BENCHMARKS)


def _dataset_parameters(path: Path) -> tuple[str, dict[str, object]] | None:
    try:
        params = notebook_parameters.recorded(path)
    except notebook_parameters.ParameterError as error:
        raise ValueError(str(error)) from error
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
    """How tables name a dataset or its data (its record's display name: ``mosi`` -> ``CMU-MOSI``, every synthetic
    variant -> ``synthetic``; the name itself when no record has it)."""
    return display_name(dataset)


def features(dataset: str, options: Mapping[str, object], label: str | None = None) -> str:
    """The features a run of ours used, named like the published rows' ``features`` (the dataset record's
    description, :meth:`~mmolre.data.registry.DatasetSpec.describe_features`)."""
    try:
        spec = dataset_spec(dataset)
    except ValueError:  # a plugin's dataset whose module is not imported here
        return dataset + (", utterance context" if options.get("context") else "")
    return spec.describe_features(options, label)


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
        missing.append(f"profile {profile}: none of {', '.join(f'{n}.csv' for n in RUN_TABLES)} in {profile}/tables")
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
