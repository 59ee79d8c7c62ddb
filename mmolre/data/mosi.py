"""Real CMU-MOSI: official folds with MiniLM text + bc-LSTM audio, and tri-modal bc-LSTM features on their own split.

Files (under the data directory, see :mod:`mmolre.data.sources`): ``mosi/CMUMOSI_features_raw_2way.pkl`` (official
folds, sentiment, transcripts) and ``mosi/bclstm/*.csv`` (utterance-level features). ``transcripts.csv`` lists every
segment; column 0 of ``text_{train,test}.csv`` indexes its rows, and the rows of every ``*_{train,test}0.csv`` follow
that same order, ending with a binary label (sentiment >= 0) that is checked against the pickle for every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.safe_pickle import load_pickle
from mmolre.data.sources import check_numeric, check_text, how_to_obtain, read_csv, require
from mmolre.data.text_encoder import ENCODER_NAME, describe_text, text_features
from mmolre.messages import shown
from mmolre.modalities import MODALITIES, presence_mask

PICKLE = "mosi/CMUMOSI_features_raw_2way.pkl"
BCLSTM_PARTS = ("train", "test")
BCLSTM_DIMS = {"text": 100, "audio": 73, "vision": 100}
_BCLSTM_FILE = {"text": "text", "audio": "audio", "vision": "video"}
TRANSCRIPT_COLUMNS = ("segment id", "text", "video index", "binary label")


@dataclass
class MosiLabels:
    """The official-fold pickle, flattened: segment -> video, sentiment, transcript; fold -> ordered segment ids."""

    video: dict[str, str]
    sentiment: dict[str, float]
    transcript: dict[str, str]
    folds: dict[str, list[str]]


def _check_mosi_items(items: object, path: Path) -> None:
    """Raise a :class:`DataError` naming ``path`` and the item when the pickle does not have the GCNet layout."""
    if not isinstance(items, list) or len(items) != 7:
        size = f" of {len(items)} items" if isinstance(items, (list, tuple)) else ""
        raise DataError(f"{path}: expected a list of 7 items, got a {type(items).__name__}{size}")
    sequence = (list, tuple, np.ndarray)
    for index, what in ((0, "segment ids"), (1, "sentiments"), (3, "transcripts")):
        if not isinstance(items[index], dict):
            raise DataError(
                f"{path}: item [{index}] must be a dict video id -> {what}, got {type(items[index]).__name__}"
            )
        for vid, values in items[index].items():
            if not isinstance(vid, str):
                raise DataError(f"{path}: item [{index}] has a video id that is not text: {shown(vid)}")
            if not isinstance(values, sequence):
                raise DataError(
                    f"{path}: item [{index}] must map each video to a list of {what}; video {shown(vid)} does not"
                )
    segments, sentiments, _, transcripts, *fold_videos = items
    for index, values in ((1, sentiments), (3, transcripts)):
        absent = sorted(set(segments) - set(values))
        if absent:
            raise DataError(f"{path}: video(s) {shown(absent[:3])} of item [0] have no entry in item [{index}]")
    owner: dict[str, str] = {}
    for vid, segs in segments.items():
        if len(sentiments[vid]) != len(segs) or len(transcripts[vid]) != len(segs):
            raise DataError(f"{path}: video {vid} has {len(segs)} segments but different numbers of labels/transcripts")
        for seg, value, text in zip(segs, sentiments[vid], transcripts[vid]):
            where = f"{path}: video {shown(vid)} segment {shown(seg)}"
            if not isinstance(seg, str):
                raise DataError(f"{path}: item [0] video {shown(vid)} has a segment id that is not text: {shown(seg)}")
            if seg in owner:
                raise DataError(f"{where} is listed under video {shown(owner[seg])} too")
            owner[seg] = vid
            check_text(text, f"{where}: transcript (item [3])")
            sentiment = f"{path}: item [1] video {shown(vid)} has"
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise DataError(f"{sentiment} non-numeric sentiments: segment {shown(seg)} has {shown(value)}")
            if not np.isfinite(value):
                raise DataError(f"{sentiment} NaN or infinite sentiments: segment {shown(seg)} has {value}")
            if not -3.0 <= value <= 3.0:
                raise DataError(f"{sentiment} sentiments outside [-3, 3]: segment {shown(seg)} has {value}")
    seen: dict[str, str] = {}
    for index, (split, vids) in enumerate(zip(SPLITS, fold_videos), start=4):
        if not isinstance(vids, (set, frozenset, list, tuple)) or not all(isinstance(v, str) for v in vids):
            raise DataError(f"{path}: item [{index}] ({split} fold) must be a collection of video ids (text)")
        unknown = sorted(set(vids) - set(segments))
        if unknown:
            raise DataError(
                f"{path}: item [{index}] ({split} fold) lists video(s) {shown(unknown[:3])} absent from item [0]"
            )
        if not any(len(segments[vid]) for vid in vids):
            raise DataError(f"{path}: item [{index}] ({split} fold) has no segments; every split needs at least one")
        twice = sorted(vid for vid in vids if vid in seen)
        if twice:
            first = seen[twice[0]]
            raise DataError(f"{path}: video(s) {shown(twice[:3])} are in both the {first} and the {split} fold")
        seen.update(dict.fromkeys(vids, split))


def read_mosi_labels(data_dir: str | Path | None = None, path: Path | None = None) -> MosiLabels:
    """Read the GCNet MOSI pickle (list of 7 items) into :class:`MosiLabels`, checking its layout.

    ``path`` reads a pickle of the same layout (MOSI or MOSEI, official data folder) instead of the data directory's.
    """
    path = require(PICKLE, data_dir) if path is None else path
    items = load_pickle(path, how_to_obtain(PICKLE))
    _check_mosi_items(items, path)
    segments, sentiments, _, transcripts, *fold_videos = items
    video, sentiment, transcript = {}, {}, {}
    for vid, segs in segments.items():
        for seg, value, text in zip(segs, sentiments[vid], transcripts[vid]):
            video[seg], sentiment[seg], transcript[seg] = vid, float(value), str(text)
    folds = {split: [s for vid in sorted(vids) for s in segments[vid]] for split, vids in zip(SPLITS, fold_videos)}
    return MosiLabels(video, sentiment, transcript, folds)


def _read_csv(
    relative: str, data_dir: str | Path | None, numeric: tuple[int, ...] | bool = True, layout: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A header-less bc-LSTM CSV with the ``layout`` columns (when given), ``numeric`` ones finite, no empty cell."""
    frame = read_csv(relative, data_dir, header=None)
    path = require(relative, data_dir)
    if layout and frame.shape[1] != len(layout):
        raise DataError(f"{path}: {frame.shape[1]} columns, expected {len(layout)} ({', '.join(layout)})")
    check_numeric(frame, path, frame.columns if numeric is True else numeric, first_line=1)
    if frame.isna().any().any():
        raise DataError(f"{path}: contains empty or NaN cells")
    return frame


