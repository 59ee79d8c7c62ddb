"""The one in-memory dataset type shared by every data source (real, MMSA pickles, synthetic).

A :class:`MultimodalDataset` holds three :class:`SplitData` (train / valid / test). Each split keeps
per-modality float tensors of shape ``(n, L, d)`` (utterance-level features have ``L == 1``), a per-sample
modality mask over :data:`MODALITIES` and the labels of its tasks (:data:`mmolre.tasks.TASK_LABELS`): sentiment in
[-3, 3], the six MOSEI emotion intensities, IEMOCAP four-class indices; a split has at least one of them.
Modalities a source does not have are simply absent from ``features`` and False in ``mask``.

Context splits (see :mod:`mmolre.data.context`) hold one sample per video/dialogue: ``L`` is then the utterance
axis, ``positions`` (n, L) bool marks real utterances, and every label has shape (n, L, ...) (padding holds zeros).
Metrics and losses are per utterance: :func:`flatten_positions` keeps the valid positions in row-major order.
Sequences with padding carry their real lengths (``lengths[m]``, (n,)): a batch then holds ``"<m>_mask"``
(B, L) and is trimmed to its longest row; :meth:`MultimodalDataset.loader` may group rows of similar length into
the same batch (``bucket_by_length``, see :func:`length_batches`), so that trimming removes most padding. Text
for a model that fine-tunes its encoder may be token ids ``(n, T)`` (int64); the dataset's ``text_input`` then
says which encoder and layer the text comes from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from mmolre.data.text_encoder import TextInput
from mmolre.emotions import EMOTION4_CLASSES, EMOTIONS
from mmolre.modalities import MODALITIES, zero_missing
from mmolre.tasks import TASK_LABELS, tasks_for

SPLITS: tuple[str, ...] = ("train", "valid", "test")
BUCKET_POOL = 50
"""Length-bucketed batches: shuffled rows are cut into pools of this many batches and sorted by length per pool."""


class DataError(ValueError):
    """A data file or array is missing, malformed or inconsistent; the message names the file and the problem."""


def flatten_positions(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Values at the valid ``positions`` (B, L) in row-major order: (N,) for one value per position, else (N, k).

    ``values`` has shape (B, L, ...) or (B * L, ...); anything else is a ValueError (e.g. one prediction per sample
    where one per position was needed).
    """
    b, length = positions.shape
    per_position = values.ndim >= 2 and tuple(values.shape[:2]) == (b, length)
    if not (per_position or (values.ndim >= 1 and values.shape[0] == b * length)):
        raise ValueError(
            f"expected one value (or vector) per position of a ({b}, {length}) batch, got shape {tuple(values.shape)}"
        )
    width = values.numel() // max(b * length, 1)
    flat = values.reshape(b, length, width)[positions.bool()]
    return flat[:, 0] if width == 1 else flat


