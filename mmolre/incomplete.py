"""The incomplete-modality protocol: fixed test conditions, random missing rates, method comparison, rank ablation.

Conditions are :data:`mmolre.metrics.CONDITIONS` (a = audio, t = text, v = vision); a condition needing a
modality the dataset lacks is reported as not applicable (NaN metrics, ``applicable = False``) and left out
of the ``avg`` row. Random missing rate ``r``: every available modality of every test sample is dropped with
probability ``r`` (seeded), keeping at least one. Methods (all trained with :func:`mmolre.training.train_model`,
selection on the valid split only):

- ``mculora``: MCULoRA (MCLA layers) with DPFT combination sampling;
- ``mcla_uniform``: MCULoRA with uniform combination sampling (no DPFT);
- ``dropout_uniform``: the same backbone with plain linear layers (rank 0), uniform combination sampling;
- ``full_only``: the same plain backbone trained on full modalities only;
- ``mmolre_dropout``: the MMoLRE model of :mod:`mmolre.models` with uniform combination sampling.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from .dataset import MODALITIES, MultimodalDataset, SplitData
from .dpft import DPFTScheduler, UniformSampler, combination_hook
from .experiments import dataset_tasks
from .mcla import combination_mask, combination_modalities
from .mculora import MCULoRAConfig, build_mculora
from .metrics import CONDITIONS
from .models import ModelConfig, build_model, count_parameters
from .reporting import mean_std
from .training import SEEDS, TrainConfig, evaluate, set_seed, train_model

METHODS: tuple[str, ...] = ("mculora", "mcla_uniform", "dropout_uniform", "full_only", "mmolre_dropout")
RATES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
SUMMARY_METRICS: tuple[str, ...] = ("acc2_non0", "f1_non0", "mae", "corr", "emo_wa", "emo_f1")


@dataclass
class IncompleteConfig:
    """Everything :func:`run_incomplete` needs besides the dataset, methods and seeds."""

    model: MCULoRAConfig = field(default_factory=MCULoRAConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mmolre: ModelConfig = field(default_factory=ModelConfig)
    dpft_step: float = 0.05
    dpft_band: tuple[float, float] = (0.5, 2.0)
    rates: tuple[float, ...] = RATES
    missing_seed: int = 0
    select_on_conditions: bool = True  # model selection on the valid split replicated under every condition


def applicable(condition: str, dataset: MultimodalDataset) -> bool:
    """Whether every modality of ``condition`` exists in ``dataset``."""
    return set(combination_modalities(condition)) <= set(dataset.modalities)


def evaluate_conditions(model: nn.Module, dataset: MultimodalDataset, split: str = "test") -> pd.DataFrame:
    """One row per condition of :data:`CONDITIONS` plus ``avg`` (mean over applicable conditions)."""
    rows = []
    for condition in CONDITIONS:
        if applicable(condition, dataset):
            rows.append({"condition": condition, "applicable": True,
                         **evaluate(model, dataset, split, mask_override=combination_mask(condition))})
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


def _zero_missing(features: dict[str, torch.Tensor], mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Features with every modality that ``mask`` (n, 3) marks missing set to zero, per sample."""
    return {m: values * mask[:, MODALITIES.index(m), None, None].to(values.dtype) for m, values in features.items()}


def with_mask(dataset: MultimodalDataset, split: str, mask: torch.Tensor) -> MultimodalDataset:
    """A copy of ``dataset`` whose ``split`` has the given per-sample mask (dropped features zeroed)."""
    data = dataset.splits[split]
    features = _zero_missing(data.features, mask)
    splits = {**dataset.splits, split: SplitData(features, mask.clone(), data.sentiment, data.emotions, data.ids)}
    return MultimodalDataset(dataset.name, splits, dataset.real_modalities, dataset.description, dataset.notes)


def conditions_split(dataset: MultimodalDataset, split: str = "valid") -> MultimodalDataset:
    """A copy of ``dataset`` whose ``split`` is replicated once per applicable condition (other modalities zeroed).

    Training on it selects the epoch by the mean valid loss over the conditions instead of full modalities.
    """
    data = dataset.splits[split]
    conditions = [c for c in CONDITIONS if applicable(c, dataset)]
    masks = [data.mask & combination_mask(c) for c in conditions]
    mask = torch.cat(masks)
    features = _zero_missing({m: values.repeat(len(conditions), 1, 1) for m, values in data.features.items()}, mask)
    emotions = None if data.emotions is None else data.emotions.repeat(len(conditions), 1)
    ids = [f"{i}|{c}" for c in conditions for i in data.ids]
    replicated = SplitData(features, mask, data.sentiment.repeat(len(conditions)), emotions, ids)
    return MultimodalDataset(dataset.name, {**dataset.splits, split: replicated}, dataset.real_modalities,
                             dataset.description, dataset.notes)


def evaluate_missing_rates(model: nn.Module, dataset: MultimodalDataset, rates: Sequence[float] = RATES,
                           seed: int = 0, split: str = "test") -> pd.DataFrame:
    """One row per missing rate; the drop pattern of each rate is seeded by ``(seed, rate)``."""
    rows = []
    for rate in rates:
        generator = torch.Generator().manual_seed(seed * 1000 + round(rate * 100))
        mask = random_missing_mask(dataset.splits[split].mask, rate, generator)
        rows.append({"rate": rate, **evaluate(model, with_mask(dataset, split, mask), split)})
    return pd.DataFrame(rows)