def read_bclstm(
    labels: MosiLabels, data_dir: str | Path | None = None, modalities: tuple[str, ...] = MODALITIES
) -> dict[str, dict[str, np.ndarray | list[str]]]:
    """bc-LSTM features per own part (``train``/``test``): ``{"ids": [...], "<modality>": (n, d) array}``.

    Rows are joined to segment ids through ``transcripts.csv`` and the index column of ``text_<part>.csv``;
    raises :class:`DataError` if any row's binary label disagrees with ``sentiment >= 0`` from the official pickle.
    """
    transcripts = _read_csv("mosi/bclstm/transcripts.csv", data_dir, numeric=(2, 3), layout=TRANSCRIPT_COLUMNS)
    out: dict[str, dict[str, np.ndarray | list[str]]] = {}
    for part in BCLSTM_PARTS:
        index = _read_csv(f"mosi/bclstm/text_{part}.csv", data_dir)[0].astype(int).to_numpy()
        if index.min() < 0 or index.max() >= len(transcripts):
            raise DataError(
                f"mosi/bclstm/text_{part}.csv: row index outside transcripts.csv (0..{len(transcripts) - 1})"
            )
        ids = [str(s) for s in transcripts.iloc[index, 0]]
        missing = [s for s in ids if s not in labels.sentiment]
        if missing:
            raise DataError(
                f"mosi/bclstm/transcripts.csv: column 0 should hold segment ids, but {len(missing)} of the rows "
                f"that text_{part}.csv names are not segments of {PICKLE}, e.g. {shown(missing[0])}"
            )
        expected = np.array([labels.sentiment[s] >= 0 for s in ids])
        out[part] = {"ids": ids}
        for modality in modalities:
            relative = f"mosi/bclstm/{_BCLSTM_FILE[modality]}_{part}0.csv"
            frame = _read_csv(relative, data_dir)
            if frame.shape != (len(ids), BCLSTM_DIMS[modality] + 1):
                raise DataError(f"{relative}: shape {frame.shape}, expected ({len(ids)}, {BCLSTM_DIMS[modality] + 1})")
            binary = frame.iloc[:, -1].to_numpy().astype(bool)
            wrong = int((binary != expected).sum())
            if wrong:
                raise DataError(
                    f"{relative}: join to segment ids is inconsistent: {wrong} rows have a binary "
                    "label different from sentiment >= 0 in the official pickle"
                )
            out[part][modality] = frame.iloc[:, :-1].to_numpy(dtype=np.float32)
    return out


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std < 1e-8] = 1.0
    return [((x - mean) / std).astype(np.float32) for x in (train, *others)]


