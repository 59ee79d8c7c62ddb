"""Real CMU-MOSEI (text only): official folds, six emotion intensities, transcripts encoded with MiniLM.

Files (see :mod:`mmolre.sources`): ``mosei/umons_d_{train,valid,test}.pkl`` (fold segment lists),
``mosei/mosei_labels_7d.csv`` (sentiment + six emotion intensities) and ``mosei/mosei_text_label.csv`` (transcripts).
Transcripts are paired with the labelled segments per video, on times only; labels are never looked at:

1. ``in_order``: where the transcript file holds exactly as many rows for a video as the fold has segments, the
   k-th segment in time order (start, then end) gets the k-th transcript in time order. The two files' clocks differ
   by a per-video offset (about 19 s in ``-ri04Z7vwnc``), so nearest start times pick wrong or no transcripts there;
2. where the counts differ, the nearest start of the same video: ``within`` ``tolerance`` seconds, else ``loose``
   within ``loose_tolerance`` seconds, else ``none``. Ties go to the transcript listed first in the file;
3. ``none``: no transcript; the segment keeps an empty text (the encoding of ``""``) and is counted, never dropped.

:func:`pairing_report` counts each kind and how many segments the nearest-start rule alone would pair otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.safe_pickle import load_pickle
from mmolre.data.sources import check_numeric, how_to_obtain, read_csv, require
from mmolre.data.text_encoder import ENCODER_NAME, describe_text, text_features
from mmolre.emotions import EMOTIONS
from mmolre.messages import shown
from mmolre.modalities import presence_mask

LABELS = "mosei/mosei_labels_7d.csv"
TEXTS = "mosei/mosei_text_label.csv"
EXPECTED_SIZES = {"train": 16327, "valid": 1871, "test": 4662}
_NUMERIC = {LABELS: ("start", "end", "sentiment", *EMOTIONS), TEXTS: ("label",)}
"""Columns that must hold finite numbers in every row."""
_RANGES = {"sentiment": (-3.0, 3.0), "label": (-3.0, 3.0), **dict.fromkeys(EMOTIONS, (0.0, 3.0))}
"""Where the label columns' values must lie (a cell outside is named by file, column and line)."""


def _read_csv(relative: str, data_dir: str | Path | None, columns: set[str]) -> pd.DataFrame:
    frame = read_csv(relative, data_dir)
    missing = columns - set(frame.columns)
    if missing:
        raise DataError(f"{require(relative, data_dir)}: missing column(s) {sorted(missing)}")
    check_numeric(frame, require(relative, data_dir), _NUMERIC.get(relative, ()), first_line=2, ranges=_RANGES)
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
            raise DataError(f"{path}: entry {shown(value)} is not [segment, start, end]") from None
    return pd.DataFrame(rows, columns=["segment", "video", "start", "end"])


def read_labels(data_dir: str | Path | None = None) -> pd.DataFrame:
    """``mosei_labels_7d.csv``: one row per labelled segment (id = video, start, end, sentiment, six emotions)."""
    return _read_csv(LABELS, data_dir, {"id", "start", "end", "sentiment", *EMOTIONS})


def read_transcripts(data_dir: str | Path | None = None) -> pd.DataFrame:
    """``mosei_text_label.csv`` with a ``start`` column in seconds (from ``clip_id``, '.' written as '_')."""
    transcripts = _read_csv(TEXTS, data_dir, {"video_id", "clip_id", "text", "label"})
    try:
        transcripts["start"] = transcripts["clip_id"].astype(str).str.replace("_", ".").astype(float)
    except ValueError:
        raise DataError(f"{TEXTS}: clip_id is not a start time with '.' written as '_'") from None
    transcripts["text"] = transcripts["text"].fillna("")
    return transcripts


def read_segments(split: str, labels: pd.DataFrame, data_dir: str | Path | None = None) -> pd.DataFrame:
    """One official fold joined with its labels on (video, start, end); every segment must have exactly one row."""
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
    return joined


PAIRING_KINDS = ("in_order", "within", "loose", "none")
"""How a segment got its transcript (see the module docstring)."""


@dataclass(frozen=True)
class TranscriptPairing:
    """Per segment: the transcript's position in the transcript frame (-1: none) and the kind of pairing."""

    rows: np.ndarray
    kinds: np.ndarray

    def texts(self, transcripts: pd.DataFrame) -> list[str]:
        """The paired texts, ``""`` where a segment has no transcript."""
        texts = np.full(len(self.rows), "", dtype=object)
        paired = self.rows >= 0
        texts[paired] = transcripts["text"].astype(str).to_numpy()[self.rows[paired]]
        return texts.tolist()

    def counts(self) -> dict[str, int]:
        """Segments per kind, every kind of :data:`PAIRING_KINDS` listed."""
        return {kind: int((self.kinds == kind).sum()) for kind in PAIRING_KINDS}


