"""Scoring new utterances with an exported model (see :mod:`mmolre.exports`).

Input: raw transcripts, encoded the way the model's dataset encoded its text (for a fine-tuned encoder with frozen
lower layers, those layers' states are computed for the new texts first), and, optionally, one vector per utterance
for each other modality the model reads (columns ``<modality>_0`` ... ``<modality>_<d-1>`` of a CSV file; empty
cells mark the modality missing in that row). Output: one row per utterance with ``sentiment`` in [-3, 3],
``emotion_<name>`` probabilities (sigmoid, multi-label) and ``emotion4_<class>`` probabilities (softmax).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmolre.exports.folder import Pretrained, load_pretrained
from mmolre.messages import cut
from mmolre.modalities import MODALITIES
from mmolre.models.base import eval_mode, to_model
from mmolre.tasks import TASK_SPECS, in_task_order

FORMATS = ("csv", "json")


def _vector_input(name: str, width: int, values: np.ndarray | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, 1, width)`` features of one modality and its (n,) presence; rows that are all NaN are absent."""
    if values is None:
        return torch.zeros(n, 1, width), torch.zeros(n, dtype=torch.bool)
    values = np.asarray(values, dtype=np.float32)
    if values.shape != (n, width):
        raise ValueError(f"{name} vectors must have shape ({n}, {width}), got {values.shape}")
    missing = np.isnan(values)
    partial = np.flatnonzero(missing.any(axis=1) & ~missing.all(axis=1))
    if len(partial):
        raise ValueError(f"{name} vector of row {int(partial[0])} is partly empty; give all {width} values or none")
    if not np.isfinite(values[~missing]).all():
        raise ValueError(f"{name} vectors contain inf")
    return torch.from_numpy(np.nan_to_num(values, nan=0.0))[:, None, :], torch.from_numpy(~missing.all(axis=1))