@dataclass
class SplitData(Dataset):
    """One split: features per present modality, modality mask, labels, sample ids and (context splits) positions."""

    features: dict[str, torch.Tensor]
    mask: torch.Tensor
    sentiment: torch.Tensor | None
    emotions: torch.Tensor | None
    ids: list[str]
    lengths: dict[str, torch.Tensor] = field(default_factory=dict)
    emotion4: torch.Tensor | None = None
    positions: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def labels(self) -> dict[str, torch.Tensor]:
        """The label fields this split has (keys from :data:`mmolre.tasks.TASK_LABELS`), as stored."""
        return {name: getattr(self, name) for name in TASK_LABELS.values() if getattr(self, name) is not None}

    def utterance_labels(self) -> dict[str, torch.Tensor]:
        """:meth:`labels` with one row per utterance (valid positions flattened for context splits)."""
        if self.positions is None:
            return self.labels()
        return {name: flatten_positions(values, self.positions) for name, values in self.labels().items()}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {name: values[index] for name, values in self.features.items()}
        for name, lengths in self.lengths.items():
            item[f"{name}_mask"] = torch.arange(self.features[name].shape[1]) < lengths[index]
        item["mask"] = self.mask[index]
        item.update({name: values[index] for name, values in self.labels().items()})
        if self.positions is not None:
            item["positions"] = self.positions[index]
        return item

    def bucket_lengths(self, where: str) -> torch.Tensor:
        """The (n,) lengths rows are bucketed by: text's (token count) when text is padded, else those of the padded
        modality with the most steps; DataError (prefixed with ``where``) when nothing is padded."""
        if not self.lengths:
            raise DataError(f"{where}: bucket_by_length needs padded sequences (token ids or features with lengths)")
        name = "text" if "text" in self.lengths else max(self.lengths, key=lambda m: self.features[m].shape[1])
        return self.lengths[name]

    def repeat(self, times: int) -> SplitData:
        """The split ``times`` times over: every tensor and the ids repeated along the sample axis."""

        def tile(values: torch.Tensor | None) -> torch.Tensor | None:
            return None if values is None else values.repeat(times, *([1] * (values.ndim - 1)))

        return dataclasses.replace(
            self,
            features={name: tile(values) for name, values in self.features.items()},
            lengths={name: tile(values) for name, values in self.lengths.items()},
            mask=tile(self.mask),
            sentiment=tile(self.sentiment),
            emotions=tile(self.emotions),
            emotion4=tile(self.emotion4),
            positions=tile(self.positions),
            ids=self.ids * times,
        )

    def validate(self, where: str) -> None:
        """Raise :class:`DataError` (prefixed with ``where``) on any shape, dtype, range or finiteness problem."""
        n = len(self.ids)
        if n == 0:
            raise DataError(f"{where}: the split is empty")
        lead: tuple[int, ...] = (n,)
        if self.positions is not None:
            if self.positions.dtype != torch.bool or self.positions.ndim != 2 or self.positions.shape[0] != n:
                raise DataError(f"{where}: positions must be bool of shape ({n}, L), got {tuple(self.positions.shape)}")
            if not self.positions.any(dim=1).all():
                raise DataError(f"{where}: a sample has no valid position")
            lead = tuple(self.positions.shape)
        for name, values in self.features.items():
            if name not in MODALITIES:
                raise DataError(f"{where}: unknown modality {name!r}; expected one of {MODALITIES}")
            token_ids = name == "text" and values.dtype == torch.int64
            length = "L" if len(lead) == 1 else lead[1]
            if (
                values.shape[:1] != (n,)
                or values.ndim != (2 if token_ids else 3)
                or (len(lead) == 2 and values.shape[1] != lead[1])
            ):
                expected = f"({n}, T) token ids" if token_ids else f"({n}, {length}, d)"
                raise DataError(f"{where}: {name} features have shape {tuple(values.shape)}, expected {expected}")
            if not token_ids and not torch.isfinite(values).all():
                raise DataError(f"{where}: {name} features contain NaN or inf")
        for name, lengths in self.lengths.items():
            if name not in self.features:
                raise DataError(f"{where}: lengths given for {name} but the split has no {name} features")
            steps = self.features[name].shape[1]
            if lengths.shape != (n,) or lengths.dtype != torch.int64 or lengths.min() < 1 or lengths.max() > steps:
                raise DataError(f"{where}: {name} lengths must be {n} integers in [1, {steps}]")
        if self.mask.shape != (n, len(MODALITIES)) or self.mask.dtype != torch.bool:
            raise DataError(
                f"{where}: mask must be bool of shape ({n}, {len(MODALITIES)}), got {tuple(self.mask.shape)}"
            )
        if not self.labels():
            raise DataError(f"{where}: the split has no labels (one of {tuple(TASK_LABELS.values())} is needed)")
        if self.sentiment is not None:
            if tuple(self.sentiment.shape) != lead or not torch.isfinite(self.sentiment).all():
                raise DataError(
                    f"{where}: sentiment must be finite of shape {lead}, got shape {tuple(self.sentiment.shape)}"
                )
            if self.sentiment.abs().max() > 3.0 + 1e-6:
                raise DataError(f"{where}: sentiment outside [-3, 3] (max |y| = {self.sentiment.abs().max():.3f})")
        if self.emotions is not None:
            if tuple(self.emotions.shape) != (*lead, len(EMOTIONS)) or not torch.isfinite(self.emotions).all():
                raise DataError(
                    f"{where}: emotions must be finite of shape {(*lead, len(EMOTIONS))}, "
                    f"got {tuple(self.emotions.shape)}"
                )
        if self.emotion4 is not None:
            if tuple(self.emotion4.shape) != lead or self.emotion4.dtype != torch.long:
                raise DataError(
                    f"{where}: emotion4 must be int64 class indices of shape {lead}, "
                    f"got {self.emotion4.dtype} {tuple(self.emotion4.shape)}"
                )
            if self.emotion4.min() < 0 or self.emotion4.max() >= len(EMOTION4_CLASSES):
                raise DataError(f"{where}: emotion4 classes outside 0..{len(EMOTION4_CLASSES) - 1}")
        for column, name in enumerate(MODALITIES):
            if name not in self.features and self.mask[:, column].any():
                raise DataError(f"{where}: mask marks {name} present but the split has no {name} features")


