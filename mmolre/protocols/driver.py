"""The one experiment driver: every arm (model + configuration + sampling) under every seed, with results.

Every run is ``set_seed(seed)`` -> :func:`mmolre.models.build_model` -> :func:`mmolre.train.train_model`, so two
arms compared under the same seed start from the same data order and seeds. ``single_task`` arms train one model
per task and merge their metrics (the tasks are disjoint). The tasks are those the dataset labels: sentiment
always, emotions only when the dataset has them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmolre.config import StrictConfig
from mmolre.data.dataset import MultimodalDataset
from mmolre.modalities import available_combinations, combination_mask
from mmolre.models.base import AffectModel
from mmolre.models.inspection import trained_parameter_count
from mmolre.models.registry import build_model, config_class, task_groups
from mmolre.progress import progress
from mmolre.protocols.combination_sampler import UniformSampler, combination_hook
from mmolre.protocols.sampler_state import restore_sampler_state, save_sampler_state
from mmolre.train.config import SEEDS, TrainConfig, set_seed
from mmolre.train.distributed import Distributed
from mmolre.train.loop import TrainResult, train_model
from mmolre.train.records import read_record, record_identity, write_record

CRITERION_FIELDS = ("sentiment_loss", "sentiment_weight", "emotion_weight", "balance_emotions")
"""The TrainConfig fields the valid selection criterion depends on: runs compare by it only when these agree."""
Evaluator = Callable[[AffectModel, MultimodalDataset], pd.DataFrame]
"""``evaluator(trained_model, dataset) -> frame``: an extra evaluation of each trained model."""


@dataclass
class Arm:
    """One arm of an experiment.

    ``tags`` are the columns that identify the arm in every result frame (default ``model`` and ``variant``);
    ``sampler`` builds, from the dataset's modalities, the sampler that draws one modality combination per
    training batch (None: full modalities).
    """

    label: str
    model: str
    model_config: StrictConfig
    train_config: TrainConfig
    sampler: Callable[[Sequence[str]], UniformSampler] | None = None
    tags: dict[str, object] = field(default_factory=dict)

    def columns(self) -> dict[str, object]:
        return self.tags or {"model": self.model, "variant": self.label}


@dataclass
class Experiment:
    """Results of :func:`run_experiment`.

    - ``runs``: one row per arm, seed and split (valid at the selected epoch, test): tags, ``seed``, ``split``,
      ``params`` (the parameters that receive gradient, see :func:`probe_batch`), ``best_epoch``, ``epochs_run``
      and every metric;
    - ``facts``: one row per arm and seed: tags, ``seed``, ``params``, ``best_epoch``, ``epochs_run``, ``seconds``
      (this call's wall time: re-evaluating a finished run is quick) and ``train_seconds`` (the wall time of every
      epoch trained, over all sittings; NaN where a checkpoint of older code did not record it);
    - ``extras``: per evaluator name (and ``sampling`` for sampled arms, each history with its ``best_epoch``) the
      tagged frames of every run;
    - ``results``: ``(label, seed) -> [TrainResult, ...]`` (one per task group) with the trained models (``model``
      None for a run restored from its record, see :func:`run_experiment`);
    - ``predictions``: ``(label, seed) -> {task: test outputs}`` (task groups merged), one row per test utterance of
      the dataset trained on (``train_dataset`` when given), in its order, the outputs the ``runs`` test metrics
      were computed from; for paired comparisons over utterances (see :mod:`mmolre.protocols.paired`);
    - ``train_configs``: ``label -> TrainConfig`` of every arm;
    - ``arms``: ``label -> Arm``.
    """

    runs: pd.DataFrame
    facts: pd.DataFrame
    extras: dict[str, pd.DataFrame]
    results: dict[tuple[str, int], list[TrainResult]]
    predictions: dict[tuple[str, int], dict[str, np.ndarray]]
    train_configs: dict[str, TrainConfig] = field(default_factory=dict)
    arms: dict[str, Arm] = field(default_factory=dict)

    def history(self, label: str) -> pd.DataFrame:
        """Per-epoch training history of one arm over its seeds (with a ``seed`` column)."""
        frames = [
            r.history.assign(seed=seed)
            for (arm, seed), results in self.results.items()
            if arm == label
            for r in results
        ]
        return pd.concat(frames, ignore_index=True)

    def model(self, label: str, seed: int) -> AffectModel:
        """The trained (selected) model of one arm and seed (the first task group's for single-task arms);
        ValueError for a run restored from its record, which keeps no weights."""
        model = self.results[(label, seed)][0].model
        if model is None:
            raise ValueError(
                f"run {label} seed {seed} was restored from its record, which keeps no weights; run it with "
                "from_records=False (it is then re-evaluated from its checkpoint, or trained again)"
            )
        return model

    def architecture(self, label: str, seed: int, dataset: MultimodalDataset) -> AffectModel:
        """The model of one arm and seed when it holds its weights, else (a run restored from its record) the same
        architecture built untrained from ``dataset``: only its name, configuration, modalities and tasks mean
        anything then."""
        result = self.results[(label, seed)][0]
        if result.model is not None:
            return result.model
        arm = self.arms[label]
        with torch.random.fork_rng():  # building draws initial weights: leave the caller's random state as it was
            return build_model(arm.model, dataset.dims, result.tasks, arm.model_config, dataset.text_input)

    def best_on_valid(self) -> tuple[str, int]:
        """``(label, seed)`` of the run with the lowest valid selection criterion among the runs that are one model
        (single-task arms, one model per task, are left out); the test split plays no part.

        The criterion (``best_criterion``) averages the task losses with the task weights and measures sentiment
        with the train config's sentiment loss, so it compares across arms only when their train configs share
        :data:`CRITERION_FIELDS` (``sentiment_loss``, ``sentiment_weight``, ``emotion_weight``,
        ``balance_emotions``); when the candidate runs' differ it is a ValueError naming them (e.g. an
        ``emotion_weight`` ablation has no best run)."""
        single = {key: results[0] for key, results in self.results.items() if len(results) == 1}
        if not single:
            raise ValueError("no run of one model to choose from (only single-task arms ran)")
        settings = {
            label: {name: getattr(self.train_configs[label], name) for name in CRITERION_FIELDS}
            for label in dict.fromkeys(label for label, _ in single)
            if label in self.train_configs
        }
        if len({tuple(values.values()) for values in settings.values()}) > 1:
            raise ValueError(
                "best_on_valid: the arms' selection criteria do not compare, their train configs differ in "
                f"{', '.join(CRITERION_FIELDS)}: {settings}"
            )
        return min(single, key=lambda key: (single[key].best_criterion, key))


def arm_config(name: str, model_config: StrictConfig, overrides: Mapping[str, object] | None = None) -> StrictConfig:
    """The configuration of the registered model ``name``'s arm: ``model_config`` with ``overrides`` when the model
    takes its class, else its own family's defaults with ``overrides`` (so one experiment may mix families); an
    unknown field or a value of the wrong type is a ValueError naming it."""
    wanted = config_class(name)
    overrides = dict(overrides or {})
    if isinstance(model_config, wanted):
        return model_config.replace(**overrides) if overrides else model_config
    return wanted.from_dict(overrides)


def model_arms(
    names: Sequence[str],
    model_config: StrictConfig,
    train_config: TrainConfig,
    arm_configs: Mapping[str, Mapping[str, object]] | None = None,
) -> list[Arm]:
    """One arm per registered model name, labelled by the name, each with its own configuration
    (:func:`arm_config`: ``model_config``, or ``arm_configs[name]``'s overrides of it or of the model's family)."""
    unknown = sorted(set(arm_configs or {}) - set(names))
    if unknown:
        raise ValueError(f"arm_configs names model(s) {unknown} that are not arms ({', '.join(names)})")
    configs = {name: arm_config(name, model_config, (arm_configs or {}).get(name)) for name in names}
    return [Arm(name, name, configs[name], train_config) for name in names]


def probe_batch(dataset: MultimodalDataset, size: int = 64) -> dict[str, torch.Tensor]:
    """A training batch whose rows cycle through every available modality combination, so that every parameter
    that any combination trains receives gradient in one step (used to count the parameters that can learn)."""
    batch = next(iter(dataset.loader("train", batch_size=min(size, len(dataset.splits["train"])))))
    combinations = available_combinations(dataset.modalities)
    keep = torch.stack([combination_mask(combinations[i % len(combinations)]) for i in range(len(batch["mask"]))])
    return {**batch, "mask": batch["mask"].bool() & keep}


def run_name(label: str, tasks: Sequence[str], seed: int) -> str:
    """The name of one model's run, ``<label>-<task+task>-seed<seed>``: its checkpoint folder and record."""
    return f"{label}-{'+'.join(tasks)}-seed{seed}"


