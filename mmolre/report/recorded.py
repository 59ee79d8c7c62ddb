"""Recorded runs: every per-seed table the notebooks and benchmarks wrote under ``reports/``, tagged with the
profile, the dataset and the features it came from (read from the executed notebook's parameters, else from
``results/data_summary.json``)."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT

BENCHMARKS = "benchmarks"
"""The report folder of ``benchmarks/*.py`` (efficiency, fine-tuning), not a notebook profile."""
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
    context = ", utterance context" if options.get("context") else ""
    if dataset.startswith("synthetic"):
        return "synthetic features (no real modality)"
    if dataset == "mosi_bclstm":
        return f"bc-LSTM text + audio + video vectors (bc-LSTM's own split){context}"
    if dataset == "mosi" and options.get("audio") is False:
        return f"{text_features(options, label)} text only{context}"
    if dataset == "mosi":
        return f"{text_features(options, label)} text + bc-LSTM audio; no video{context}"
    if dataset in ("mosei", "iemocap"):
        return f"{text_features(options, label)} text only{context}"
    if dataset == "official":
        named = options.get("features")
        names = ", ".join(f"{m}: {f}" for m, f in named.items()) if isinstance(named, Mapping) else "?"
        return f"official GCNet/MCULoRA utterance features ({names}){context}"
    return f"{dataset}{context}"


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