def predict(
    pretrained: Pretrained,
    texts: Sequence[str] | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Predictions for ``texts`` and/or per-modality ``vectors`` ``{modality: (n, d)}`` (NaN rows: missing), one row
    per utterance (see the module docstring)."""
    model, vectors = pretrained.model, dict(vectors or {})
    reads_text = "text" in model.modalities and pretrained.text is not None
    unknown = sorted(set(vectors) - set(model.modalities))
    if unknown:
        raise ValueError(f"the model reads {model.modalities}; it has no use for vectors of {unknown}")
    if texts is not None and not reads_text:
        raise ValueError(f"the model reads no raw text (its inputs: {_needs(pretrained)}); give vectors instead")
    if reads_text and texts is None:
        raise ValueError("the model reads raw text: give transcripts (--text or a 'text' column)")
    counts = {len(texts)} if texts is not None else set()
    counts |= {len(v) for v in vectors.values()}
    if len(counts) != 1:
        raise ValueError(f"inputs must have the same number of rows, got {sorted(counts) or 'none'}")
    n = counts.pop()
    features, lengths = {}, {}
    present = torch.zeros(n, len(MODALITIES), dtype=torch.bool)
    for m in model.modalities:
        column = MODALITIES.index(m)
        if m == "text" and reads_text:
            values, text_lengths = pretrained.text.encode(list(texts)).take(range(n))  # type: ignore[union-attr]
            features[m], present[:, column] = values, True
            if text_lengths is not None:
                lengths[m] = text_lengths
        else:
            features[m], present[:, column] = _vector_input(m, pretrained.dims[m], vectors.get(m), n)
    empty = np.flatnonzero(~present.any(dim=1).numpy())
    if len(empty):
        raise ValueError(f"row {int(empty[0])} has no input of any modality the model reads ({model.modalities})")
    parts: dict[str, list[torch.Tensor]] = {}
    with eval_mode(model):
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            batch = {m: values[rows] for m, values in features.items()}
            for m, steps in lengths.items():
                width = int(steps[rows].max())
                batch[m] = batch[m][:, :width]
                batch[f"{m}_mask"] = torch.arange(width)[None, :] < steps[rows, None]
            batch["mask"] = present[rows]
            for task, values in model(to_model(batch, model)).predictions.items():
                parts.setdefault(task, []).append(values.float().cpu())
    return _frame({task: torch.cat(chunks) for task, chunks in parts.items()}, texts)


def _frame(outputs: Mapping[str, torch.Tensor], texts: Sequence[str] | None) -> pd.DataFrame:
    columns: dict[str, object] = {} if texts is None else {"text": list(texts)}
    for task in in_task_order(outputs):
        columns.update(TASK_SPECS[task].columns(outputs[task]))
    return pd.DataFrame(columns)


def _needs(pretrained: Pretrained) -> str:
    return ", ".join(
        "raw text" if m == "text" and pretrained.text is not None else f"{m}_0..{m}_{d - 1}"
        for m, d in pretrained.dims.items()
    )


def read_input(path: Path, pretrained: Pretrained) -> tuple[list[str] | None, dict[str, np.ndarray], pd.DataFrame]:
    """Texts, per-modality vectors and the whole table of a CSV file of utterances (see the module docstring)."""
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path}: unreadable CSV file ({cut(str(error), 120)})") from None
    if table.empty:
        raise ValueError(f"{path}: no utterances (the file has no data rows)")
    texts = None
    reads_text = "text" in pretrained.dims and pretrained.text is not None
    if reads_text:
        if "text" not in table.columns:
            raise ValueError(f"{path}: no 'text' column (the model reads transcripts)")
        texts = table["text"].fillna("").tolist()
    vectors = {}
    for m, width in pretrained.dims.items():
        if m == "text" and reads_text:
            continue
        found = [c for c in table.columns if re.fullmatch(rf"{m}_\d+", c)]
        if not found:
            continue
        wanted = [f"{m}_{i}" for i in range(width)]
        if sorted(found) != sorted(wanted):
            raise ValueError(f"{path}: {m} needs exactly the columns {m}_0 ... {m}_{width - 1}, found {len(found)}")
        try:
            vectors[m] = table[wanted].astype(np.float32).to_numpy()
        except ValueError as error:
            raise ValueError(f"{path}: {m} columns hold a value that is not a number ({cut(str(error), 80)})") from None
    if texts is None and not vectors:
        raise ValueError(f"{path}: no input columns; the model reads {_needs(pretrained)}")
    return texts, vectors, table


def format_predictions(frame: pd.DataFrame, fmt: str) -> str:
    """The predictions as CSV (4 decimals) or a JSON list of records."""
    if fmt == "csv":
        return frame.to_csv(index=False, float_format="%.4f")
    records = frame.round(4).to_dict(orient="records")
    return json.dumps(records, indent=1, ensure_ascii=False) + "\n"


def predict_command(
    model: Path, texts: Sequence[str] | None, input_csv: Path | None, fmt: str = "csv", device: str = "auto"
) -> str:
    """``python -m mmolre predict``: the formatted predictions for ``--text`` values or an ``--input`` CSV."""
    if (texts is None) == (input_csv is None):
        raise ValueError("give either --text (one or more) or --input FILE.csv")
    pretrained = load_pretrained(model, device)
    if input_csv is not None:
        texts, vectors, table = read_input(input_csv, pretrained)
        frame = predict(pretrained, texts, vectors)
        if "id" in table.columns:
            frame.insert(0, "id", table["id"].tolist())
    else:
        frame = predict(pretrained, texts)
    return format_predictions(frame, fmt)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m mmolre predict``."""
    parser.add_argument("--model", type=Path, required=True, help="export folder (written by mmolre.export)")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", action="append", help="a transcript to score (repeat for several)")
    given.add_argument(
        "--input", type=Path, help="CSV file: column 'text'; optional <modality>_0..<modality>_<d-1> vector columns"
    )
    parser.add_argument("--format", choices=FORMATS, default="csv", help="output format (default csv)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
