"""Writing an export folder and rebuilding its model (see :mod:`mmolre.exports`)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmolre.data.dataset import MultimodalDataset
from mmolre.data.text_encoder import TextInput
from mmolre.device import default_device
from mmolre.exports.card import model_card
from mmolre.exports.config import CARD, CONFIG, EXPORT_FORMAT, FIELDS, WEIGHTS, ExportError, TextEncoding, export_config
from mmolre.files import file_sha256
from mmolre.messages import cut, shown
from mmolre.models.base import AffectModel, adopt_weight_type
from mmolre.models.registry import build_model, config_class
from mmolre.train.loop import TrainResult


@dataclass
class Pretrained:
    """A model rebuilt from an export folder: the model (eval mode), its text encoding (None: text, if the model
    reads it, comes as vectors) and the export's ``config.json`` content."""

    model: AffectModel
    text: TextEncoding | None
    config: dict[str, object]
    folder: Path

    @property
    def dims(self) -> dict[str, int]:
        return {str(m): int(d) for m, d in self.config["dims"].items()}  # type: ignore[union-attr]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.model.tasks)


def _is_export(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier export (its config names this format) and nothing else."""
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = {path.name for path in folder.iterdir()}
    return isinstance(config, dict) and config.get("format") == EXPORT_FORMAT and names <= {CONFIG, WEIGHTS, CARD}


def check_export_folder(folder: str | Path) -> Path:
    """``folder`` as a Path when an export may be written there (absent, empty, or an earlier export); otherwise
    an :class:`ExportError` naming it (checked before anything is trained)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder}: export folder is a file")
    if folder.is_dir() and any(folder.iterdir()) and not _is_export(folder):
        raise ExportError(f"{folder}: folder holds other files than an export; export into a new or empty folder")
    return folder


def export(
    run: TrainResult, folder: str | Path, dataset: MultimodalDataset, text: TextEncoding | Mapping | None = None
) -> Path:
    """Write ``run``'s selected model to ``folder`` (created, or replaced when it holds an earlier export) as
    safetensors weights, ``config.json`` and a model card; returns the folder.

    ``dataset`` is the one the run trained on (its widths, text input, load options and fingerprint); ``text``
    overrides how raw text is encoded (default: what :func:`mmolre.exports.config.text_encoding` finds).
    """
    folder = check_export_folder(folder)
    config = export_config(run, dataset, text)
    model = run.model
    staging = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS))
        config["sha256"] = file_sha256(staging / WEIGHTS)
        (staging / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (staging / CARD).write_text(model_card(config), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def read_config(folder: str | Path) -> dict[str, object]:
    """The ``config.json`` of an export folder after checking its format and fields (ExportError naming it)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such export folder")
    path = folder / CONFIG
    if not path.is_file():
        raise ExportError(f"{path}: missing; {folder} is not an export folder (mmolre.export writes one)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(f"{path}: unreadable export config ({cut(str(error), 120)})") from None
    if not isinstance(config, dict):
        raise ExportError(f"{path}: export config must be a JSON object, got {type(config).__name__}")
    if config.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{path}: export format {shown(config.get('format'))}, this version reads {EXPORT_FORMAT}")
    wrong = [key for key, kind in FIELDS.items() if not isinstance(config.get(key), kind)]
    if wrong:
        raise ExportError(f"{path}: export config is incomplete or edited: missing or invalid {wrong}")
    if config["weights"] != Path(config["weights"]).name or config["weights"].startswith("."):
        raise ExportError(f"{path}: weights {shown(config['weights'])} is not a file of the export folder")
    return config


def load_pretrained(folder: str | Path, device: str = "auto") -> Pretrained:
    """Rebuild the model of an export folder on ``device`` ("auto": CUDA when present), in eval mode.

    The weights must have the sha256 recorded in ``config.json`` and fit the model it describes; every fault is an
    :class:`ExportError` naming the file.
    """
    folder = Path(folder)
    config = read_config(folder)
    path = folder / CONFIG
    try:
        model_config = config_class(config["model"]).from_dict(config["model_config"])
        text = None if config["text"] is None else TextEncoding.from_dict(config["text"])
        text_input = None if config["text_input"] is None else TextInput(**config["text_input"])
        model = build_model(config["model"], config["dims"], tuple(config["tasks"]), model_config, text_input)
    except (TypeError, ValueError) as error:
        raise ExportError(f"{path}: cannot rebuild the model it describes ({cut(str(error), 200)})") from None
    weights = folder / config["weights"]
    if not weights.is_file():
        raise ExportError(f"{weights}: weights file named in {CONFIG} is missing")
    found = file_sha256(weights)
    if found != config["sha256"]:
        raise ExportError(
            f"{weights}: sha256 {found[:16]}... differs from {str(config['sha256'])[:16]}... recorded in {CONFIG}; "
            "the weights were damaged or changed after export (export again)"
        )
    target = default_device(device)
    try:
        state = load_file(str(weights), device=str(target))
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise ExportError(f"{weights}: unreadable safetensors weights ({cut(str(error), 120)})") from None
    own = model.state_dict()
    wrong = sorted(set(state) ^ set(own)) + sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if wrong:
        raise ExportError(
            f"{weights}: weights do not fit the {config['model']!r} model of {CONFIG} (missing, unexpected or "
            f"reshaped: {wrong[:4]})"
        )
    adopt_weight_type(model, state)
    model.load_state_dict(state)
    model.to(target).eval()
    return Pretrained(model, text, config, folder)