def _split(
    features: dict[str, np.ndarray | torch.Tensor],
    sentiment: list[float],
    ids: list[str],
    lengths: dict[str, torch.Tensor] | None = None,
) -> SplitData:
    mask = presence_mask(len(ids), list(features))
    tensors = {
        m: v
        if isinstance(v, torch.Tensor)
        else torch.from_numpy(np.ascontiguousarray(v if v.ndim == 3 else v[:, None, :], dtype=np.float32))
        for m, v in features.items()
    }
    sentiment_tensor = torch.tensor(sentiment, dtype=torch.float32)
    return SplitData(tensors, mask, sentiment_tensor, None, ids, lengths or {})


def load_mosi(
    data_dir: str | Path | None = None,
    text_kind: str = "sentence",
    audio: bool = True,
    max_tokens: int = 32,
    freeze_layers: int = 0,
    encoder: str = ENCODER_NAME,
) -> MultimodalDataset:
    """CMU-MOSI on the official folds (1284 / 229 / 686): text of the transcripts, real bc-LSTM audio.

    Text is ``text_kind`` (see :mod:`mmolre.data.text_encoder`: frozen sentence vectors, frozen token states, or the
    input of an encoder fine-tuned inside the model above ``freeze_layers`` frozen layers). Audio (73-d utterance
    statistics) is standardised with train-fold statistics. Vision is absent: the only video features available
    were trained on another split and would leak labels.
    """
    labels = read_mosi_labels(data_dir)
    every = [s for split in SPLITS for s in labels.folds[split]]
    texts = [labels.transcript[s].lower() for s in every]
    text = text_features(texts, text_kind, max_tokens, freeze_layers, encoder)
    row = {s: i for i, s in enumerate(every)}
    per_split, text_lengths = {}, {}
    for split in SPLITS:
        values, lengths = text.take([row[s] for s in labels.folds[split]])
        per_split[split] = {"text": values}
        text_lengths[split] = {} if lengths is None else {"text": lengths}
    if audio:
        bclstm = read_bclstm(labels, data_dir, modalities=("audio",))
        vectors = {s: v for part in bclstm.values() for s, v in zip(part["ids"], part["audio"])}
        absent = [s for s in every if s not in vectors]
        if absent:
            raise DataError(
                f"mosi/bclstm audio: {len(absent)} official segments have no audio row, e.g. {shown(absent[0])}"
            )
        arrays = [np.stack([vectors[s] for s in labels.folds[split]]) for split in SPLITS]
        for split, array in zip(SPLITS, _standardise(*arrays)):
            per_split[split]["audio"] = array
    splits = {
        split: _split(
            per_split[split],
            [labels.sentiment[s] for s in labels.folds[split]],
            labels.folds[split],
            text_lengths[split],
        )
        for split in SPLITS
    }
    real = ("text", "audio") if audio else ("text",)
    description = (
        f"CMU-MOSI, official folds. Real modalities: text ({describe_text(text_kind, encoder, freeze_layers)} "
        "of the transcripts)"
        + (", audio (bc-LSTM 73-d utterance features, train-fold standardised)" if audio else "")
        + ". Vision absent (no leakage-free source)."
    )
    notes = {
        "folds": "official CMU-MOSI standard folds from the GCNet pickle",
        "text_kind": text_kind,
        "text_lowercased": True,  # the transcripts are lower-cased before encoding (an export does the same)
        "audio_join": "bc-LSTM rows -> transcripts.csv -> segment id; binary label checked on every row"
        if audio
        else None,
    }
    return MultimodalDataset("mosi", splits, real, description, notes, text.text_input)


