"""Frozen against fine-tuned text encoders: the same model and schedule on the same data, text given as frozen
sentence vectors, frozen token states, or an encoder fine-tuned inside the model (some lower layers frozen and
cached, full or LoRA fine-tuning of the rest).

A setting is a mapping with a ``label``, the text options of the dataset loader (``text_kind``, ``freeze_layers``,
``max_tokens``, ``encoder``), optionally ``encoder_lora_rank`` (LoRA of the encoder through peft) and the CPU
economies of the training loop (``precision``, ``bucket_by_length``: see :class:`~mmolre.train.config.TrainConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from mmolre.data.load import load_dataset
from mmolre.models.mmolre_config import ModelConfig
from mmolre.protocols.driver import Arm, run_experiment
from mmolre.train.config import SEEDS, TrainConfig

ENCODER_SETTINGS: tuple[dict[str, object], ...] = (
    {"label": "frozen sentence vector", "text_kind": "sentence"},
    {"label": "frozen token states", "text_kind": "tokens"},
    {"label": "fine-tuned, 5 of 6 layers frozen", "text_kind": "finetune", "freeze_layers": 5},
    {"label": "fine-tuned, 3 of 6 layers frozen", "text_kind": "finetune", "freeze_layers": 3},
    {"label": "fine-tuned, all layers", "text_kind": "finetune", "freeze_layers": 0},
    {"label": "LoRA r=8, all layers", "text_kind": "finetune", "freeze_layers": 0, "encoder_lora_rank": 8},
)
_TEXT_OPTIONS = ("text_kind", "freeze_layers", "max_tokens", "encoder")
_TRAIN_OPTIONS = ("precision", "bucket_by_length")
_SETTING_KEYS = ("encoder_lora_rank", *_TEXT_OPTIONS, *_TRAIN_OPTIONS)


def compare_encoders(
    dataset: str,
    settings: Sequence[Mapping[str, object]],
    model_config: ModelConfig,
    train_config: TrainConfig,
    seeds: Sequence[int] = SEEDS,
    model: str = "mmolre",
    data_dir: str | None = None,
    dataset_options: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Train ``model`` once per setting and seed; long-form rows (tagged ``encoder``) with the split metrics,
    the parameters that receive gradient, the epochs run and the wall time per epoch."""
    for number, setting in enumerate(settings, start=1):  # every setting is checked before anything trains
        unknown = sorted(set(setting) - {"label", *_SETTING_KEYS})
        if unknown or not isinstance(setting.get("label"), str) or not setting["label"]:
            raise ValueError(
                f"encoder setting {number} of {len(settings)}: needs a text label and takes "
                f"{list(_SETTING_KEYS)}; got {dict(setting)}"
                + (f" (unknown: {unknown}; in YAML, quote a label that contains a comma)" if unknown else "")
            )
    frames = []
    for setting in settings:
        options = {**dict(dataset_options or {}), **{k: v for k, v in setting.items() if k in _TEXT_OPTIONS}}
        data = load_dataset(dataset, data_dir=data_dir, **options)
        config = model_config.replace(encoder_lora_rank=int(setting.get("encoder_lora_rank", 0)))
        label = str(setting["label"])
        train = train_config.replace(**{k: v for k, v in setting.items() if k in _TRAIN_OPTIONS})
        arm = Arm(label, model, config, train, tags={"encoder": label, "model": model, "variant": label})
        experiment = run_experiment([arm], data, seeds)
        per_epoch = experiment.facts.set_index("seed")["seconds"] / experiment.facts.set_index("seed")["epochs_run"]
        frames.append(experiment.runs.assign(seconds_per_epoch=experiment.runs["seed"].map(per_epoch)))
    return pd.concat(frames, ignore_index=True)
