"""Checkpoints: safetensors weights and optimizer state per epoch, and a JSON sidecar (the commit point) holding the
model's name, configuration and parameter shapes, the training configuration, the seed and a data fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.files import atomic_write
from mmolre.models.base import model_device
from mmolre.train.config import TrainConfig

SIDECAR = "checkpoint.json"
CHECKPOINT_FORMAT = 1
RESUME_FREE_KEYS = ("epochs", "device", "num_threads", "verbose")
"""TrainConfig fields that may differ between a checkpoint and the run resuming it."""


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or belongs to another model, configuration, seed or dataset."""


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


def _save_json(path: Path, payload: dict[str, object]) -> None:
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _save_weights(path: Path, model: nn.Module) -> None:
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp)))


def read_sidecar(checkpoint_dir: str | Path) -> dict[str, object]:
    """The JSON sidecar of a checkpoint directory, or a CheckpointError naming the file."""
    path = Path(checkpoint_dir) / SIDECAR
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint sidecar found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: unreadable checkpoint sidecar ({error})") from error


def expected_identity(
    model: nn.Module, dataset: MultimodalDataset, config: TrainConfig, seed: int
) -> dict[str, object]:
    train_config = {k: v for k, v in config.to_dict().items() if k not in RESUME_FREE_KEYS}
    return {**model_signature(model), "train_config": train_config, "seed": seed, "data": data_fingerprint(dataset)}


def _mismatched_keys(found: dict[str, object], expected: dict[str, object]) -> list[str]:
    """Keys of ``expected`` whose JSON form differs from the value stored in ``found`` (a sidecar)."""
    return [key for key, value in json.loads(json.dumps(expected, default=str)).items() if found.get(key) != value]


def check_identity(sidecar: dict[str, object], expected: dict[str, object], where: Path) -> None:
    found = {key: sidecar.get(key) for key in expected}
    found["train_config"] = {k: v for k, v in (found["train_config"] or {}).items() if k not in RESUME_FREE_KEYS}
    expected = json.loads(json.dumps(expected, default=str))
    differences = _mismatched_keys(found, expected)
    if differences:
        details = "; ".join(
            f"{key}: checkpoint has {found[key]!r}, this run has {expected[key]!r}" for key in differences
        )
        raise CheckpointError(f"{where}: checkpoint does not match this run ({details})")


def load_checkpoint(
    model: nn.Module, checkpoint_dir: str | Path, which: str = "best", dataset: MultimodalDataset | None = None
) -> dict[str, object]:
    """Load the ``best`` or ``last`` weights of a checkpoint into ``model``; returns the sidecar.

    The model's name, config and parameter shapes (and the dataset fingerprint, when given) must match.
    """
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    root = Path(checkpoint_dir)
    sidecar = read_sidecar(root)
    expected = model_signature(model)
    if dataset is not None:
        expected["data"] = data_fingerprint(dataset)
    differences = _mismatched_keys(sidecar, expected)
    if differences:
        raise CheckpointError(
            f"{root / SIDECAR}: checkpoint does not match the given model/data (differs in {differences})"
        )
    path = root / str(sidecar[f"{which}_weights"])
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file named in the sidecar is missing")
    model.load_state_dict(load_file(str(path), device=str(model_device(model))))
    return sidecar


def write_checkpoint(
    root: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, object],
    identity: dict[str, object],
    config: TrainConfig,
    improved: bool,
) -> None:
    """Write epoch-named weight/optimizer files, then the sidecar (the commit point), then drop stale files."""
    epoch = state["epoch"]
    last, optim = f"last-e{epoch:04d}.safetensors", f"optimizer-e{epoch:04d}.pt"
    _save_weights(root / last, model)
    atomic_write(root / optim, lambda tmp: torch.save(optimizer.state_dict(), tmp))
    if improved:
        best = f"best-e{epoch:04d}.safetensors"
        _save_weights(root / best, model)
    else:
        best = str(read_sidecar(root)["best_weights"])
    payload = {
        **identity,
        "format": CHECKPOINT_FORMAT,
        "train_config": config.to_dict(),
        **state,
        "last_weights": last,
        "optimizer": optim,
        "best_weights": best,
    }
    _save_json(root / SIDECAR, payload)
    for path in root.glob("*-e*.*"):
        if path.name not in (last, optim, best):
            path.unlink(missing_ok=True)