def video_split(videos: list[str], valid_fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """Deterministically hold out ``valid_fraction`` of ``videos`` (at least one) as validation videos."""
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    order = sorted(videos)
    held = np.random.default_rng(seed).permutation(len(order))[: max(1, round(valid_fraction * len(order)))]
    valid = {order[i] for i in held}
    return set(order) - valid, valid


def load_mosi_bclstm(
    data_dir: str | Path | None = None, valid_fraction: float = 0.33, seed: int = 0
) -> MultimodalDataset:
    """Tri-modal bc-LSTM MOSI features (text 100, audio 73, video 100) on their own speaker-independent split.

    Train is the whole own train part (62 videos, 1447 utterances). The own test part (31 videos, 752 utterances) is
    split by video into valid (``valid_fraction`` of its videos, drawn with ``seed``) and test: the text and video
    networks were fit on the train videos, so a valid split carved from them would measure losses on features fit to
    it. Sentiment comes from the official pickle. Every modality is standardised with train statistics.
    """
    labels = read_mosi_labels(data_dir)
    parts = read_bclstm(labels, data_dir)
    own_test: list[str] = parts["test"]["ids"]  # type: ignore[assignment]
    test_videos, valid_videos = video_split(sorted({labels.video[s] for s in own_test}), valid_fraction, seed)
    rows = {
        "valid": [i for i, s in enumerate(own_test) if labels.video[s] in valid_videos],
        "test": [i for i, s in enumerate(own_test) if labels.video[s] in test_videos],
    }
    ids = {
        "train": list(parts["train"]["ids"]),
        "valid": [own_test[i] for i in rows["valid"]],
        "test": [own_test[i] for i in rows["test"]],
    }
    features: dict[str, dict[str, np.ndarray]] = {split: {} for split in SPLITS}
    for modality in MODALITIES:
        held = parts["test"][modality]
        arrays = _standardise(parts["train"][modality], held[rows["valid"]], held[rows["test"]])  # type: ignore[index]
        for split, array in zip(SPLITS, arrays):
            features[split][modality] = array
    splits = {split: _split(features[split], [labels.sentiment[s] for s in ids[split]], ids[split]) for split in SPLITS}
    videos = {split: len({labels.video[s] for s in ids[split]}) for split in SPLITS}
    sizes = {split: len(ids[split]) for split in SPLITS}
    description = (
        "CMU-MOSI bc-LSTM features on their own speaker-independent split: train = the 62 own train videos "
        f"({sizes['train']} utterances); the 31 own test videos are split by video into valid ({videos['valid']} "
        f"videos, {sizes['valid']} utterances) and test ({videos['test']} videos, {sizes['test']} utterances), "
        "because the bc-LSTM text/video networks were fit on the train videos. Real modalities: text (100-d), "
        "audio (73-d), vision (100-d). Not the official folds: the text/video vectors leak labels there."
    )
    notes = {
        "valid_videos": sorted(valid_videos),
        "valid_source": "own bc-LSTM test videos (features not fit to them)",
        "valid_fraction": valid_fraction,
        "seed": seed,
        "videos": videos,
        "utterances": sizes,
    }
    return MultimodalDataset("mosi_bclstm", splits, MODALITIES, description, notes)
