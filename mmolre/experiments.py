"""Multi-seed experiments: model comparisons, ablation sweeps and routing-weight extraction.

Every run is ``set_seed(seed)`` -> ``build_model`` -> :func:`mmolre.training.train_model`, so two models
compared under the same seed start from the same data order and seeds. Results are long-form DataFrames
(one row per model/variant, seed and split) that :func:`summary_table` turns into ``mean ± std`` tables.
The tasks are those the dataset labels: sentiment always, emotions only when the dataset has them (CMU-MOSI
has no emotion labels, so MER is reported on CMU-MOSEI only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .dataset import MODALITIES, MultimodalDataset
from .models import ModelConfig, build_model, count_parameters
from .reporting import mean_std
from .training import SEEDS, TrainConfig, TrainResult, set_seed, train_model

ID_COLUMNS: tuple[str, ...] = ("model", "variant", "seed", "split", "params", "best_epoch", "epochs_run")
SINGLE_TASK = "single_task"


def dataset_tasks(dataset: MultimodalDataset) -> tuple[str, ...]:
    """``("sentiment", "emotion")`` when the dataset has emotion labels, else ``("sentiment",)``."""
    return ("sentiment", "emotion") if dataset.has_emotions else ("sentiment",)


def modality_statement(dataset: MultimodalDataset) -> str:
    """A plain sentence on which modalities are real, which are synthetic and which are absent."""
    real = [m for m in dataset.modalities if m in dataset.real_modalities]
    synthetic = [m for m in dataset.modalities if m not in dataset.real_modalities]
    absent = [m for m in MODALITIES if m not in dataset.modalities]
    parts = [f"{dataset.name}: real modalities: {', '.join(real) or 'none'}"]
    if synthetic:
        parts.append(f"synthetic modalities: {', '.join(synthetic)}")
    parts.append(f"absent: {', '.join(absent) or 'none'}")
    tasks = " + ".join(dataset_tasks(dataset))
    return "; ".join(parts) + f"; tasks: {tasks}.\n{dataset.description}"


def train_one(name: str, dataset: MultimodalDataset, model_config: ModelConfig, train_config: TrainConfig,
              seed: int, tasks: tuple[str, ...] | None = None, checkpoint_dir: str | Path | None = None) -> TrainResult:
    """Seed, build ``name`` for ``tasks`` (default: the dataset's) and train it."""
    set_seed(seed)
    model = build_model(name, dataset.dims, tasks or dataset_tasks(dataset), model_config)
    return train_model(model, dataset, train_config, seed, checkpoint_dir=checkpoint_dir)


def result_rows(model: str, variant: str, seed: int, params: int, results: Sequence[TrainResult]) -> list[dict[str, object]]:
    """One valid and one test row; metrics of several single-task results are merged (their tasks are disjoint)."""
    rows = []
    for split in ("valid", "test"):
        row: dict[str, object] = {"model": model, "variant": variant, "seed": seed, "split": split, "params": params,
                                  "best_epoch": results[0].best_epoch if len(results) == 1 else np.nan,
                                  "epochs_run": sum(r.epochs_run for r in results)}
        for result in results:
            metrics = result.valid_metrics if split == "valid" else result.test_metrics
            row.update({k: v for k, v in metrics.items() if k not in ("train_loss", "valid_loss")})
        rows.append(row)
    return rows


def run_variant(name: str, dataset: MultimodalDataset, model_config: ModelConfig, train_config: TrainConfig,
                seed: int, variant: str = "", checkpoint_root: str | Path | None = None) -> list[dict[str, object]]:
    """Rows for one model under one seed; ``single_task`` trains one model per task and sums their parameters."""
    tasks = dataset_tasks(dataset)
    groups = [(task,) for task in tasks] if name == SINGLE_TASK else [tasks]
    results = []
    for group in groups:
        checkpoint = None
        if checkpoint_root is not None:
            checkpoint = Path(checkpoint_root) / f"{name}{'-' + variant if variant else ''}-{'+'.join(group)}-seed{seed}"
        results.append(train_one(name, dataset, model_config, train_config, seed, group, checkpoint))
    params = sum(count_parameters(result.model) for result in results)
    return result_rows(name, variant or name, seed, params, results)


def run_models(model_names: Iterable[str], dataset: MultimodalDataset, model_config: ModelConfig,
               train_config: TrainConfig, seeds: Sequence[int] = SEEDS,
               checkpoint_root: str | Path | None = None) -> pd.DataFrame:
    """Train every model under every seed; long-form rows (model, seed, split, params, every metric)."""
    rows = []
    for name in model_names:
        for seed in seeds:
            rows.extend(run_variant(name, dataset, model_config, train_config, seed, checkpoint_root=checkpoint_root))
    return pd.DataFrame(rows)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a long-form result frame (everything numeric that is not an id column)."""
    return [c for c in frame.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]


def summary_table(frame: pd.DataFrame, split: str = "test", by: Sequence[str] = ("variant",),
                  metrics: Sequence[str] | None = None, digits: int = 3) -> pd.DataFrame:
    """``mean ± std`` over seeds of every metric on one split, one row per ``by`` group, with parameter count."""
    part = frame[frame["split"] == split]
    table = mean_std(part, list(by), list(metrics or metric_columns(part)), digits=digits)
    params = part.groupby(list(by), sort=False)["params"].first().reset_index()
    return params.merge(table, on=list(by))


# ----------------------------------------------------------------------------------------------- ablations

Variant = tuple[str, str, dict[str, object], dict[str, object]]
"""(label, model name, ModelConfig overrides, TrainConfig overrides)."""


ABLATIONS: dict[str, tuple[object, ...]] = {
    "n_shared": (1, 2, 4, 8, 16),
    "rank": (4, 8, 16, 32, 64),
    "blocks": (1, 2),
    "experts": ("shared+specific", "no_shared", "no_specific"),
    "emotion_weight": (0.25, 0.5, 1.0, 2.0, 4.0),
}
"""The standard MMoLRE ablation grids (``rank`` sets every shared and task-specific expert rank)."""

_EXPERT_VARIANTS = {"shared+specific": "mmolre", "no_shared": "mmolre_no_shared", "no_specific": "mmolre_no_specific"}


def ablation_variants(kind: str, model_config: ModelConfig, values: Sequence[object] | None = None) -> list[Variant]:
    """Variants of one ablation (:data:`ABLATIONS` key); ranks above ``model_config.dim`` are left out."""
    if kind not in ABLATIONS:
        raise ValueError(f"unknown ablation {kind!r}; expected one of {sorted(ABLATIONS)}")
    values = tuple(ABLATIONS[kind] if values is None else values)
    if kind == "n_shared":
        return [(f"n_shared={n}", "mmolre", {"n_shared": int(n)}, {}) for n in values]
    if kind == "rank":
        return [(f"rank={r}", "mmolre", {"shared_ranks": (int(r),), "specific_rank": int(r)}, {})
                for r in values if int(r) <= model_config.dim]
    if kind == "blocks":
        return [(f"blocks={b}", "mmolre", {"blocks": int(b)}, {}) for b in values]
    if kind == "experts":
        unknown = [v for v in values if v not in _EXPERT_VARIANTS]
        if unknown:
            raise ValueError(f"unknown expert variant(s) {unknown}; expected {sorted(_EXPERT_VARIANTS)}")
        return [(str(v), _EXPERT_VARIANTS[str(v)], {}, {}) for v in values]
    return [(f"emotion_weight={w}", "mmolre", {}, {"emotion_weight": float(w)}) for w in values]


def run_ablation(variants: Sequence[Variant], dataset: MultimodalDataset, model_config: ModelConfig,
                 train_config: TrainConfig, seeds: Sequence[int] = SEEDS, ablation: str = "") -> pd.DataFrame:
    """Train every variant under every seed; long-form rows with ``ablation`` and ``variant`` columns."""
    rows = []
    for label, name, model_overrides, train_overrides in variants:
        mconfig = model_config.replace(**model_overrides)
        tconfig = train_config.replace(**train_overrides)
        for seed in seeds:
            rows.extend(run_variant(name, dataset, mconfig, tconfig, seed, variant=label))
    frame = pd.DataFrame(rows)
    frame.insert(0, "ablation", ablation)
    return frame


# ----------------------------------------------------------------------------------------------- routing


def _flatten_routing(weights: object, prefix: tuple[object, ...] = ()) -> dict[tuple[object, ...], torch.Tensor]:
    """Flatten nested dicts/lists of routing tensors into ``{(key, ...): (n_experts,) tensor}``."""
    if isinstance(weights, torch.Tensor):
        return {prefix: weights.detach().float().cpu().reshape(-1, weights.shape[-1]).mean(dim=0)}
    items = weights.items() if isinstance(weights, dict) else enumerate(weights)
    flat: dict[tuple[object, ...], torch.Tensor] = {}
    for key, value in items:
        flat.update(_flatten_routing(value, prefix + (key if isinstance(key, tuple) else (key,))))
    return flat


def routing_table(model: nn.Module, dataset: MultimodalDataset, split: str = "test", batch_size: int = 512) -> pd.DataFrame:
    """Mean router weight per (router, expert) over a split, from ``model.routing_weights()`` after each batch.

    Columns: ``router`` (the task, with the block when the model has several), ``expert``, ``weight``.
    Empty when the model has no router.
    """
    if not hasattr(model, "routing_weights"):
        return pd.DataFrame(columns=["router", "expert", "weight"])
    sums: dict[tuple[object, ...], torch.Tensor] = {}
    total = 0
    for batch in dataset.loader(split, batch_size=batch_size):
        _forward(model, batch)
        size = len(batch["sentiment"])
        for key, value in _flatten_routing(model.routing_weights()).items():
            sums[key] = sums.get(key, 0) + value * size
        total += size
    rows = []
    for key, value in sums.items():
        router = "/".join(str(part) for part in key) or "router"
        rows.extend({"router": router, "expert": i, "weight": float(w)} for i, w in enumerate(value / total))
    return pd.DataFrame(rows, columns=["router", "expert", "weight"])


def _forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> None:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model({k: v.to(device) for k, v in batch.items()})
    model.train(was_training)
