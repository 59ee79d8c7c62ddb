"""Trained models that leave the project: an export folder written by :func:`export`, rebuilt by
:func:`load_pretrained` on any device, scored by :func:`mmolre.predict.predict`.

An export folder holds three files:

- ``model.safetensors``: the selected weights (the fine-tuned top layers of a text encoder included);
- ``config.json``: the export format, model name and configuration, modality widths, tasks, how raw text is encoded
  (:class:`TextEncoding`: encoder, kind, ``max_tokens``, frozen layers, lower-casing), the text encoder input of a
  fine-tuned model (:class:`~mmolre.data.text_encoder.TextInput`), the training dataset (name, load options,
  description, fingerprint), the valid and test metrics of the run and the sha256 of the weights;
- ``README.md``: the model card (data, features, results, limits, how to predict).

Loading checks the config's fields, the weights' sha256 and that every tensor fits the rebuilt model; each problem is
one :class:`ExportError` line naming the file. The encoder a model reads text with is never stored: frozen lower
layers come from the same pretrained encoder at prediction time (it must be installed, see
:mod:`mmolre.data.encoders`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmolre.config import StrictConfig
from mmolre.data.dataset import MultimodalDataset
from mmolre.data.encoders import ENCODER_NAME, canonical
from mmolre.data.text_encoder import KINDS, TextFeatures, TextInput, text_features
from mmolre.device import default_device
from mmolre.files import file_sha256
from mmolre.messages import cut, shown
from mmolre.models.base import AffectModel
from mmolre.models.registry import build_model, config_class
from mmolre.tasks import EMOTION4_CLASSES, EMOTIONS
from mmolre.train.checkpoints import data_fingerprint
from mmolre.train.loop import TrainResult

if TYPE_CHECKING:
    from mmolre.protocols.driver import Experiment

EXPORT_FORMAT = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "README.md"
_FIELDS: dict[str, type | tuple[type, ...]] = {
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


def export_config(
    run: TrainResult, dataset: MultimodalDataset, text: TextEncoding | Mapping | None = None
) -> dict[str, object]:
    """The ``config.json`` content of ``run``'s export, without the weights' sha256 (see :func:`export`)."""
    model = run.model
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


def export(
    run: TrainResult, folder: str | Path, dataset: MultimodalDataset, text: TextEncoding | Mapping | None = None
) -> Path:
    """Write ``run``'s selected model to ``folder`` (created, or replaced when it holds an earlier export) as
    safetensors weights, ``config.json`` and a model card; returns the folder.

    ``dataset`` is the one the run trained on (its widths, text input, load options and fingerprint); ``text``
    overrides how raw text is encoded (default: what :func:`text_encoding` finds).
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
    wrong = [key for key, kind in _FIELDS.items() if not isinstance(config.get(key), kind)]
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
    model.load_state_dict(state)
    model.to(target).eval()
    return Pretrained(model, text, config, folder)


def _number(value: object) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _inputs(config: Mapping[str, object]) -> list[str]:
    text = config["text"]
    lines = []
    for modality, width in config["dims"].items():  # type: ignore[union-attr]
        if modality == "text" and text is not None:
            details = [] if text["kind"] == "sentence" else [f"at most {text['max_tokens']} tokens"]
            if text["kind"] == "finetune":
                details.append(f"lower {text['freeze_layers']} layers frozen")
            if text["lowercase"]:
                details.append("lower-cased first")
            how = f" ({', '.join(details)})" if details else ""
            lines.append(f"- text: raw transcripts (column `text`), {text['encoder']} {text['kind']} input{how}")
        else:
            lines.append(
                f"- {modality}: a {width}-d vector per utterance (columns `{modality}_0` ... "
                f"`{modality}_{width - 1}`), in the feature space of the training data; optional"
            )
    return lines


