"""A run's identity: what a checkpoint sidecar (:mod:`mmolre.train.checkpoints`) or run record
(:mod:`mmolre.train.records`) stores about the run it belongs to (model name, configuration and parameter shapes, the
train config without its resume-free fields, the seed, a fingerprint of the data), and how a stored identity is
compared with a run's."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping

from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.train.config import TrainConfig

RESUME_FREE_KEYS = ("epochs", "device", "num_threads", "verbose")
"""TrainConfig fields that may differ between a checkpoint and the run resuming it."""


def resumable_train_config(values: Mapping[str, object]) -> dict[str, object]:
    """A train config's fields (as a dict) without those that may differ between a run and its checkpoint."""
    return {k: v for k, v in values.items() if k not in RESUME_FREE_KEYS}


def is_number(value: object) -> bool:
    """Whether a JSON value is a number (an int or float, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def data_fingerprint(dataset: MultimodalDataset) -> dict[str, object]:
    """Name, split sizes, feature widths and a sha256 of the train labels."""
    train = dataset.splits["train"]
    digest = hashlib.sha256()
    for values in train.labels().values():
        digest.update(values.numpy().tobytes())
    return {
        "name": dataset.name,
        "sizes": dataset.sizes(),
        "dims": dataset.dims,
        "train_labels_sha256": digest.hexdigest(),
    }


def model_signature(model: nn.Module) -> dict[str, object]:
    """Model name and config (when the model exposes ``name`` / ``config``) and a hash of its parameter shapes."""
    shapes = [f"{name}:{tuple(value.shape)}" for name, value in model.state_dict().items()]
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    return {
        "model": getattr(model, "name", type(model).__name__),
        "model_config": json.loads(json.dumps(config, default=str)),
        "state_sha256": hashlib.sha256("\n".join(shapes).encode()).hexdigest(),
    }


def expected_identity(
    model: nn.Module, dataset: MultimodalDataset, config: TrainConfig, seed: int
) -> dict[str, object]:
    """What a checkpoint must match to resume or stand for a run: model name, configuration and parameter shapes,
    the train config without its resume-free fields, the seed and the data fingerprint."""
    train_config = resumable_train_config(config.to_dict())
    return {**model_signature(model), "train_config": train_config, "seed": seed, "data": data_fingerprint(dataset)}


def mismatched_keys(found: Mapping[str, object], expected: Mapping[str, object]) -> list[str]:
    """Keys of ``expected`` whose JSON form differs from the value stored in ``found`` (a sidecar or run record)."""
    return [key for key, value in json.loads(json.dumps(expected, default=str)).items() if found.get(key) != value]


def stored_identity(stored: Mapping[str, object], expected: Mapping[str, object]) -> dict[str, object]:
    """The values ``stored`` (a sidecar or run record) holds under ``expected``'s identity keys, its ``train_config``
    (when a dict) without the resume-free fields and with a field it lacks (added to the code after it was written)
    at its default value, so that :func:`mismatched_keys` compares it with a run's identity."""
    found = {key: stored.get(key) for key in expected}
    if isinstance(found.get("train_config"), dict):
        values = {**TrainConfig().to_dict(), **found["train_config"]}  # type: ignore[dict-item]
        found["train_config"] = resumable_train_config(values)
    return found
