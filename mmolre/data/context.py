"""Utterance context: any utterance-level dataset as per-video (per-dialogue) sequences of utterance vectors.

:func:`to_context` turns each split into one sample per video/dialogue: features (n_videos, max_utterances, d), a
``positions`` (n_videos, max_utterances) bool mask of real utterances, and every label per position (padding holds
zeros and is never scored: losses and metrics flatten the valid positions, so they stay per utterance). Utterances
are put in time order: by ``dataset.utterance_order`` when the source gives it (IEMOCAP dialogue order), otherwise by
the segment index in the id (``<video>_<n>`` for CMU-MOSI, ``<video>[<n>]`` for CMU-MOSEI). Videos are sorted by id.
A video's modality mask is the union of its utterances' masks (an utterance without a modality keeps zeros there).
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData

_ID_FORMS = (re.compile(r"^(?P<video>.+)_(?P<index>\d+)$"), re.compile(r"^(?P<video>.+)\[(?P<index>\d+)\]$"))


def utterance_key(utterance_id: str) -> tuple[str, int]:
    """(video, segment index) from an id ``<video>_<n>`` or ``<video>[<n>]``; DataError for any other form."""
    for form in _ID_FORMS:
        match = form.match(utterance_id)
        if match:
            return match["video"], int(match["index"])
    raise DataError(
        f"utterance id {utterance_id!r} names no video and segment index (<video>_<n> or <video>[<n>]); "
        "the dataset needs utterance_order for context"
    )


def _sequences(data: SplitData, keys: list[tuple[str, int]], where: str) -> SplitData:
    videos: dict[str, list[tuple[int, int]]] = {}
    for row, (video, index) in enumerate(keys):
        videos.setdefault(video, []).append((index, row))
    names = sorted(videos)
    rows = []
    for video in names:
        ordered = sorted(videos[video])
        if len({index for index, _ in ordered}) != len(ordered):
            raise DataError(f"{where}: video {video!r} has two utterances at the same position")
        rows.append([row for _, row in ordered])
    length = max(len(r) for r in rows)
    positions = torch.zeros(len(names), length, dtype=torch.bool)
    index = torch.zeros(len(names), length, dtype=torch.long)
    for v, video_rows in enumerate(rows):
        positions[v, : len(video_rows)] = True
        index[v, : len(video_rows)] = torch.tensor(video_rows)

    def gather(values: torch.Tensor | None) -> torch.Tensor | None:
        if values is None:
            return None
        out = values[index.reshape(-1)].reshape(len(names), length, *values.shape[1:]).clone()
        out[~positions] = 0
        return out

    features = {m: gather(values[:, 0, :]) for m, values in data.features.items()}
    mask = torch.stack([data.mask[video_rows].any(dim=0) for video_rows in rows])
    return SplitData(
        features=features,
        mask=mask,
        sentiment=gather(data.sentiment),
        emotions=gather(data.emotions),
        ids=names,
        emotion4=gather(data.emotion4),
        positions=positions,
    )


def to_context(dataset: MultimodalDataset) -> MultimodalDataset:
    """``dataset`` with one sample per video/dialogue (see the module docstring)."""
    if dataset.context:
        raise ValueError(f"{dataset.name} already holds per-video sequences")
    splits, videos, longest = {}, {}, {}
    for split in SPLITS:
        data = dataset.splits[split]
        where = f"{dataset.name}/{split}"
        shapes = sorted({tuple(values.shape[1:]) for values in data.features.values()})
        if any(len(shape) != 2 or shape[0] != 1 for shape in shapes):
            raise DataError(f"{where}: context needs utterance-level feature vectors (n, 1, d), got (n, *{shapes})")
        if dataset.utterance_order is None:
            keys = [utterance_key(i) for i in data.ids]
        else:
            unknown = [i for i in data.ids if i not in dataset.utterance_order]
            if unknown:
                raise DataError(f"{where}: utterances without a dialogue position, e.g. {unknown[:3]}")
            keys = [dataset.utterance_order[i] for i in data.ids]
        splits[split] = _sequences(data, keys, where)
        videos[split], longest[split] = len(splits[split]), int(splits[split].positions.shape[1])
    notes = {**dataset.notes, "context": {"videos": videos, "max_utterances": longest}}
    description = (
        f"{dataset.description} Context: one sample per video/dialogue ({videos['train']} / {videos['valid']} / "
        f"{videos['test']}), utterances in time order, metrics per utterance."
    )
    return replace(dataset, splits=splits, notes=notes, description=description)
