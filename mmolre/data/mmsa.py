"""Reader for MMSA feature pickles (``aligned_50.pkl`` / ``unaligned_50.pkl``).

Schema: ``{train, valid, test} -> {raw_text, text, text_bert, audio, vision, id, regression_labels, ...}`` with
``text`` (n, L, d), ``audio`` (n, L_a, d_a), ``vision`` (n, L_v, d_v) and ``regression_labels`` (n,). Non-finite
feature values (MMSA audio contains -inf) are replaced by 0 and counted in ``notes``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.safe_pickle import load_pickle
from mmolre.data.sources import check_text
from mmolre.emotions import EMOTIONS
from mmolre.messages import shown
from mmolre.modalities import MODALITIES, presence_mask

TEXT_FIELDS = ("text", "text_bert")


def _array(path: Path, split: str, field: str, value: object, ndim: int, n: int | None) -> np.ndarray:
    numeric = not isinstance(value, np.ndarray) or value.dtype.kind in "biuf"
    if not isinstance(value, (np.ndarray, list, tuple)) or not numeric:
        raise DataError(f"{path}: {split}/{field} is not a numeric array ({shown(value, 60)})")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: {split}/{field} is not numeric") from None
    if array.ndim != ndim or (n is not None and array.shape[0] != n):
        expected = ", ".join(["n" if n is None else str(n)] + ["*"] * (ndim - 1))
        raise DataError(f"{path}: {split}/{field} has shape {array.shape}, expected ({expected})")
    return array


def load_mmsa(path: str | Path, text_field: str = "text", name: str | None = None) -> MultimodalDataset:
    """Load an MMSA pickle; ``text_field`` picks ``text`` (GloVe/BERT features) or ``text_bert`` (token ids etc.)."""
    if text_field not in TEXT_FIELDS:
        raise ValueError(f"text_field must be one of {TEXT_FIELDS}, got {shown(text_field)}")
    path = Path(path)
    content = load_pickle(
        path,
        "an MMSA feature pickle (aligned_50.pkl / unaligned_50.pkl) from the MMSA project's "
        "dataset release; pass its path",
    )
    if not isinstance(content, dict) or any(s not in content for s in SPLITS):
        raise DataError(f"{path}: expected a dict with splits {SPLITS}")
    cleaned: dict[str, int] = {}
    splits = {}
    for split in SPLITS:
        part = content[split]
        if not isinstance(part, dict):
            raise DataError(f"{path}: {split} is {type(part).__name__}, expected a dict of fields")
        for field in ("regression_labels", text_field, "audio", "vision"):
            if field not in part:
                raise DataError(f"{path}: {split} has no field {field!r}")
        sentiment = _array(path, split, "regression_labels", part["regression_labels"], 1, None).reshape(-1)
        n = len(sentiment)
        if n == 0:
            raise DataError(f"{path}: {split} is empty")
        outside = np.flatnonzero(~(np.abs(sentiment) <= 3.0))  # NaN fails the test too
        if len(outside):
            raise DataError(
                f"{path}: {split}/regression_labels must be finite in [-3, 3]; sample {outside[0]} is "
                f"{sentiment[outside[0]]} ({len(outside)} such samples)"
            )
        features = {}
        for modality, field in zip(MODALITIES, (text_field, "audio", "vision")):
            array = _array(path, split, field, part[field], 3, n)
            bad = ~np.isfinite(array)
            if bad.any():
                cleaned[f"{split}/{field}"] = int(bad.sum())
                array = np.where(bad, 0.0, array).astype(np.float32)
            features[modality] = torch.from_numpy(array)
        emotions = None
        if "emotion_labels" in part:
            emotions = torch.from_numpy(_array(path, split, "emotion_labels", part["emotion_labels"], 2, n))
            if emotions.shape[1] != len(EMOTIONS):
                raise DataError(
                    f"{path}: {split}/emotion_labels has {emotions.shape[1]} columns, expected {len(EMOTIONS)}"
                )
            if not torch.isfinite(emotions).all():
                row = int(torch.nonzero(~torch.isfinite(emotions))[0, 0])
                raise DataError(f"{path}: {split}/emotion_labels are NaN or infinite at sample {row}")
        ids = part.get("id", [str(i) for i in range(n)])
        if not isinstance(ids, (list, tuple, np.ndarray)) or len(ids) != n:
            count = f"{len(ids)} entries" if isinstance(ids, (list, tuple, np.ndarray)) else type(ids).__name__
            raise DataError(f"{path}: {split}/id must list one id per sample; it has {count} for {n} samples")
        ids = [
            str(i) if isinstance(i, (int, np.integer)) else check_text(i, f"{path}: {split}/id[{index}]")
            for index, i in enumerate(ids)
        ]
        splits[split] = SplitData(
            features=features,
            mask=presence_mask(n, MODALITIES),
            sentiment=torch.from_numpy(sentiment),
            emotions=emotions,
            ids=ids,
        )
    description = (
        f"MMSA feature pickle {path.name}: real text ({text_field}), audio and vision features as released "
        "by MMSA; sentiment = regression_labels."
    )
    notes = {"source": str(path), "text_field": text_field, "nonfinite_replaced_by_0": cleaned}
    return MultimodalDataset(name or path.stem, splits, MODALITIES, description, notes)
