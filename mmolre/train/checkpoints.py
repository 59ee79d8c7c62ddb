"""Checkpoints: safetensors weights and the optimiser, schedule and gradient-scaler state per epoch, and a JSON
sidecar (the commit point) holding the model's name, configuration and parameter shapes, the training configuration,
the seed, a data fingerprint, the run's progress (:data:`~mmolre.train.state.PROGRESS_KEYS`: epoch, best epoch and
criterion, bad epochs, early stop, history) and the sha256 of every file it names and of the progress itself. The
run's identity (what the sidecar must match) is defined in :mod:`mmolre.train.identity`.

Loading and resuming check the sidecar before anything is loaded: types, a progress that the loop can have written
(``1 <= epoch <=`` its recorded ``epochs``, one history row per epoch numbered 1..epoch with numeric values, the best
epoch the first with the lowest finite criterion, ``bad_epochs = epoch - best_epoch``, ``stopped_early`` exactly
when patience ran out) and the digests; a damaged or edited sidecar or file is refused (CheckpointError naming the
file and the fault) instead of silently changing results. Every file is written atomically and the sidecar last, so
an interrupted write leaves the previous checkpoint intact."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.files import atomic_write, file_sha256
from mmolre.models.base import adopt_weight_type, model_device
from mmolre.train.config import TrainConfig
from mmolre.train.identity import data_fingerprint, is_number, mismatched_keys, model_signature, stored_identity
from mmolre.train.state import PROGRESS_KEYS, RunState

SIDECAR = "checkpoint.json"
CHECKPOINT_FORMAT = 3
"""Format 3 saves the schedule and scaler state beside the optimiser's and records the sha256 of the progress and
of every file the sidecar names; sidecars of other formats are refused."""


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or belongs to another model, configuration, seed or dataset."""


_EPOCH_FILE = re.compile(r"(last|best)-e\d{4}\.safetensors|train-state-e\d{4}\.pt")
"""The names of the per-epoch files :func:`save_checkpoint` writes (the only files it ever removes)."""


def _save_json(path: Path, payload: dict[str, object]) -> None:
    text = json.dumps(payload, indent=2, default=str) + "\n"
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
    "stopped_early": bool,
    "history": list,
    "train_config": dict,
    "last_weights": str,
    "best_weights": str,
    "train_state": str,
    "sha256": dict,
    "progress_sha256": str,
}
"""Sidecar fields that loading and resuming rely on, with their JSON types."""
_FILE_KEYS = ("last_weights", "best_weights", "train_state")