def _rows(tags: Mapping[str, object], seed: int, params: int, results: Sequence[TrainResult]) -> list[dict]:
    """One valid and one test row; metrics of several single-task results are merged."""
    rows = []
    for split in ("valid", "test"):
        row: dict[str, object] = {
            **tags,
            "seed": seed,
            "split": split,
            "params": params,
            "best_epoch": results[0].best_epoch if len(results) == 1 else np.nan,
            "epochs_run": sum(r.epochs_run for r in results),
        }
        for result in results:
            metrics = result.valid_metrics if split == "valid" else result.test_metrics
            row.update({k: v for k, v in metrics.items() if k not in ("train_loss", "valid_loss")})
        rows.append(row)
    return rows


def _sampler_hook(
    sampler: UniformSampler, dataset: MultimodalDataset, checkpoint: Path | None, distributed: Distributed | None
) -> Callable[[torch.nn.Module, int], None]:
    """The epoch hook of a sampled arm: the sampler's update, then (with a checkpoint, on rank 0) its saved state."""
    saves = checkpoint is not None and (distributed is None or distributed.is_main)

    def hook(model: torch.nn.Module, epoch: int) -> None:
        sampler.update(model, dataset)
        if saves:
            save_sampler_state(sampler, checkpoint, epoch)

    return hook


