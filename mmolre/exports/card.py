"""Model cards: the Markdown ``README.md`` of an export folder and the card of a profile's best run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mmolre.data.dataset import MultimodalDataset
from mmolre.data.encoders import ENCODER_NAME, frozen_layers_phrase
from mmolre.exports.config import export_config
from mmolre.tasks import TASK_SPECS, in_task_order

if TYPE_CHECKING:
    from mmolre.protocols.driver import Experiment


def _number(value: object) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _inputs(config: Mapping[str, object]) -> list[str]:
    text = config["text"]
    lines = []
    for modality, width in config["dims"].items():  # type: ignore[union-attr]
        if modality == "text" and text is not None:
            details = [] if text["kind"] == "sentence" else [f"at most {text['max_tokens']} tokens"]
            if text["kind"] == "finetune":
                details.append(frozen_layers_phrase(int(text["freeze_layers"])))
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
    """The Markdown model card of an export: the data, the valid and test metrics of the selected epoch, what the
    model reads and outputs, and the commands that score new utterances."""
    data = config["dataset"]
    metrics = config["metrics"]
    keys = sorted(metrics["test"])  # type: ignore[index]  # valid and test have the same keys
    rows = [f"| {key} | {_number(metrics['valid'].get(key))} | {_number(metrics['test'].get(key))} |" for key in keys]  # type: ignore[index]
    fingerprint = data["fingerprint"]  # type: ignore[index]
    outputs = [TASK_SPECS[task].card for task in in_task_order(config["tasks"])]  # type: ignore[arg-type]
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
    config = export_config(run, dataset, architecture=experiment.architecture(label, seed, dataset))
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
