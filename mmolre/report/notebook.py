"""The set-up cell every training notebook shares: reporter, dataset, configurations, and what is real."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmolre.config import StrictConfig
from mmolre.data.dataset import MultimodalDataset
from mmolre.data.load import load_dataset
from mmolre.models.registry import config_class
from mmolre.report.reporter import Reporter
from mmolre.train.config import TrainConfig


@dataclass
class NotebookContext:
    """What a notebook works with after :func:`setup_notebook`."""

    reporter: Reporter
    data: MultimodalDataset
    model_config: StrictConfig
    train_config: TrainConfig


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
) -> NotebookContext:
    """Load the dataset, build the configurations of ``model``'s family and training, print what is real.

    ``model_config`` / ``train_config`` are overrides of the defaults (unknown names are errors); ``epochs``, when
    given, overrides the training epochs.
    """
    data = load_dataset(dataset, data_dir=data_dir or None, **dict(dataset_options or {}))
    mconfig = config_class(model).from_dict(dict(model_config or {}))
    tconfig = TrainConfig.from_dict({**dict(train_config or {}), **({} if epochs is None else {"epochs": epochs})})
    if echo:
        print(data.statement())
        print("sizes:", data.sizes(), "| seeds:", list(seeds))
    return NotebookContext(Reporter(profile), data, mconfig, tconfig)