@dataclass
class MultimodalDataset:
    """A dataset with train / valid / test splits and an honest description of its modalities.

    ``utterance_order`` maps an utterance id to its (video/dialogue, position) for sources whose ids do not say it
    (IEMOCAP); None: parsed from ids ``<video>_<n>`` / ``<video>[<n>]`` (see :mod:`mmolre.data.context`).
    """

    name: str
    splits: dict[str, SplitData]
    real_modalities: tuple[str, ...]
    description: str
    notes: dict[str, object] = field(default_factory=dict)
    text_input: TextInput | None = None
    utterance_order: dict[str, tuple[str, int]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise DataError(f"{self.name}: missing split(s) {missing}")
        for split, data in self.splits.items():
            data.validate(f"{self.name}/{split}")
        first = self.splits["train"]
        for split, data in self.splits.items():
            if set(data.features) != set(first.features) or set(data.labels()) != set(first.labels()):
                raise DataError(f"{self.name}/{split}: modalities or label fields differ from the train split")
            if (data.positions is None) != (first.positions is None):
                raise DataError(f"{self.name}/{split}: context (positions) differs from the train split")
            for name, values in data.features.items():
                if values.ndim == 3 and values.shape[-1] != first.features[name].shape[-1]:
                    raise DataError(
                        f"{self.name}/{split}: {name} has dimension {values.shape[-1]}, "
                        f"train has {first.features[name].shape[-1]}"
                    )

    @property
    def modalities(self) -> tuple[str, ...]:
        """Modalities that have features, in :data:`MODALITIES` order."""
        return tuple(m for m in MODALITIES if m in self.splits["train"].features)

    @property
    def dims(self) -> dict[str, int]:
        """Feature width per present modality (for text given to a fine-tuned encoder: the encoder's width)."""
        dims = {m: int(self.splits["train"].features[m].shape[-1]) for m in self.modalities}
        if self.text_input is not None:
            dims["text"] = self.text_input.hidden
        return dims

    @property
    def has_emotions(self) -> bool:
        return self.splits["train"].emotions is not None

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this dataset labels (see :func:`mmolre.tasks.tasks_for`)."""
        return tasks_for(self.splits["train"].labels())

    @property
    def context(self) -> bool:
        """Whether each sample is a video/dialogue of utterances (``positions`` present, see :mod:`.context`)."""
        return self.splits["train"].positions is not None

    def statement(self) -> str:
        """A plain sentence on which modalities are real, which are synthetic and which are absent."""
        real = [m for m in self.modalities if m in self.real_modalities]
        synthetic = [m for m in self.modalities if m not in self.real_modalities]
        absent = [m for m in MODALITIES if m not in self.modalities]
        parts = [f"{self.name}: real modalities: {', '.join(real) or 'none'}"]
        if synthetic:
            parts.append(f"synthetic modalities: {', '.join(synthetic)}")
        parts.append(f"absent: {', '.join(absent) or 'none'}")
        return "; ".join(parts) + f"; tasks: {' + '.join(self.tasks)}.\n{self.description}"

    def with_split(self, split: str, data: SplitData) -> MultimodalDataset:
        """A copy of this dataset with ``split`` replaced by ``data``."""
        return dataclasses.replace(self, splits={**self.splits, split: data})

    def with_mask(self, split: str, mask: torch.Tensor) -> MultimodalDataset:
        """A copy whose ``split`` has the given per-sample (n, 3) mask, dropped modalities' features zeroed."""
        data = self.splits[split]
        return self.with_split(
            split, dataclasses.replace(data, features=zero_missing(data.features, mask), mask=mask.clone())
        )

    def sizes(self) -> dict[str, int]:
        return {split: len(data) for split, data in self.splits.items()}

    def loader(
        self, split: str, batch_size: int = 64, shuffle: bool = False, seed: int = 0, bucket_by_length: bool = False
    ) -> DataLoader:
        """A DataLoader over one split (``num_workers=0``; shuffling seeded by ``seed``); with ``bucket_by_length``
        the batches are :func:`length_batches` of :meth:`SplitData.bucket_lengths` (shuffled whatever ``shuffle``)."""
        if split not in self.splits:
            raise DataError(f"{self.name}: unknown split {split!r}; expected one of {SPLITS}")
        if bucket_by_length:
            lengths = self.splits[split].bucket_lengths(f"{self.name}/{split}")
            return DataLoader(
                self.splits[split],
                batch_sampler=length_batches(lengths, batch_size, seed),
                num_workers=0,
                collate_fn=collate,
            )
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(
            self.splits[split],
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=0,
            collate_fn=collate,
        )


def length_batches(lengths: torch.Tensor, batch_size: int, seed: int) -> list[list[int]]:
    """Row indices in batches of rows of similar length, every row exactly once, a function of ``seed`` alone.

    The rows are shuffled, cut into pools of :data:`BUCKET_POOL` batches, each pool sorted by length (ties keep the
    shuffled order) and cut into batches, and the batches of every pool are shuffled together; only the last
    batch of the last pool may be short, so there are ``ceil(n / batch_size)`` batches as without buckets.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=generator)
    pool = batch_size * BUCKET_POOL
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        rows = order[start : start + pool]
        rows = rows[torch.argsort(lengths[rows], stable=True)]
        batches.extend(rows[i : i + batch_size].tolist() for i in range(0, len(rows), batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items into a batch and trim every padded sequence to the longest row of the batch."""
    batch = default_collate(items)
    for key in [k for k in batch if k.endswith("_mask") and k != "mask"]:
        name, steps = key.removesuffix("_mask"), int(batch[key].sum(dim=1).max())
        batch[key] = batch[key][:, :steps]
        batch[name] = batch[name][:, :steps]
    return batch
