"""The incomplete-modality protocol: fixed test conditions, random missing rates, method comparison, rank ablation.

Conditions are :data:`mmolre.modalities.CONDITIONS` (a = audio, t = text, v = vision); a condition needing a
modality the dataset lacks is reported as not applicable (NaN metrics, ``applicable = False``) and left out
of the ``avg`` row. Random missing rate ``r``: every available modality of every test sample is dropped with
probability ``r`` (seeded), keeping at least one. Methods are :data:`mmolre.models.registry.METHODS` (the model
each trains and its combination sampler), all run by :func:`mmolre.protocols.driver.run_experiment` with
selection on the valid split only:

- ``mculora_js`` / ``mculora_acc``: MCULoRA (MCLA layers with decoupled combination streams) with DPFT sampling,
  the April (JS, per-modality Bernoulli) or August (accuracy change) rule (:mod:`mmolre.protocols.dpft`);
- ``mculora_fusion_js``: the same model with our earlier fusion-JS categorical rule (an ablation);
- ``mcla_uniform``: MCULoRA with uniform combination sampling (no DPFT);
- ``mcla_inline``: the per-layer-switch MCLA (combination adapter inline at every layer), uniform sampling;
- ``dropout_uniform``: the same backbone with plain linear layers (rank 0), uniform combination sampling;
- ``full_only``: the same plain backbone trained on full modalities only;
- ``mmolre_dropout``: the MMoLRE model with uniform combination sampling.

Summaries and verdicts of these results: :mod:`mmolre.protocols.incomplete`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmolre.data.dataset import MultimodalDataset
from mmolre.modalities import CONDITIONS, applicable, combination_mask, zero_missing
from mmolre.models.base import AffectModel
from mmolre.models.mculora_config import MCULoRAConfig
from mmolre.models.mmolre_config import ModelConfig
from mmolre.models.registry import METHOD_NAMES, METHODS, config_class
from mmolre.protocols.classes import confusion_frame
from mmolre.protocols.driver import Arm, check_arms, run_experiment
from mmolre.protocols.samplers import SAMPLERS, make_sampler
from mmolre.protocols.workers import check_workers, run_jobs
from mmolre.train.config import SEEDS, TrainConfig
from mmolre.train.evaluation import evaluate

RATES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass
class IncompleteConfig:
    """Everything :func:`run_incomplete` needs besides the dataset, methods and seeds."""

    model: MCULoRAConfig = field(default_factory=MCULoRAConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mmolre: ModelConfig = field(default_factory=ModelConfig)
    sampler_options: dict[str, dict[str, object]] = field(default_factory=dict)  # sampler name -> its options
    rates: tuple[float, ...] = RATES
    missing_seed: int = 0
    select_on_conditions: bool = True  # model selection on the valid split replicated under every condition


def evaluate_conditions(model: AffectModel, dataset: MultimodalDataset, split: str = "test") -> pd.DataFrame:
    """One row per condition of :data:`CONDITIONS` plus ``avg`` (mean over applicable conditions)."""
    rows = []
    for condition in CONDITIONS:
        if applicable(condition, dataset.modalities):
            rows.append(
                {"condition": condition, "applicable": True, **evaluate(model, dataset, split, mask_override=condition)}
            )
        else:
            rows.append({"condition": condition, "applicable": False})
    table = pd.DataFrame(rows)
    metrics = [c for c in table.columns if c not in ("condition", "applicable")]
    average = table.loc[table["applicable"], metrics].mean()
    return pd.concat([table, pd.DataFrame([{"condition": "avg", "applicable": True, **average}])], ignore_index=True)


def random_missing_mask(mask: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Drop each present entry of an (n, 3) mask with probability ``rate``; a row left empty keeps one random one."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"missing rate must be in [0, 1), got {rate}")
    mask = mask.bool()
    kept = mask & (torch.rand(mask.shape, generator=generator) >= rate)
    empty = (~kept.any(dim=1)) & mask.any(dim=1)
    if empty.any():
        scores = torch.rand(mask.shape, generator=generator).masked_fill(~mask, -1.0)
        keep_one = torch.zeros_like(mask)
        keep_one[torch.arange(len(mask)), scores.argmax(dim=1)] = True
        kept[empty] = keep_one[empty]
    return kept


def conditions_split(dataset: MultimodalDataset, split: str = "valid") -> MultimodalDataset:
    """A copy of ``dataset`` whose ``split`` is replicated once per applicable condition (other modalities zeroed).

    Training on it selects the epoch by the mean valid loss over the conditions instead of full modalities.
    """
    data = dataset.splits[split]
    conditions = [c for c in CONDITIONS if applicable(c, dataset.modalities)]
    mask = torch.cat([data.mask & combination_mask(c) for c in conditions])
    tiled = data.repeat(len(conditions))
    ids = [f"{i}|{c}" for c in conditions for i in data.ids]
    return dataset.with_split(
        split, dataclasses.replace(tiled, features=zero_missing(tiled.features, mask), mask=mask, ids=ids)
    )


def evaluate_missing_rates(
    model: AffectModel, dataset: MultimodalDataset, rates: Sequence[float] = RATES, seed: int = 0, split: str = "test"
) -> pd.DataFrame:
    """One row per missing rate; the drop pattern of each rate is seeded by ``(seed, rate)``. A context dataset's
    rows are videos/dialogues: a dropped modality is then missing from every utterance of that video."""
    rows = []
    for rate in rates:
        generator = torch.Generator().manual_seed(seed * 1000 + round(rate * 100))
        mask = random_missing_mask(dataset.splits[split].mask, rate, generator)
        rows.append({"rate": rate, **evaluate(model, dataset.with_mask(split, mask), split)})
    return pd.DataFrame(rows)


def _rank_label(method: str, rank: int | None, config: IncompleteConfig) -> int:
    """The rank a result row is labelled with: 0 for the plain backbone, else the MCLA rank used."""
    if METHODS[method].model == "mculora_plain":
        return 0
    return config.model.rank if rank is None else rank


def method_arm(method: str, config: IncompleteConfig, rank: int | None = None) -> Arm:
    """The experiment arm of one method; ``rank`` overrides the MCLA rank (MLP rank = 2 x rank) with the LoRA
    alphas held at the base configuration's, so the update's size does not change with the rank. Every method sets
    its own modality sampling, so a train config with ``modality_dropout > 0`` is a ValueError."""
    if method not in METHODS:
        raise ValueError(f"unknown incomplete-modality method {method!r}; expected one of {METHOD_NAMES}")
    if config.train.modality_dropout > 0:
        raise ValueError(
            f"method {method!r}: the train config's modality_dropout = {config.train.modality_dropout} would drop "
            "modalities on top of the method's own sampling (full_only: full modalities, the others: one drawn "
            "combination per batch); set modality_dropout to 0"
        )
    spec = METHODS[method]
    model_config: MCULoRAConfig | ModelConfig = config.mmolre
    if config_class(spec.model) is MCULoRAConfig:
        model_config = config.model
        if rank is not None:
            base = config.model
            model_config = base.replace(
                rank=rank,
                mlp_rank=2 * rank,
                alpha=base.alpha or float(base.rank),
                mlp_alpha=base.mlp_alpha or float(base.mlp_rank),
            )
    unknown = sorted(set(config.sampler_options) - set(SAMPLERS))
    if unknown:
        raise ValueError(f"sampler_options: unknown sampler(s) {unknown}; expected some of {tuple(SAMPLERS)}")
    sampler = None
    if spec.sampler is not None:
        sampler = partial(make_sampler, spec.sampler, **config.sampler_options.get(spec.sampler, {}))
    tags = {"method": method, "rank": _rank_label(method, rank, config)}
    return Arm(f"{method}-r{tags['rank']}", spec.model, model_config, config.train, sampler, tags)


@dataclass
class IncompleteResults:
    """Long-form results: per-condition and per-rate metrics, sampling probabilities, run facts, the test
    outputs with every modality the dataset has (``(arm label, seed) -> {task: outputs}``, as
    :attr:`mmolre.protocols.driver.Experiment.predictions`) and, for four-class emotions, the test confusion counts
    of every run (:func:`mmolre.protocols.classes.confusion_frame`; empty otherwise)."""

    conditions: pd.DataFrame
    missing_rates: pd.DataFrame
    sampling: pd.DataFrame
    runs: pd.DataFrame
    predictions: dict[tuple[str, int], dict[str, np.ndarray]]
    classes: pd.DataFrame = field(default_factory=pd.DataFrame)


def run_incomplete(
    methods: Sequence[str],
    dataset: MultimodalDataset,
    config: IncompleteConfig | None = None,
    seeds: Sequence[int] = SEEDS,
    ranks: Sequence[int | None] = (None,),
    checkpoint_root: str | Path | None = None,
    workers: int = 1,
) -> IncompleteResults:
    """Every method x rank x seed; ``ranks`` other than None override the MCLA rank (see :func:`method_arm`). With
    ``checkpoint_root`` every run checkpoints there after each epoch and an interrupted one resumes (its DPFT
    sampler included, see :func:`~mmolre.protocols.driver.run_experiment`). With ``workers`` > 1 that many runs
    (method, rank, seed) train at the same time, each in its own process (:func:`~mmolre.protocols.workers.run_jobs`),
    with the results of one process (the same rows in the same order)."""
    config = config or IncompleteConfig()
    unknown = sorted(set(methods) - set(METHOD_NAMES))
    if unknown:
        raise ValueError(f"unknown incomplete-modality method(s) {unknown}; expected some of {METHOD_NAMES}")
    arms = [method_arm(method, config, rank) for method in methods for rank in ranks]
    check_arms(arms, seeds)  # in this process, before any worker starts
    if check_workers(workers) > 1:
        job = partial(_runs_job, dataset=dataset, config=config, root=checkpoint_root)
        runs = [([method], [rank], [seed]) for method in methods for rank in ranks for seed in seeds]  # arms' order
        return stack_results(run_jobs(job, runs, workers))
    evaluators = {
        "conditions": evaluate_conditions,
        "missing_rates": partial(evaluate_missing_rates, rates=config.rates, seed=config.missing_seed),
        "classes": confusion_frame,
    }
    training = conditions_split(dataset) if config.select_on_conditions else dataset
    experiment = run_experiment(
        arms,
        dataset,
        seeds,
        evaluators,
        train_dataset=training,
        checkpoint_root=checkpoint_root,
        resume=checkpoint_root is not None,
    )
    frames = {
        key: experiment.extras.get(key, pd.DataFrame())
        for key in ("conditions", "missing_rates", "sampling", "classes")
    }
    return IncompleteResults(
        frames["conditions"],
        frames["missing_rates"],
        frames["sampling"],
        experiment.facts,
        experiment.predictions,
        frames["classes"],
    )


def _runs_job(
    job: tuple[Sequence[str], Sequence[int | None], Sequence[int]],
    dataset: MultimodalDataset,
    config: IncompleteConfig,
    root: str | Path | None,
) -> IncompleteResults:
    """One job of :func:`run_incomplete` in a worker: ``job = (methods, ranks, seeds)``, in this process."""
    methods, ranks, seeds = job
    return run_incomplete(methods, dataset, config, seeds, ranks, checkpoint_root=root)


def stack_results(parts: Sequence[IncompleteResults]) -> IncompleteResults:
    """Results of disjoint runs (other methods, other folds) as one, their rows in the order of ``parts``."""

    def rows(name: str) -> pd.DataFrame:
        frames = [getattr(part, name) for part in parts if len(getattr(part, name))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    predictions = {key: value for part in parts for key, value in part.predictions.items()}
    return IncompleteResults(
        rows("conditions"), rows("missing_rates"), rows("sampling"), rows("runs"), predictions, rows("classes")
    )
