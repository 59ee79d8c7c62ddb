"""Checkpoints: safetensors weights and optimizer state per epoch, and a JSON sidecar (the commit point) holding the
model's name, configuration and parameter shapes, the training configuration, the seed, a data fingerprint and the
sha256 of every file it names. Loading and resuming check those digests, so a damaged or edited file is refused
(CheckpointError naming it) instead of silently changing results. Every file is written atomically and the sidecar
last, so an interrupted write leaves the previous checkpoint intact."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.files import atomic_write
from mmolre.models.base import model_device
from mmolre.train.config import TrainConfig

SIDECAR = "checkpoint.json"
CHECKPOINT_FORMAT = 2
"""Format 2 records the sha256 of every file the sidecar names; format 1 sidecars are refused."""
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


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "epoch": int,
    "best_epoch": int,
    "bad_epochs": int,
    "best_criterion": (int, float),
    "history": list,
    "last_weights": str,
    "best_weights": str,
    "optimizer": str,
    "sha256": dict,
}
"""Sidecar fields that loading and resuming rely on, with their JSON types."""
_FILE_KEYS = ("last_weights", "best_weights", "optimizer")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_sidecar(checkpoint_dir: str | Path) -> dict[str, object]:
    """The JSON sidecar of a checkpoint directory, or a CheckpointError naming the file and what is wrong."""
    path = Path(checkpoint_dir) / SIDECAR
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint sidecar found")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: unreadable checkpoint sidecar ({error})") from error
    if not isinstance(sidecar, dict):
        raise CheckpointError(f"{path}: checkpoint sidecar must be a JSON object, got {type(sidecar).__name__}")
    if sidecar.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {sidecar.get('format')!r}, this version reads format {CHECKPOINT_FORMAT} "
            "(which records the sha256 of every file); train again into an empty directory"
        )
    wrong = [key for key, kind in _FIELDS.items() if not isinstance(sidecar.get(key), kind)]
    if wrong:
        raise CheckpointError(f"{path}: checkpoint sidecar is incomplete or edited: missing or invalid {wrong}")
    for key in _FILE_KEYS:
        name = sidecar[key]
        if name != Path(name).name or name.startswith(".") or not isinstance(sidecar["sha256"].get(name), str):
            raise CheckpointError(f"{path}: {key} {name!r} is not a file of this directory with a recorded sha256")
    return sidecar


def checked_file(checkpoint_dir: str | Path, sidecar: dict[str, object], key: str) -> Path:
    """The file the sidecar names under ``key``, after checking it exists and has its recorded sha256."""
    path = Path(checkpoint_dir) / str(sidecar[key])
    if not path.is_file():
        raise CheckpointError(f"{path}: file named in the checkpoint sidecar ({key}) is missing")
    recorded, found = str(sidecar["sha256"][path.name]), _sha256(path)
    if found != recorded:
        raise CheckpointError(
            f"{path}: sha256 {found[:16]}... differs from {recorded[:16]}... recorded in {SIDECAR}; the file was "
            "damaged or changed after it was written (train again, or restore the file)"
        )
    return path


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
    path = checked_file(root, sidecar, f"{which}_weights")
    try:
        state = load_file(str(path), device=str(model_device(model)))
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable safetensors weights ({error})") from error
    own = model.state_dict()
    wrong = sorted(set(state) ^ set(own)) + sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if wrong:
        raise CheckpointError(f"{path}: weights do not fit the model (missing, unexpected or reshaped: {wrong[:5]})")
    model.load_state_dict(state)
    return sidecar


def load_optimizer(
    optimizer: torch.optim.Optimizer, checkpoint_dir: str | Path, sidecar: dict[str, object], device: torch.device
) -> None:
    """Load the optimizer state the sidecar names (sha256-checked) into ``optimizer``."""
    path = checked_file(checkpoint_dir, sidecar, "optimizer")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        optimizer.load_state_dict(state)
    except Exception as error:  # torch.load raises many kinds of errors on a damaged file
        raise CheckpointError(
            f"{path}: unreadable or unsuitable optimizer state ({type(error).__name__}: {error})"
        ) from error


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
    digests = {last: _sha256(root / last), optim: _sha256(root / optim)}
    if improved:
        best = f"best-e{epoch:04d}.safetensors"
        _save_weights(root / best, model)
        digests[best] = _sha256(root / best)
    else:
        previous = read_sidecar(root)
        best = str(previous["best_weights"])
        digests[best] = str(previous["sha256"][best])
    payload = {
        **identity,
        "format": CHECKPOINT_FORMAT,
        "train_config": config.to_dict(),
        **state,
        "last_weights": last,
        "optimizer": optim,
        "best_weights": best,
        "sha256": digests,
    }
    _save_json(root / SIDECAR, payload)
    for path in root.glob("*-e*.*"):
        if path.name not in (last, optim, best):
            path.unlink(missing_ok=True)