def nearest_transcripts(
    segments: pd.DataFrame, transcripts: pd.DataFrame, tolerance: float = 1.5, loose_tolerance: float = 3.0
) -> TranscriptPairing:
    """Pair each row of ``segments`` (columns video, start) with the nearest start of the same video.

    ``transcripts`` has columns ``video_id``, ``start``, ``text``; kinds are ``within`` / ``loose`` / ``none``.
    """
    if not 0.0 <= tolerance <= loose_tolerance:
        raise ValueError(f"need 0 <= tolerance <= loose_tolerance, got {tolerance} and {loose_tolerance}")
    rows = np.full(len(segments), -1, dtype=np.int64)
    kinds = np.full(len(segments), "none", dtype=object)
    by_video = transcripts.groupby("video_id", sort=False).indices
    starts = transcripts["start"].to_numpy()
    for video, members in segments.groupby("video").indices.items():
        candidates = by_video.get(video)
        if candidates is None:
            continue
        distance = np.abs(segments["start"].to_numpy()[members, None] - starts[None, candidates])
        nearest, gap = distance.argmin(axis=1), distance.min(axis=1)
        within, loose = gap <= tolerance, (gap > tolerance) & (gap <= loose_tolerance)
        chosen = within | loose
        rows[members[chosen]] = candidates[nearest[chosen]]
        kinds[members[within]], kinds[members[loose]] = "within", "loose"
    return TranscriptPairing(rows, kinds)


def pair_transcripts(
    segments: pd.DataFrame, transcripts: pd.DataFrame, tolerance: float = 1.5, loose_tolerance: float = 3.0
) -> TranscriptPairing:
    """Pair in time order within each video whose transcript count equals its segment count, else by nearest start.

    ``segments`` has columns video, start, end (one fold); ``transcripts`` has ``video_id``, ``start``, ``text``.
    """
    pairing = nearest_transcripts(segments, transcripts, tolerance, loose_tolerance)
    rows, kinds = pairing.rows.copy(), pairing.kinds.copy()
    by_video = transcripts.groupby("video_id", sort=False).indices
    transcript_starts = transcripts["start"].to_numpy()
    for video, members in segments.groupby("video").indices.items():
        candidates = by_video.get(video)
        if candidates is None or len(candidates) != len(members):
            continue
        in_time = members[np.lexsort((segments["end"].to_numpy()[members], segments["start"].to_numpy()[members]))]
        rows[in_time] = candidates[np.argsort(transcript_starts[candidates], kind="stable")]
        kinds[members] = "in_order"
    return TranscriptPairing(rows, kinds)


def pairing_report(
    segments: pd.DataFrame, transcripts: pd.DataFrame, tolerance: float = 1.5, loose_tolerance: float = 3.0
) -> dict[str, int]:
    """Segments per pairing kind, ``changed``: how many get another transcript (or one instead of none, or none
    instead of one) than the nearest start alone would give them, and ``without_text``."""
    pairing = pair_transcripts(segments, transcripts, tolerance, loose_tolerance)
    nearest = nearest_transcripts(segments, transcripts, tolerance, loose_tolerance)
    return {
        **pairing.counts(),
        "changed": int((pairing.rows != nearest.rows).sum()),
        "without_text": int((pairing.rows < 0).sum()),
    }


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
    labels = read_labels(data_dir)
    transcripts = read_transcripts(data_dir)
    frames, counts = {}, {}
    for split in SPLITS:
        joined = read_segments(split, labels, data_dir)
        joined["text"] = pair_transcripts(joined, transcripts, tolerance, loose_tolerance).texts(transcripts)
        frames[split] = joined
        counts[split] = pairing_report(joined, transcripts, tolerance, loose_tolerance)
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
    total = {kind: sum(c[kind] for c in counts.values()) for kind in counts["train"]}
    notes = {
        "transcript_match": {
            "rule": (
                "per video: in time order where the transcript file has as many rows as the fold has segments, "
                "else nearest start (sentiment never used)"
            ),
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
        f"of the transcripts; {total['in_order']} paired in time order within their video, {total['within']} by "
        f"nearest start within {tolerance} s, {total['loose']} within {loose_tolerance} s, {total['none']} without "
        f"transcript; {total['changed']} paired otherwise than by nearest start alone). Audio and vision absent. "
        "Emotions: six intensities in [0, 3]."
    )
    return MultimodalDataset("mosei", splits, ("text",), description, notes, text.text_input)
