"""The set-up cell every training notebook shares: reporter, dataset, configurations, and what is real."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmolre.config import StrictConfig
from mmolre.data.dataset import MultimodalDataset
from mmolre.data.load import load_dataset
from mmolre.models.registry import config_class
from mmolre.paths import cache_dir, records_dir
from mmolre.protocols.driver import Arm, Experiment, run_experiment
from mmolre.report.reporter import Reporter
from mmolre.train.config import TrainConfig


@dataclass
class NotebookContext:
    """What a notebook works with after :func:`setup_notebook`."""

    reporter: Reporter
    data: MultimodalDataset
    model_config: StrictConfig
    train_config: TrainConfig
    checkpoints: Path | None = None
    records: Path | None = None

    def run(self, arms: Sequence[Arm], seeds: Sequence[int], from_records: bool = False) -> Experiment:
        """:func:`run_experiment` on this notebook's data; with checkpoints, interrupted runs resume and finished
        ones write their records; ``from_records`` restores a run from its record (no weights) where there is one."""
        return run_experiment(
            arms,
            self.data,
            seeds,
            checkpoint_root=self.checkpoints,
            resume=self.checkpoints is not None,
            records=self.records,
            from_records=from_records,
        )


def setup_notebook(
    profile: str,
    dataset: str,
    data_dir: str = "",
    dataset_options: Mapping[str, object] | None = None,
    model_config: Mapping[str, object] | None = None,
    train_config: Mapping[str, object] | None = None,
    epochs: int | None = None,
    seeds: Sequence[int] = (),
    model: str = "mmolre",
    echo: bool = True,
    checkpoints: str = "",
) -> NotebookContext:
    """Load the dataset, build the configurations of ``model``'s family and training, print what is real.

    ``model_config`` / ``train_config`` are overrides of the defaults (unknown names are errors); ``epochs``, when
    given, overrides the training epochs. ``checkpoints`` (a folder name, e.g. the notebook's) keeps per-epoch
    checkpoints under ``cache_dir()/runs/<profile>/<checkpoints>`` so that a rerun after an interruption continues
    where it stopped; notebooks given the same folder share runs (a run that matches a finished checkpoint is only
    re-evaluated; one that does not match it is a CheckpointError naming the difference), and every finished run
    (of an arm without evaluators or sampler) writes its record to ``reports/<profile>/runs/<checkpoints>/`` (see
    :mod:`mmolre.train.records`), which the repository keeps.
    """
    data = load_dataset(dataset, data_dir=data_dir or None, **dict(dataset_options or {}))
    mconfig, tconfig = section_configs(model, model_config, train_config, epochs)
    if echo:
        print(data.statement())
        print("sizes:", data.sizes(), "| seeds:", list(seeds))
    folder, records = run_folders(profile, checkpoints)
    return NotebookContext(Reporter(profile), data, mconfig, tconfig, folder, records)


def section_configs(
    model: str,
    model_config: Mapping[str, object] | None,
    train_config: Mapping[str, object] | None,
    epochs: int | None = None,
) -> tuple[StrictConfig, TrainConfig]:
    """The configurations of ``model``'s family and of training from a section's overrides (``epochs``, when
    given, overrides the training epochs); an unknown name is a ValueError naming it."""
    mconfig = config_class(model).from_dict(dict(model_config or {}))
    tconfig = TrainConfig.from_dict({**dict(train_config or {}), **({} if epochs is None else {"epochs": epochs})})
    return mconfig, tconfig


def run_folders(profile: str, checkpoints: str) -> tuple[Path | None, Path | None]:
    """A section's per-epoch checkpoint root (``cache_dir()/runs/<profile>/<checkpoints>``) and records folder
    (``reports/<profile>/runs/<checkpoints>``); both None without a checkpoint folder name."""
    if not checkpoints:
        return None, None
    return cache_dir() / "runs" / profile / checkpoints, records_dir(profile) / checkpoints