def _progress_sha256(sidecar: dict[str, object]) -> str:
    text = json.dumps({key: sidecar[key] for key in PROGRESS_KEYS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _progress_fault(sidecar: dict[str, object]) -> str | None:
    """What makes the sidecar's progress one the training loop cannot have written, or None."""
    epoch, best, bad, history = sidecar["epoch"], sidecar["best_epoch"], sidecar["bad_epochs"], sidecar["history"]
    epochs, patience = sidecar["train_config"].get("epochs"), sidecar["train_config"].get("patience")
    if not (is_number(epochs) and is_number(patience)):
        return f"train_config epochs and patience must be numbers, got {epochs!r} and {patience!r}"
    if not 1 <= epoch <= epochs:
        return f"epoch {epoch} is outside 1..{epochs} (train_config epochs)"
    if len(history) != epoch:
        return f"history has {len(history)} rows for epoch {epoch}"
    for number, row in enumerate(history, start=1):
        if not isinstance(row, dict) or row.get("epoch") != number or not {"train_loss", "criterion"} <= set(row):
            return f"history row {number} is not a row of epoch {number} with train_loss and criterion"
        wrong = sorted(str(key) for key, value in row.items() if not is_number(value))
        if wrong:
            return f"history row {number} has non-numeric {wrong[:5]}"
    criteria = [float(row["criterion"]) for row in history]
    finite = [value for value in criteria if math.isfinite(value)]
    if not finite:
        return "no epoch of the history has a finite criterion"
    first_best = criteria.index(min(finite)) + 1
    if best != first_best or sidecar["best_criterion"] != min(finite):
        return (
            f"best_epoch {best} with criterion {sidecar['best_criterion']!r} is not the history's best "
            f"(epoch {first_best}, criterion {min(finite)!r})"
        )
    if bad != epoch - best:
        return f"bad_epochs {bad} differs from epoch - best_epoch = {epoch - best}"
    if sidecar["stopped_early"] != (patience > 0 and bad >= patience):
        return f"stopped_early {sidecar['stopped_early']} contradicts patience {patience} and bad_epochs {bad}"
    return None


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
            "(schedule and scaler state saved, every file and the progress sha256-checked); train again into an "
            "empty directory"
        )
    wrong = [
        key
        for key, kind in _FIELDS.items()
        if not isinstance(sidecar.get(key), kind) or (kind is not bool and isinstance(sidecar.get(key), bool))
    ]
    if wrong:
        raise CheckpointError(f"{path}: checkpoint sidecar is incomplete or edited: missing or invalid {wrong}")
    fault = _progress_fault(sidecar)
    if fault is not None:
        raise CheckpointError(f"{path}: checkpoint sidecar is inconsistent or edited: {fault}")
    if _progress_sha256(sidecar) != sidecar["progress_sha256"]:
        raise CheckpointError(
            f"{path}: the progress (epoch, best epoch, history, ...) differs from its sha256 recorded when it was "
            "written; the sidecar was edited (train again, or restore the file)"
        )
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
    recorded, found = str(sidecar["sha256"][path.name]), file_sha256(path)
    if found != recorded:
        raise CheckpointError(
            f"{path}: sha256 {found[:16]}... differs from {recorded[:16]}... recorded in {SIDECAR}; the file was "
            "damaged or changed after it was written (train again, or restore the file)"
        )
    return path


def checkpoint_folder(root: Path) -> Path:
    """``root``, created when missing; CheckpointError naming it when it is a file or cannot be created."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise CheckpointError(f"{root}: checkpoint folder is a file, or inside one ({error.filename})") from None
    except OSError as error:
        raise CheckpointError(f"{root}: cannot create the checkpoint folder ({error.strerror})") from None
    return root


def check_identity(sidecar: dict[str, object], expected: dict[str, object], where: Path) -> None:
    """CheckpointError unless the sidecar's identity equals ``expected``; a TrainConfig field that the sidecar lacks
    (added to the code after the checkpoint was written) counts as its default value."""
    found = stored_identity(sidecar, expected)
    expected = json.loads(json.dumps(expected, default=str))
    differences = mismatched_keys(found, expected)
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
    differences = mismatched_keys(sidecar, expected)
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
    adopt_weight_type(model, state)
    model.load_state_dict(state)
    return sidecar


def load_train_state(
    state: RunState, checkpoint_dir: str | Path, sidecar: dict[str, object], device: torch.device
) -> None:
    """Load the optimiser, schedule and scaler state the sidecar names (sha256-checked) into ``state``."""
    path = checked_file(checkpoint_dir, sidecar, "train_state")
    try:
        state.load_train_state(torch.load(path, map_location=device, weights_only=True))
    except Exception as error:  # torch.load and the load_state_dict methods raise many kinds of errors
        raise CheckpointError(
            f"{path}: unreadable or unsuitable optimiser/schedule/scaler state ({type(error).__name__}: {error})"
        ) from error


def restore_checkpoint(
    state: RunState, root: Path, identity: dict[str, object], device: torch.device, epochs: int
) -> bool:
    """Restore a run from the checkpoint in ``root`` into ``state`` (last weights into the model, best weights,
    optimiser, schedule, scaler and progress); False, with ``state`` untouched, when ``root`` holds no sidecar.

    CheckpointError when the sidecar or a file is damaged or edited, when the checkpoint belongs to another run
    (``identity``) or when it has trained more than ``epochs`` epochs.
    """
    if not (root / SIDECAR).is_file():
        return False
    sidecar = read_sidecar(root)
    check_identity(sidecar, identity, root / SIDECAR)
    if sidecar["epoch"] > epochs:
        raise CheckpointError(
            f"{root / SIDECAR}: checkpoint has trained {sidecar['epoch']} epochs, this run asks for {epochs}; "
            "resume with at least as many epochs, or train again into an empty directory"
        )
    for key in _FILE_KEYS:
        checked_file(root, sidecar, key)
    load_checkpoint(state.model, root, "best")
    state.keep_best_weights()
    load_checkpoint(state.model, root, "last")
    load_train_state(state, root, sidecar, device)
    state.set_progress(sidecar)
    seconds = sidecar.get("train_seconds")
    state.seconds = float(seconds) if is_number(seconds) else math.nan  # written before the field existed
    return True


def write_checkpoint(root: Path, state: RunState, identity: dict[str, object], config: TrainConfig) -> None:
    """Write epoch-named weight and train-state files, then the sidecar (the commit point), then drop stale files."""
    epoch = state.epoch
    last, train = f"last-e{epoch:04d}.safetensors", f"train-state-e{epoch:04d}.pt"
    _save_weights(root / last, state.model)
    atomic_write(root / train, lambda tmp: torch.save(state.train_state(), tmp))
    digests = {last: file_sha256(root / last), train: file_sha256(root / train)}
    if state.improved:
        best = f"best-e{epoch:04d}.safetensors"
        _save_weights(root / best, state.model)
        digests[best] = file_sha256(root / best)
    else:
        previous = read_sidecar(root)
        best = str(previous["best_weights"])
        digests[best] = str(previous["sha256"][best])
    payload = {
        **identity,
        "format": CHECKPOINT_FORMAT,
        "train_config": config.to_dict(),
        **state.progress(),
        "train_seconds": state.seconds,
        "last_weights": last,
        "train_state": train,
        "best_weights": best,
        "sha256": digests,
    }
    payload["progress_sha256"] = _progress_sha256(json.loads(json.dumps(payload, default=str)))
    _save_json(root / SIDECAR, payload)
    for path in root.glob("*-e*.*"):  # earlier epochs' files of this code only, never anything else in the folder
        if _EPOCH_FILE.fullmatch(path.name) and path.name not in (last, train, best):
            path.unlink(missing_ok=True)
