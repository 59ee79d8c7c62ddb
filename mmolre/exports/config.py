"""The ``config.json`` of an export folder: its fields, how raw text is encoded and the error every faulty folder
raises (see :mod:`mmolre.exports`)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from mmolre.config import StrictConfig
from mmolre.data.dataset import MultimodalDataset
from mmolre.data.encoders import ENCODER_NAME, canonical
from mmolre.data.text_encoder import KINDS, TextFeatures, text_features
from mmolre.messages import shown
from mmolre.models.registry import config_class
from mmolre.train.identity import data_fingerprint
from mmolre.train.loop import TrainResult

EXPORT_FORMAT = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "README.md"
FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "model": str,
    "model_config": dict,
    "dims": dict,
    "tasks": list,
    "text": (dict, type(None)),
    "text_input": (dict, type(None)),
    "dataset": dict,
    "metrics": dict,
    "weights": str,
    "sha256": str,
}
"""The fields of ``config.json`` that loading relies on, with their JSON types."""


class ExportError(ValueError):
    """An export folder is missing, damaged or does not fit its model; the message names the file."""


@dataclass(frozen=True)
class TextEncoding(StrictConfig):
    """How raw text becomes a model's text input, as when its dataset was loaded (see
    :func:`mmolre.data.text_encoder.text_features`)."""

    kind: str  # one of KINDS: sentence vectors, token states, or the input of a fine-tuned encoder
    encoder: str = ENCODER_NAME
    max_tokens: int = 32
    freeze_layers: int = 0  # kind "finetune": the lower layers whose states are computed before the model
    lowercase: bool = False  # the dataset lower-cased its transcripts before encoding them

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"TextEncoding: kind must be one of {KINDS}, got {shown(self.kind)}")

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        """The model's text input for ``texts`` (cached like a dataset's, see :mod:`mmolre.data.text_encoder`)."""
        texts = [str(text).lower() if self.lowercase else str(text) for text in texts]
        return text_features(texts, self.kind, self.max_tokens, self.freeze_layers, self.encoder)


def text_encoding(
    dataset: MultimodalDataset, text: TextEncoding | Mapping[str, object] | None = None
) -> TextEncoding | None:
    """How ``dataset``'s text was encoded: ``text`` when given, else from the options :func:`mmolre.load_dataset`
    recorded; None when the model reads text as precomputed vectors (synthetic, bc-LSTM, MMSA features)."""
    if "text" not in dataset.modalities:
        return None
    if isinstance(text, Mapping):
        text = TextEncoding.from_dict(text)
    if text is None:
        options = dataset.notes.get("load_options") or {}
        if "text_kind" in options:
            text = TextEncoding(
                str(options["text_kind"]),
                canonical(str(options.get("encoder", ENCODER_NAME))),
                int(options.get("max_tokens", 32)),  # type: ignore[arg-type]
                int(options.get("freeze_layers", 0)),  # type: ignore[arg-type]
                bool(dataset.notes.get("text_lowercased", False)),
            )
    given = dataset.text_input
    if text is None and given is not None:
        raise ValueError(
            f"export: dataset {dataset.name!r} does not record how its text was encoded (it was not loaded with "
            "load_dataset); pass text=TextEncoding(kind='finetune', encoder=..., max_tokens=..., freeze_layers=...)"
        )
    if text is not None and given is not None:
        if text.kind != "finetune" or text.freeze_layers != given.layer or canonical(text.encoder) != given.encoder:
            raise ValueError(
                f"export: text encoding {text} differs from the dataset's fine-tuned text input {given} "
                "(kind 'finetune', freeze_layers = its layer, the same encoder)"
            )
    if text is not None and given is None and text.kind == "finetune":
        raise ValueError(f"export: text kind 'finetune' but dataset {dataset.name!r} has no text_input")
    return text


def _finite(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """Metrics as JSON numbers (NaN and inf become null)."""
    return {key: float(v) if math.isfinite(float(v)) else None for key, v in metrics.items()}


def export_config(
    run: TrainResult,
    dataset: MultimodalDataset,
    text: TextEncoding | Mapping | None = None,
    architecture: nn.Module | None = None,
) -> dict[str, object]:
    """The ``config.json`` content of ``run``'s export, without the weights' sha256 (see
    :func:`mmolre.exports.folder.export`). ``architecture`` stands for ``run.model`` where the run was restored from
    its record (no weights): only its name, configuration, modalities and tasks are read."""
    model = run.model if run.model is not None else architecture
    if model is None:
        raise ValueError("export: the run was restored from its record and keeps no weights")
    if dataset.context:
        raise ValueError("export: models trained on context samples (one per video) cannot score single utterances")
    name = str(getattr(model, "name", ""))
    wanted = config_class(name)
    if not isinstance(model.config, wanted):
        raise ValueError(f"export: model {name!r} has a {type(model.config).__name__}, expected {wanted.__name__}")
    encoding = text_encoding(dataset, text)
    return {
        "format": EXPORT_FORMAT,
        "model": name,
        "model_config": json.loads(json.dumps(dataclasses.asdict(model.config))),
        "dims": {m: d for m, d in dataset.dims.items() if m in model.modalities},
        "tasks": list(model.tasks),
        "text": None if encoding is None else encoding.to_dict(),
        "text_input": None if dataset.text_input is None else dataclasses.asdict(dataset.text_input),
        "dataset": {
            "name": dataset.name,
            "load_options": json.loads(json.dumps(dataset.notes.get("load_options"), default=str)),
            "description": dataset.description,
            "real_modalities": [m for m in dataset.real_modalities if m in model.modalities],
            "fingerprint": data_fingerprint(dataset),
        },
        "metrics": {"valid": _finite(run.valid_metrics), "test": _finite(run.test_metrics)},
        "best_epoch": run.best_epoch,
        "weights": WEIGHTS,
    }