def build_method(method: str, dataset: MultimodalDataset, config: IncompleteConfig,
                 rank: int | None = None) -> tuple[nn.Module, UniformSampler | None]:
    """The model and the combination sampler (None: full modalities only) of one method."""
    tasks = dataset_tasks(dataset)
    if method == "mmolre_dropout":
        return build_model("mmolre", dataset.dims, tasks, config.mmolre), UniformSampler(dataset.modalities)
    if method not in METHODS:
        raise ValueError(f"unknown incomplete-modality method {method!r}; expected one of {METHODS}")
    model_config = config.model
    if rank is not None:
        model_config = dataclasses.replace(model_config, rank=rank, mlp_rank=2 * rank)
    if method in ("dropout_uniform", "full_only"):
        model_config = dataclasses.replace(model_config, rank=0, mlp_rank=0)
    model = build_mculora(dataset.dims, tasks, model_config)
    if method == "mculora":
        return model, DPFTScheduler(dataset.modalities, config.dpft_step, config.dpft_band)
    return model, (None if method == "full_only" else UniformSampler(dataset.modalities))


@dataclass
class IncompleteResults:
    """Long-form results: per-condition and per-rate metrics, sampling probabilities, run facts."""

    conditions: pd.DataFrame
    missing_rates: pd.DataFrame
    sampling: pd.DataFrame
    runs: pd.DataFrame


def run_method(method: str, dataset: MultimodalDataset, config: IncompleteConfig, seed: int,
               rank: int | None = None) -> dict[str, pd.DataFrame | dict[str, object]]:
    """Train one method under one seed and evaluate it on every condition and missing rate."""
    started = time.perf_counter()
    set_seed(seed)
    model, sampler = build_method(method, dataset, config, rank)
    hook = None if sampler is None else combination_hook(sampler)
    epoch_hook = None if sampler is None else (lambda trained, epoch: sampler.update(trained, dataset))
    training_data = conditions_split(dataset) if config.select_on_conditions else dataset
    result = train_model(model, training_data, config.train, seed, batch_hook=hook, epoch_hook=epoch_hook)
    conditions = evaluate_conditions(result.model, dataset)
    rates = evaluate_missing_rates(result.model, dataset, config.rates, config.missing_seed)
    sampling = sampler.history if sampler is not None else pd.DataFrame()
    run = {"params": count_parameters(model), "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
           "seconds": time.perf_counter() - started}
    return {"conditions": conditions, "missing_rates": rates, "sampling": sampling, "run": run}


def _tag(frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    return frame.assign(**columns)[[*columns, *frame.columns]]


def run_incomplete(methods: Sequence[str], dataset: MultimodalDataset, config: IncompleteConfig | None = None,
                   seeds: Sequence[int] = SEEDS, ranks: Sequence[int | None] = (None,)) -> IncompleteResults:
    """Every method x rank x seed; ``ranks`` other than None override the MCLA rank (MLP rank = 2 x rank)."""
    config = config or IncompleteConfig()
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown incomplete-modality method(s) {unknown}; expected some of {METHODS}")
    parts: dict[str, list[pd.DataFrame]] = {"conditions": [], "missing_rates": [], "sampling": []}
    runs = []
    for method in methods:
        for rank in ranks:
            label = 0 if method in ("dropout_uniform", "full_only") else (config.model.rank if rank is None else rank)
            for seed in seeds:
                out = run_method(method, dataset, config, seed, rank)
                ids = {"method": method, "rank": label, "seed": seed}
                for key in parts:
                    if len(out[key]):
                        parts[key].append(_tag(out[key], **ids))
                runs.append({**ids, **out["run"]})
    frames = {key: pd.concat(value, ignore_index=True) if value else pd.DataFrame() for key, value in parts.items()}
    return IncompleteResults(frames["conditions"], frames["missing_rates"], frames["sampling"], pd.DataFrame(runs))


def summarize(frame: pd.DataFrame, by: Sequence[str] = ("method", "condition"),
              metrics: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """``mean ± std`` over seeds of the metrics present (not-applicable conditions are dropped)."""
    if "applicable" in frame:
        frame = frame[frame["applicable"].astype(bool)]
    present = [m for m in metrics if m in frame.columns and frame[m].notna().any()]
    return mean_std(frame, list(by), present)


def sampling_long(sampling: pd.DataFrame) -> pd.DataFrame:
    """Sampling histories in long form: method, rank, seed, epoch, combination, probability."""
    ids = [c for c in ("method", "rank", "seed", "epoch") if c in sampling.columns]
    return sampling.melt(id_vars=ids, var_name="combination", value_name="probability").dropna(subset=["probability"])


def conditions_matrix(frame: pd.DataFrame, metric: str = "acc2_non0") -> pd.DataFrame:
    """Mean over seeds of one metric: methods as rows, conditions (incl. ``avg``) as columns."""
    kept = frame[frame["applicable"].astype(bool)]
    order = [c for c in (*CONDITIONS, "avg") if c in set(kept["condition"])]
    return kept.pivot_table(index="method", columns="condition", values=metric, aggfunc="mean", sort=False)[order]


def margin(frame: pd.DataFrame, method: str, baseline: str, metric: str = "acc2_non0") -> float:
    """Seed-mean difference on the ``avg`` row (positive = ``method`` better; sign flipped for MAE)."""
    avg = frame[frame["condition"] == "avg"].groupby("method")[metric].mean()
    difference = float(avg[method] - avg[baseline])
    return -difference if metric == "mae" else difference

