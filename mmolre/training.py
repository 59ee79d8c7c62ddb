"""Training and evaluation of any model that follows the ``model(batch) -> dict`` contract.

Loss: ``sentiment_weight * L1(sentiment) + emotion_weight * BCEWithLogits(emotion presence) +
aux_weight * model aux_loss``, where an emotion is present when its intensity is > 0. With
``balance_emotions`` (default) each emotion's positive term is weighted by negatives / positives on the
train split, so rare emotions (surprise, fear) are not simply never predicted: this matches the
class-balanced weighted accuracy (WA) the field reports. The tasks trained
are those the model outputs *and* the dataset labels. Model selection and early stopping use only the
valid split; the selection criterion is the valid loss with the same task weights (without the auxiliary
term). The test split is evaluated once, with the selected weights.

Each epoch runs with its own seed derived from ``(seed, epoch)`` (shuffling, dropout, router noise and
the ``batch_hook`` generator), so a run resumed from a checkpoint continues exactly as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .config import StrictConfig
from .dataset import MODALITIES, MultimodalDataset
from .device import default_device
from .metrics import emotion_metrics, sentiment_metrics
from .reporting import atomic_write

SEEDS: tuple[int, ...] = (1111, 1112, 1113, 1114, 1115)
SIDECAR = "checkpoint.json"
_CHECKPOINT_FORMAT = 1
_RESUME_FREE_KEYS = ("epochs", "device", "num_threads", "verbose")
"""TrainConfig fields that may differ between a checkpoint and the run resuming it."""

BatchHook = Callable[[dict[str, torch.Tensor], int, torch.Generator], dict[str, torch.Tensor]]
EpochHook = Callable[[nn.Module, int], None]


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or belongs to another model, configuration, seed or dataset."""


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) and make cuDNN deterministic."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@dataclass
class TrainConfig(StrictConfig):
    """Optimisation settings; ``patience = 0`` disables early stopping, ``grad_clip = 0`` disables clipping."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    sentiment_weight: float = 1.0
    emotion_weight: float = 1.0
    balance_emotions: bool = True  # BCE pos_weight = negatives / positives per emotion (train split)
    aux_weight: float = 0.01
    grad_clip: float = 1.0
    eval_batch_size: int = 512
    device: str = "auto"
    num_threads: int = 0  # torch CPU threads for the run (0: leave torch's setting)
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"TrainConfig: epochs, batch_size and eval_batch_size must be >= 1, got {self.epochs}, {self.batch_size}, {self.eval_batch_size}")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig: lr must be > 0, got {self.lr}")
        for name in ("weight_decay", "patience", "num_threads", "sentiment_weight", "emotion_weight", "aux_weight", "grad_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig: {name} must be >= 0, got {getattr(self, name)}")


@dataclass
class TrainResult:
    """Outcome of one run; ``model`` holds the selected (best valid) weights."""

    model: nn.Module
    tasks: tuple[str, ...]
    history: pd.DataFrame
    best_epoch: int
    best_valid_loss: float
    valid_metrics: dict[str, float]
    test_metrics: dict[str, float]
    epochs_run: int
    seconds: float
    extra: dict[str, object] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- evaluation


def model_tasks(model: nn.Module, dataset: MultimodalDataset) -> tuple[str, ...]:
    """Tasks the model predicts and the dataset labels, from one forward pass on a valid batch."""
    batch = _to_device(next(iter(dataset.loader("valid", batch_size=2))), _model_device(model))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        outputs = model(batch)
    model.train(was_training)
    tasks = tuple(t for t in ("sentiment", "emotion") if t in outputs and (t != "emotion" or dataset.has_emotions))
    if not tasks:
        raise ValueError(f"the model outputs {sorted(outputs)} but dataset {dataset.name!r} labels none of them "
                         f"(it has {'sentiment and emotions' if dataset.has_emotions else 'sentiment only'})")
    return tasks


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in batch.items()}


def _apply_mask_override(batch: dict[str, torch.Tensor], mask_override: object) -> dict[str, torch.Tensor]:
    override = torch.as_tensor(mask_override, dtype=torch.bool, device=batch["mask"].device)
    if override.shape != (len(MODALITIES),):
        raise ValueError(f"mask_override must be {len(MODALITIES)} booleans over {MODALITIES}, got shape {tuple(override.shape)}")
    return {**batch, "mask": batch["mask"] & override}


def predict(model: nn.Module, dataset: MultimodalDataset, split: str, mask_override: object = None,
            batch_size: int = 512) -> dict[str, np.ndarray]:
    """Model outputs over a split, concatenated: ``sentiment`` (n,) and/or ``emotion`` (n, 6) logits."""
    device = _model_device(model)
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for batch in dataset.loader(split, batch_size=batch_size):
            batch = _to_device(batch, device)
            if mask_override is not None:
                batch = _apply_mask_override(batch, mask_override)
            outputs = model(batch)
            for task in ("sentiment", "emotion"):
                if task in outputs:
                    parts.setdefault(task, []).append(outputs[task].detach().float().cpu())
    model.train(was_training)
    return {task: torch.cat(chunks).numpy() for task, chunks in parts.items()}


def emotion_pos_weight(dataset: MultimodalDataset, config: TrainConfig) -> torch.Tensor | None:
    """Per-emotion BCE ``pos_weight`` (negatives / positives on the train split), or None when not balancing."""
    emotions = dataset.splits["train"].emotions
    if not config.balance_emotions or emotions is None:
        return None
    present = (emotions > 0).float()
    positives = present.sum(0).clamp(min=1.0)
    return (len(present) - positives).clamp(min=1.0) / positives


def _task_losses(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], tasks: tuple[str, ...],
                 pos_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    losses = {}
    if "sentiment" in tasks:
        losses["sentiment"] = F.l1_loss(outputs["sentiment"].reshape(-1), batch["sentiment"])
    if "emotion" in tasks:
        weight = None if pos_weight is None else pos_weight.to(outputs["emotion"].device)
        losses["emotion"] = F.binary_cross_entropy_with_logits(outputs["emotion"], (batch["emotions"] > 0).float(),
                                                               pos_weight=weight)
    return losses


def _weighted(losses: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    weights = {"sentiment": config.sentiment_weight, "emotion": config.emotion_weight}
    return sum(weights[task] * value for task, value in losses.items())


def _selection_loss(predictions: dict[str, np.ndarray], dataset: MultimodalDataset, split: str,
                    tasks: tuple[str, ...], config: TrainConfig, pos_weight: torch.Tensor | None) -> float:
    """The valid-split selection criterion: weighted task losses over the whole split (no auxiliary term)."""
    data = dataset.splits[split]
    outputs = {task: torch.from_numpy(predictions[task]) for task in tasks}
    labels = {"sentiment": data.sentiment, "emotions": data.emotions}
    return float(_weighted(_task_losses(outputs, labels, tasks, pos_weight), config))


def _metrics(predictions: dict[str, np.ndarray], dataset: MultimodalDataset, split: str, tasks: tuple[str, ...]) -> dict[str, float]:
    data = dataset.splits[split]
    result: dict[str, float] = {}
    if "sentiment" in tasks:
        result.update(sentiment_metrics(data.sentiment.numpy(), predictions["sentiment"].reshape(-1)))
    if "emotion" in tasks:
        result.update({f"emo_{key}": value for key, value in emotion_metrics(data.emotions.numpy(), predictions["emotion"]).items()})
    return result


def evaluate(model: nn.Module, dataset: MultimodalDataset, split: str, mask_override: object = None,
             batch_size: int = 512) -> dict[str, float]:
    """Metrics on one split: sentiment metrics (``acc2_has0`` ... ``corr``) and emotion metrics prefixed ``emo_``.

    ``mask_override`` is a (3,) bool over ``MODALITIES`` ANDed with each sample's availability mask.
    """
    tasks = model_tasks(model, dataset)
    return _metrics(predict(model, dataset, split, mask_override, batch_size), dataset, split, tasks)


# ----------------------------------------------------------------------------------------------- checkpoints


def data_fingerprint(dataset: MultimodalDataset) -> dict[str, object]:
    """Name, split sizes, feature widths and a sha256 of the train labels."""
    train = dataset.splits["train"]
    digest = hashlib.sha256(train.sentiment.numpy().tobytes())
    if train.emotions is not None:
        digest.update(train.emotions.numpy().tobytes())
    return {"name": dataset.name, "sizes": dataset.sizes(), "dims": dataset.dims, "train_labels_sha256": digest.hexdigest()}


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


def _expected_identity(model: nn.Module, dataset: MultimodalDataset, config: TrainConfig, seed: int) -> dict[str, object]:
    train_config = {k: v for k, v in config.to_dict().items() if k not in _RESUME_FREE_KEYS}
    return {**model_signature(model), "train_config": train_config, "seed": seed, "data": data_fingerprint(dataset)}


def _mismatched_keys(found: dict[str, object], expected: dict[str, object]) -> list[str]:
    """Keys of ``expected`` whose JSON form differs from the value stored in ``found`` (a sidecar)."""
    return [key for key, value in json.loads(json.dumps(expected, default=str)).items() if found.get(key) != value]


def _check_identity(sidecar: dict[str, object], expected: dict[str, object], where: Path) -> None:
    found = {key: sidecar.get(key) for key in expected}
    found["train_config"] = {k: v for k, v in (found["train_config"] or {}).items() if k not in _RESUME_FREE_KEYS}
    expected = json.loads(json.dumps(expected, default=str))
    differences = _mismatched_keys(found, expected)
    if differences:
        details = "; ".join(f"{key}: checkpoint has {found[key]!r}, this run has {expected[key]!r}" for key in differences)
        raise CheckpointError(f"{where}: checkpoint does not match this run ({details})")


def load_checkpoint(model: nn.Module, checkpoint_dir: str | Path, which: str = "best",
                    dataset: MultimodalDataset | None = None) -> dict[str, object]:
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
        raise CheckpointError(f"{root / SIDECAR}: checkpoint does not match the given model/data (differs in {differences})")
    path = root / str(sidecar[f"{which}_weights"])
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file named in the sidecar is missing")
    model.load_state_dict(load_file(str(path), device=str(_model_device(model))))
    return sidecar


def _write_checkpoint(root: Path, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, object],
                      identity: dict[str, object], config: TrainConfig, improved: bool) -> None:
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
    payload = {**identity, "format": _CHECKPOINT_FORMAT, "train_config": config.to_dict(), **state,
               "last_weights": last, "optimizer": optim, "best_weights": best}
    _save_json(root / SIDECAR, payload)
    for path in root.glob("*-e*.*"):
        if path.name not in (last, optim, best):
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------- training


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000 + epoch


def train_model(
    model: nn.Module,
    dataset: MultimodalDataset,
    config: TrainConfig,
    seed: int,
    checkpoint_dir: str | Path | None = None,
    batch_hook: BatchHook | None = None,
    epoch_hook: EpochHook | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train with AdamW, select the epoch with the lowest valid loss, evaluate the test split once.

    ``batch_hook(batch, epoch, generator)`` may rewrite each training batch; ``epoch_hook(model, epoch)`` runs
    after each epoch's validation. With ``checkpoint_dir`` every epoch is saved (safetensors + JSON sidecar);
    ``resume=True`` continues from the last completed epoch there (CheckpointError when it does not match).
    """
    started = time.perf_counter()
    device = default_device(config.device)
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    model.to(device)
    tasks = model_tasks(model, dataset)
    pos_weight = emotion_pos_weight(dataset, config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    root = Path(checkpoint_dir) if checkpoint_dir is not None else None
    identity = _expected_identity(model, dataset, config, seed)
    rows: list[dict[str, float]] = []
    best_epoch, best_loss, bad_epochs, start = 0, float("inf"), 0, 1
    best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    if resume:
        if root is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        if (root / SIDECAR).is_file():
            sidecar = read_sidecar(root)
            _check_identity(sidecar, identity, root / SIDECAR)
            load_checkpoint(model, root, "best")
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
            load_checkpoint(model, root, "last")
            optimizer.load_state_dict(torch.load(root / str(sidecar["optimizer"]), map_location=device, weights_only=True))
            rows = list(sidecar["history"])
            best_epoch, best_loss, bad_epochs = int(sidecar["best_epoch"]), float(sidecar["best_valid_loss"]), int(sidecar["bad_epochs"])
            start = int(sidecar["epoch"]) + 1
            if sidecar.get("stopped_early"):
                start = config.epochs + 1
    for epoch in range(start, config.epochs + 1):
        epoch_seed = _epoch_seed(seed, epoch)
        set_seed(epoch_seed)
        generator = torch.Generator().manual_seed(epoch_seed)
        model.train()
        total, count = 0.0, 0
        for batch in dataset.loader("train", batch_size=config.batch_size, shuffle=True, seed=epoch_seed):
            if batch_hook is not None:
                batch = batch_hook(batch, epoch, generator)
            batch = _to_device(batch, device)
            outputs = model(batch)
            loss = _weighted(_task_losses(outputs, batch, tasks, pos_weight), config)
            aux = outputs.get("aux_loss")
            if aux is not None and config.aux_weight > 0:
                loss = loss + config.aux_weight * aux
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            size = len(batch["sentiment"])
            total, count = total + float(loss.detach()) * size, count + size
        predictions = predict(model, dataset, "valid", batch_size=config.eval_batch_size)
        valid_loss = _selection_loss(predictions, dataset, "valid", tasks, config, pos_weight)
        rows.append({"epoch": epoch, "train_loss": total / count, "valid_loss": valid_loss,
                     **_metrics(predictions, dataset, "valid", tasks)})
        improved = valid_loss < best_loss
        if improved:
            best_epoch, best_loss, bad_epochs = epoch, valid_loss, 0
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        else:
            bad_epochs += 1
        if epoch_hook is not None:
            epoch_hook(model, epoch)
        stop = config.patience > 0 and bad_epochs >= config.patience
        if root is not None:
            state = {"epoch": epoch, "best_epoch": best_epoch, "best_valid_loss": best_loss, "bad_epochs": bad_epochs,
                     "stopped_early": stop, "history": rows}
            _write_checkpoint(root, model, optimizer, state, identity, config, improved)
        if stop:
            break
    model.load_state_dict(best_state)
    test_metrics = _metrics(predict(model, dataset, "test", batch_size=config.eval_batch_size), dataset, "test", tasks)
    history = pd.DataFrame(rows)
    valid_metrics = {k: float(v) for k, v in history.loc[history["epoch"] == best_epoch].iloc[0].items() if k != "epoch"}
    seconds = time.perf_counter() - started
    if config.verbose:
        print(f"{model_signature(model)['model']} seed {seed}: best epoch {best_epoch}/{len(rows)}, "
              f"valid loss {best_loss:.4f}")
    return TrainResult(model, tasks, history, best_epoch, best_loss, valid_metrics, test_metrics, len(rows), seconds)
