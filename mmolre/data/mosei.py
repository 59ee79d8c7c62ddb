"""Real CMU-MOSEI (text only): official folds, six emotion intensities, transcripts encoded with MiniLM.

Files (see :mod:`mmolre.sources`): ``mosei/umons_d_{train,valid,test}.pkl`` (fold segment lists),
``mosei/mosei_labels_7d.csv`` (sentiment + six emotion intensities) and ``mosei/mosei_text_label.csv`` (transcripts).
Transcript matching, per labelled segment, on (video, start time) only; labels are never looked at:

1. ``within``: the transcript of the same video whose start is nearest, if within ``tolerance`` seconds;
2. ``loose``: otherwise that nearest transcript if within ``loose_tolerance`` seconds;
3. ``none``: no transcript; the segment keeps an empty text (the encoding of ``""``) and is counted, never dropped.

Ties (two transcripts equally near) go to the one listed first in the transcript file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.safe_pickle import load_pickle
from mmolre.data.sources import check_numeric, how_to_obtain, read_csv, require
from mmolre.data.text_encoder import ENCODER_NAME, describe_text, text_features
from mmolre.modalities import presence_mask
from mmolre.tasks import EMOTIONS

LABELS = "mosei/mosei_labels_7d.csv"
TEXTS = "mosei/mosei_text_label.csv"
EXPECTED_SIZES = {"train": 16327, "valid": 1871, "test": 4662}
_NUMERIC = {LABELS: ("start", "end", "sentiment", *EMOTIONS), TEXTS: ("label",)}
"""Columns that must hold finite numbers in every row."""


def _read_csv(relative: str, data_dir: str | Path | None, columns: set[str]) -> pd.DataFrame:
    frame = read_csv(relative, data_dir)
    missing = columns - set(frame.columns)
    if missing:
        raise DataError(f"{require(relative, data_dir)}: missing column(s) {sorted(missing)}")
    check_numeric(frame, require(relative, data_dir), _NUMERIC.get(relative, ()), first_line=2)
    return frame


def read_fold(split: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """One official fold as a frame with columns ``segment, video, start, end`` (from ``umons_d_<split>.pkl``)."""
    relative = f"mosei/umons_d_{split}.pkl"
    path = require(relative, data_dir)
    entries = load_pickle(path, how_to_obtain(relative))
    if not isinstance(entries, dict) or not entries:
        raise DataError(f"{path}: expected a non-empty dict index -> [segment, start, end]")
    rows = []
    for value in entries.values():
        try:
            segment, start, end = value
            rows.append((str(segment), str(segment).rsplit("[", 1)[0], float(start), float(end)))
        except (TypeError, ValueError):
            raise DataError(f"{path}: entry {value!r} is not [segment, start, end]") from None
    return pd.DataFrame(rows, columns=["segment", "video", "start", "end"])


def match_transcripts(
    segments: pd.DataFrame, transcripts: pd.DataFrame, tolerance: float = 1.5, loose_tolerance: float = 3.0
) -> tuple[list[str], list[str]]:
    """Text and match kind (``within`` / ``loose`` / ``none``) per row of ``segments`` (columns video, start).

    ``transcripts`` has columns ``video_id``, ``start``, ``text``; the nearest start of the same video wins.
    """
    if not 0.0 <= tolerance <= loose_tolerance:
        raise ValueError(f"need 0 <= tolerance <= loose_tolerance, got {tolerance} and {loose_tolerance}")
    texts = np.full(len(segments), "", dtype=object)
    kinds = np.full(len(segments), "none", dtype=object)
    by_video = dict(tuple(transcripts.groupby("video_id", sort=False)))
    for video, rows in segments.groupby("video").indices.items():
        group = by_video.get(video)
        if group is None:
            continue
        distance = np.abs(segments["start"].to_numpy()[rows, None] - group["start"].to_numpy()[None, :])
        nearest, gap = distance.argmin(axis=1), distance.min(axis=1)
        within, loose = gap <= tolerance, (gap > tolerance) & (gap <= loose_tolerance)
        chosen = within | loose
        texts[rows[chosen]] = group["text"].astype(str).to_numpy()[nearest[chosen]]
        kinds[rows[within]], kinds[rows[loose]] = "within", "loose"
    return texts.tolist(), kinds.tolist()


def load_mosei(
    data_dir: str | Path | None = None,
    text_kind: str = "sentence",
    max_tokens: int = 32,
    tolerance: float = 1.5,
    loose_tolerance: float = 3.0,
    freeze_layers: int = 0,
    encoder: str = ENCODER_NAME,
) -> MultimodalDataset:
    """CMU-MOSEI official folds (16327 / 1871 / 4662): text, sentiment, six emotion intensities.

    Text is ``text_kind`` (see :mod:`mmolre.data.text_encoder` and :func:`mmolre.data.mosi.load_mosi`).
    """
    labels = _read_csv(LABELS, data_dir, {"id", "start", "end", "sentiment", *EMOTIONS})
    transcripts = _read_csv(TEXTS, data_dir, {"video_id", "clip_id", "text", "label"})
    try:
        transcripts["start"] = transcripts["clip_id"].astype(str).str.replace("_", ".").astype(float)
    except ValueError:
        raise DataError(f"{TEXTS}: clip_id is not a start time with '.' written as '_'") from None
    transcripts["text"] = transcripts["text"].fillna("")
    frames, counts = {}, {}
    for split in SPLITS:
        fold = read_fold(split, data_dir)
        joined = fold.merge(labels, left_on=["video", "start", "end"], right_on=["id", "start", "end"], how="left")
        unlabelled = int(joined["sentiment"].isna().sum())
        if unlabelled:
            raise DataError(
                f"mosei/umons_d_{split}.pkl: {unlabelled} segments have no row in {LABELS} on (video, start, end)"
            )
        if len(joined) != len(fold):
            raise DataError(
                f"{LABELS}: duplicate (video, start, end) rows; the {split} join gave {len(joined)} rows "
                f"for {len(fold)} segments"
            )
        joined["text"], joined["match"] = match_transcripts(joined, transcripts, tolerance, loose_tolerance)
        frames[split] = joined
        counts[split] = (
            joined["match"].value_counts().reindex(["within", "loose", "none"], fill_value=0).astype(int).to_dict()
        )
    every = pd.concat([frames[s] for s in SPLITS], ignore_index=True)
    text = text_features(every["text"].tolist(), text_kind, max_tokens, freeze_layers, encoder)
    splits, start = {}, 0
    for split in SPLITS:
        frame = frames[split]
        n = len(frame)
        emotions = frame[list(EMOTIONS)].to_numpy(dtype=np.float32)
        if emotions.min() < 0 or emotions.max() > 3:
            raise DataError(f"{LABELS}: emotion intensities outside [0, 3] in the {split} fold")
        values, lengths = text.take(range(start, start + n))
        splits[split] = SplitData(
            features={"text": values},
            mask=presence_mask(n, ["text"]),
            sentiment=torch.tensor(frame["sentiment"].to_numpy(), dtype=torch.float32),
            emotions=torch.from_numpy(emotions),
            ids=frame["segment"].tolist(),
            lengths={} if lengths is None else {"text": lengths},
        )
        start += n
    total = {kind: sum(c[kind] for c in counts.values()) for kind in ("within", "loose", "none")}
    notes = {
        "transcript_match": {
            "rule": "nearest start of the same video (sentiment never used)",
            "per_split": counts,
            "total": total,
            "tolerance_s": tolerance,
            "loose_tolerance_s": loose_tolerance,
            "unmatched_policy": "kept with empty text (encoding of the empty string)",
        },
        "expected_sizes": EXPECTED_SIZES,
        "text_kind": text_kind,
    }
    description = (
        f"CMU-MOSEI, official folds. Real modality: text only ({describe_text(text_kind, encoder, freeze_layers)} "
        f"of the transcripts; {total['within']} matched within {tolerance} s, {total['loose']} loosely, "
        f"{total['none']} without transcript). Audio and vision absent. Emotions: six intensities in [0, 3]."
    )
    return MultimodalDataset("mosei", splits, ("text",), description, notes, text.text_input)
