"""The one in-memory dataset type shared by every data source (real, MMSA pickles, synthetic).

A :class:`MultimodalDataset` holds three :class:`SplitData` (train / valid / test). Each split keeps
per-modality float tensors of shape ``(n, L, d)`` (utterance-level features have ``L == 1``), a per-sample
modality mask over :data:`MODALITIES`, sentiment in [-3, 3], and optionally the six MOSEI emotion
intensities. Modalities a source does not have are simply absent from ``features`` and False in ``mask``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset

from mmolre.modalities import MODALITIES, zero_missing
from mmolre.tasks import EMOTIONS, tasks_for

SPLITS: tuple[str, ...] = ("train", "valid", "test")


class DataError(ValueError):
    """A data file or array is missing, malformed or inconsistent; the message names the file and the problem."""


@dataclass
class SplitData(Dataset):
    """One split: features per present modality, modality mask, labels and segment ids."""

    features: dict[str, torch.Tensor]
    mask: torch.Tensor
    sentiment: torch.Tensor
    emotions: torch.Tensor | None
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {name: values[index] for name, values in self.features.items()}
        item["mask"] = self.mask[index]
        item["sentiment"] = self.sentiment[index]
        if self.emotions is not None:
            item["emotions"] = self.emotions[index]
        return item

    def validate(self, where: str) -> None:
        """Raise :class:`DataError` (prefixed with ``where``) on any shape, dtype, range or finiteness problem."""
        n = len(self.ids)
        if n == 0:
            raise DataError(f"{where}: the split is empty")
        for name, values in self.features.items():
            if name not in MODALITIES:
                raise DataError(f"{where}: unknown modality {name!r}; expected one of {MODALITIES}")
            if values.ndim != 3 or values.shape[0] != n:
                raise DataError(f"{where}: {name} features have shape {tuple(values.shape)}, expected ({n}, L, d)")
            if not torch.isfinite(values).all():
                raise DataError(f"{where}: {name} features contain NaN or inf")
        if self.mask.shape != (n, len(MODALITIES)) or self.mask.dtype != torch.bool:
            raise DataError(
                f"{where}: mask must be bool of shape ({n}, {len(MODALITIES)}), got {tuple(self.mask.shape)}"
            )
        if self.sentiment.shape != (n,) or not torch.isfinite(self.sentiment).all():
            raise DataError(f"{where}: sentiment must be {n} finite values, got shape {tuple(self.sentiment.shape)}")
        if self.sentiment.abs().max() > 3.0 + 1e-6:
            raise DataError(f"{where}: sentiment outside [-3, 3] (max |y| = {self.sentiment.abs().max():.3f})")
        if self.emotions is not None:
            if self.emotions.shape != (n, len(EMOTIONS)) or not torch.isfinite(self.emotions).all():
                raise DataError(
                    f"{where}: emotions must be finite of shape ({n}, {len(EMOTIONS)}), "
                    f"got {tuple(self.emotions.shape)}"
                )
        for column, name in enumerate(MODALITIES):
            if name not in self.features and self.mask[:, column].any():
                raise DataError(f"{where}: mask marks {name} present but the split has no {name} features")


@dataclass
class MultimodalDataset:
    """A dataset with train / valid / test splits and an honest description of its modalities."""

    name: str
    splits: dict[str, SplitData]
    real_modalities: tuple[str, ...]
    description: str
    notes: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise DataError(f"{self.name}: missing split(s) {missing}")
        for split, data in self.splits.items():
            data.validate(f"{self.name}/{split}")
        first = self.splits["train"]
        for split, data in self.splits.items():
            if set(data.features) != set(first.features) or (data.emotions is None) != (first.emotions is None):
                raise DataError(f"{self.name}/{split}: modalities or label fields differ from the train split")
            for name, values in data.features.items():
                if values.shape[-1] != first.features[name].shape[-1]:
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
        """Feature width per present modality."""
        return {m: int(self.splits["train"].features[m].shape[-1]) for m in self.modalities}

    @property
    def has_emotions(self) -> bool:
        return self.splits["train"].emotions is not None

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this dataset labels (see :func:`mmolre.tasks.tasks_for`)."""
        return tasks_for(self.has_emotions)

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
        return MultimodalDataset(
            self.name, {**self.splits, split: data}, self.real_modalities, self.description, self.notes
        )

    def with_mask(self, split: str, mask: torch.Tensor) -> MultimodalDataset:
        """A copy whose ``split`` has the given per-sample (n, 3) mask, dropped modalities' features zeroed."""
        data = self.splits[split]
        return self.with_split(
            split, SplitData(zero_missing(data.features, mask), mask.clone(), data.sentiment, data.emotions, data.ids)
        )

    def sizes(self) -> dict[str, int]:
        return {split: len(data) for split, data in self.splits.items()}

    def loader(self, split: str, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> DataLoader:
        """A DataLoader over one split (``num_workers=0``; shuffling seeded by ``seed``)."""
        if split not in self.splits:
            raise DataError(f"{self.name}: unknown split {split!r}; expected one of {SPLITS}")
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(
            self.splits[split], batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0
        )