def model_card(config: Mapping[str, object]) -> str:
    """The Markdown model card of an export (see the module docstring)."""
    data = config["dataset"]
    metrics = config["metrics"]
    keys = sorted(metrics["test"])  # type: ignore[index]  # valid and test have the same keys
    rows = [f"| {key} | {_number(metrics['valid'].get(key))} | {_number(metrics['test'].get(key))} |" for key in keys]  # type: ignore[index]
    fingerprint = data["fingerprint"]  # type: ignore[index]
    outputs = []
    if "sentiment" in config["tasks"]:  # type: ignore[operator]
        outputs.append("- `sentiment`: a score in [-3, 3] (negative to positive; predictions are clipped)")
    if "emotion" in config["tasks"]:  # type: ignore[operator]
        outputs.append(f"- `emotion_<name>`: the probability that each of {', '.join(EMOTIONS)} is present")
    if "emotion4" in config["tasks"]:  # type: ignore[operator]
        outputs.append(f"- `emotion4_<class>`: probabilities over {', '.join(EMOTION4_CLASSES)} (sum 1)")
    return "\n".join(
        [
            f"# Model card: {config['model']} trained on {data['name']}",  # type: ignore[index]
            "",
            "## Data",
            "",
            str(data["description"]),  # type: ignore[index]
            "",
            f"Split sizes {fingerprint['sizes']}; sha256 of the train labels `{fingerprint['train_labels_sha256']}`; "
            f"load options `{json.dumps(data['load_options'])}`.",  # type: ignore[index]
            "",
            "## Features",
            "",
            *_inputs(config),
            "",
            f"Model `{config['model']}` with `{json.dumps(config['model_config'])}`.",
            "",
            "## Outputs",
            "",
            *outputs,
            "",
            f"## Results (selected epoch {config.get('best_epoch')}; one seed, selection on valid only)",
            "",
            "| metric | valid | test |",
            "| --- | ---: | ---: |",
            *rows,
            "",
            "## Limits",
            "",
            f"- Trained on {data['name']} only; data unlike it (other domains, languages, speaking styles) is "  # type: ignore[index]
            "untested.",
            "- A modality left out (no columns, or empty cells) is masked as missing; a model that never trained "
            "without it may predict worse than the results above.",
            "- Vector inputs must be computed exactly as the training features were (same extractor and "
            "standardisation); nothing checks that.",
            "- Results are from one run on the dataset's test split; they are not a statement about any person. Do "
            "not use the scores for decisions about people.",
            "",
            "## Use",
            "",
            "```",
            *(['python -m mmolre predict --model FOLDER --text "what a wonderful film"'] if config["text"] else []),
            "python -m mmolre predict --model FOLDER --input utterances.csv --format json",
            "```",
            "",
        ]
    )


def profile_card(experiment: Experiment, dataset: MultimodalDataset, profile: str, resume: bool = False) -> str:
    """The model card of a profile's best run (lowest valid selection criterion, see
    :meth:`~mmolre.protocols.driver.Experiment.best_on_valid`) with the one command that recreates and exports it
    (``python -m mmolre export``); weights are never committed, so the card is what a profile's reports keep of its
    best model. ``resume``: whether the profile keeps checkpoints (then the command only re-evaluates a run whose
    checkpoint is still in the cache). Where no run can be exported (context samples, single-task arms only) the
    card is one line saying why."""
    if dataset.context:
        return "No model card: models trained on context samples (one per video) cannot score single utterances.\n"
    if not any(len(results) == 1 for results in experiment.results.values()):
        return "No model card: only single-task arms ran (one model per task, nothing to export as one model).\n"
    label, seed = experiment.best_on_valid()
    run = experiment.results[(label, seed)][0]
    config = export_config(run, dataset)
    runs = sum(len(results) == 1 for results in experiment.results.values())
    parts = ["python -m mmolre export"]
    if profile != "default":  # the default profile is the notebooks' own defaults, no parameter file
        parts.append(f"-f params/{profile}.yaml")
    parts.append(f"--model {label} --seed {seed} --to exports/{profile}-{label}-{seed}")
    command = " ".join(parts)
    if dataset.real_modalities:
        command = f"MMOLRE_DATA_DIR=/path/to/data {command}"
    how = (
        "re-evaluates the run from the profile's checkpoint when it is still in the cache (else trains it again)"
        if resume
        else "trains the same run again (same seed, data and configuration)"
    )
    needs = ""
    if config["text"] is not None and config["text"].get("encoder") != ENCODER_NAME:  # type: ignore[union-attr]
        needs = f" It needs the text encoder `{config['text']['encoder']}` installed (see docs/fine-tuning.md)."  # type: ignore[index]
    return "\n".join(
        [
            model_card(config).rstrip(),
            "",
            "## Which run, and how to get its weights",
            "",
            f"Profile `{profile}`: of its {runs} runs of one model, `{label}` with seed {seed} has the lowest valid "
            f"selection criterion ({run.best_criterion:.4f}; the test split played no part in the choice). Its "
            f"weights are not kept in the repository; this command {how} and writes the export folder that "
            f"`python -m mmolre predict --model FOLDER` reads, without touching the profile's reports.{needs}",
            "",
            f"    {command}",
            "",
        ]
    )