def _tag(frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    return frame.assign(**columns)[[*columns, *frame.columns]]


def check_arms(arms: Sequence[Arm], seeds: Sequence[int]) -> None:
    """What :func:`run_experiment` refuses before anything trains: repeated arm labels or seeds (two runs would
    share a checkpoint folder), and an arm with a sampler whose train_config also drops modalities."""
    labels = [arm.label for arm in arms]
    if len(set(labels)) != len(labels):
        raise ValueError(f"arm labels must be distinct, got {labels}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    for arm in arms:
        if arm.sampler is not None and arm.train_config.modality_dropout > 0:
            raise ValueError(
                f"arm {arm.label!r}: its sampler draws the modality combination of every training batch, and its "
                f"train_config.modality_dropout = {arm.train_config.modality_dropout} would drop modalities on top of "
                "that draw (set modality_dropout to 0 for an arm with a sampler)"
            )


def run_experiment(
    arms: Sequence[Arm],
    dataset: MultimodalDataset,
    seeds: Sequence[int] = SEEDS,
    evaluators: Mapping[str, Evaluator] | None = None,
    train_dataset: MultimodalDataset | None = None,
    checkpoint_root: str | Path | None = None,
    resume: bool = False,
    distributed: Distributed | None = None,
    records: str | Path | None = None,
    from_records: bool = False,
) -> Experiment:
    """Train every arm under every seed and evaluate it.

    ``train_dataset`` (default ``dataset``) is what training and model selection see (e.g. a valid split replicated
    under every modality condition); ``evaluators`` run on each trained model with ``dataset``. With
    ``checkpoint_root`` every run checkpoints to ``<root>/<label>-<tasks>-seed<seed>`` after each epoch, and with
    ``resume`` an interrupted run continues where it stopped (a finished one is only re-evaluated). With
    ``distributed`` every run trains data-parallel (see :mod:`mmolre.train.distributed`); every process gets the
    same results. A sampled arm's sampler state is kept beside its checkpoint (:mod:`mmolre.protocols.sampler_state`)
    and restored with it. An arm with a sampler and ``modality_dropout > 0`` in its train_config is a ValueError
    before anything trains (the dropout would change what the sampler drew).

    With ``records`` (a folder, e.g. ``reports/<profile>/runs/models``) every finished run of an arm without
    evaluators or sampler writes its record there (:mod:`mmolre.train.records`: everything but the weights); with
    ``from_records`` too, such a run whose record is there is restored from it (``model`` None, ``seconds`` ~0)
    instead of being trained or re-evaluated, so that runs trained elsewhere count without their checkpoints.
    """
    check_arms(arms, seeds)
    trained_on = train_dataset or dataset
    labels = [arm.label for arm in arms]
    rows, facts, results, predictions = [], [], {}, {}
    extras: dict[str, list[pd.DataFrame]] = {}
    for arm in arms:
        groups = task_groups(arm.model, dataset.tasks)
        if len(groups) > 1 and (evaluators or arm.sampler):
            raise ValueError(f"arm {arm.label!r}: single-task arms take no evaluators or sampler")
        recorded = records is not None and not evaluators and arm.sampler is None
        for number, seed in enumerate(seeds, start=labels.index(arm.label) * len(seeds) + 1):
            progress(f"{arm.label} seed {seed} ({number}/{len(labels) * len(seeds)})")
            started = time.perf_counter()
            runs, params, frames = [], 0, {}
            for group in groups:
                set_seed(seed)
                model = build_model(arm.model, dataset.dims, group, arm.model_config, dataset.text_input)
                name = run_name(arm.label, group, seed)
                if recorded:
                    identity = record_identity(model, trained_on, arm.train_config, seed)
                    restored = read_record(Path(records), name, identity, trained_on) if from_records else None
                    if restored is not None:
                        result, count = restored
                        runs.append(result)
                        params += count
                        continue
                sampler = None if arm.sampler is None else arm.sampler(dataset.modalities)
                checkpoint = None
                if checkpoint_root is not None:
                    checkpoint = Path(checkpoint_root) / name
                    if sampler is not None and resume:
                        restore_sampler_state(sampler, checkpoint)
                result = train_model(
                    model,
                    trained_on,
                    arm.train_config,
                    seed,
                    checkpoint_dir=checkpoint,
                    resume=resume and checkpoint is not None,
                    distributed=distributed,
                    batch_hook=None if sampler is None else combination_hook(sampler),
                    epoch_hook=None if sampler is None else _sampler_hook(sampler, dataset, checkpoint, distributed),
                )
                runs.append(result)
                count = trained_parameter_count(result.model, probe_batch(dataset))
                params += count
                if recorded and (distributed is None or distributed.is_main):
                    write_record(Path(records), name, result, identity, count)
                frames = {key: evaluate(result.model, dataset) for key, evaluate in (evaluators or {}).items()}
                if sampler is not None:  # with the epoch whose model is reported (see dpft_trajectory)
                    frames["sampling"] = sampler.history.assign(best_epoch=result.best_epoch)
            tags = arm.columns()
            rows.extend(_rows(tags, seed, params, runs))
            facts.append(
                {
                    **tags,
                    "seed": seed,
                    "params": params,
                    "best_epoch": runs[0].best_epoch,
                    "epochs_run": sum(r.epochs_run for r in runs),
                    "seconds": time.perf_counter() - started,
                    "train_seconds": sum(r.train_seconds for r in runs),
                }
            )
            for evaluator, frame in frames.items():
                if len(frame):
                    extras.setdefault(evaluator, []).append(_tag(frame, **tags, seed=seed))
            results[(arm.label, seed)] = runs
            predictions[(arm.label, seed)] = {task: v for r in runs for task, v in r.test_predictions.items()}
    return Experiment(
        pd.DataFrame(rows),
        pd.DataFrame(facts),
        {name: pd.concat(parts, ignore_index=True) for name, parts in extras.items()},
        results,
        predictions,
        {arm.label: arm.train_config for arm in arms},
        {arm.label: arm for arm in arms},
    )
