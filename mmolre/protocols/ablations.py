"""The standard MMoLRE ablation grids as experiment arms (one factor at a time around a base configuration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from mmolre.models.mmolre_config import ModelConfig
from mmolre.protocols.driver import Arm
from mmolre.protocols.paired import paired_table
from mmolre.train.config import TrainConfig

BLOCK_VARIANTS: dict[str, dict[str, object]] = {
    "mlore": {},  # the default block: MLoRE's form
    "no_out_norm": {"out_norm": False},  # LayerNorm(x + mixture) instead of the norms and GELU
    "no_task_maps": {"task_maps": False},  # no per-task input / output maps
    "no_task_scale": {"task_scale": False},  # a sigmoid gate per position on the task expert
    "no_static_shared": {"static_shared": False},  # no static full-rank shared branch
    "token_routing": {"routing": "token"},  # a linear router per position
    "fixed_noise": {"learned_noise": False},  # router noise of fixed std (router_noise)
    "renormalise_topk": {"renormalise_topk": True},  # softmax over the kept top-k logits only
    "old_block": {  # our block before the MLoRE form, with its load-balance weight
        "out_norm": False,
        "task_maps": False,
        "task_scale": False,
        "static_shared": False,
        "routing": "token",
        "learned_noise": False,
        "renormalise_topk": True,
        "load_balance": 0.01,
    },
}
"""One name per switch of the block (:class:`~mmolre.models.mmolre_config.ModelConfig` changes around the base), and
``old_block`` with every switch at our earlier choice."""

ABLATIONS: dict[str, tuple[object, ...]] = {
    "n_shared": (1, 2, 4, 8, 16),
    "rank": (4, 8, 16, 32, 64),
    "blocks": (1, 2),
    "experts": ("shared+specific", "no_shared", "no_specific"),
    "emotion_weight": (0.25, 0.5, 1.0, 2.0, 4.0),
    "block": tuple(BLOCK_VARIANTS),
    "load_balance": (0.0, 1e-4, 3e-4, 1e-3, 1e-2),
}
"""The standard grids (``rank`` sets every shared and task-specific expert rank; ``block`` names the variants of
:data:`BLOCK_VARIANTS`; ``load_balance`` spans MLoRE's 1e-4 to 5e-4 and our earlier 0.01)."""

_EXPERT_VARIANTS = {"shared+specific": "mmolre", "no_shared": "mmolre_no_shared", "no_specific": "mmolre_no_specific"}


def ablation_arms(
    kind: str, model_config: ModelConfig, train_config: TrainConfig, values: Sequence[object] | None = None
) -> list[Arm]:
    """Arms of one ablation (:data:`ABLATIONS` key, default grid unless ``values``); ranks above
    ``model_config.dim`` are left out. Each arm is tagged ``ablation``, ``model``, ``variant``."""
    if kind not in ABLATIONS:
        raise ValueError(f"unknown ablation {kind!r}; expected one of {sorted(ABLATIONS)}")
    values = tuple(ABLATIONS[kind] if values is None else values)
    if kind == "experts":
        unknown = [v for v in values if v not in _EXPERT_VARIANTS]
        if unknown:
            raise ValueError(f"unknown expert variant(s) {unknown}; expected {sorted(_EXPERT_VARIANTS)}")
        variants = [(str(v), _EXPERT_VARIANTS[str(v)], {}, {}) for v in values]
    elif kind == "n_shared":
        variants = [(f"n_shared={n}", "mmolre", {"n_shared": int(n)}, {}) for n in values]
    elif kind == "rank":
        variants = [
            (f"rank={r}", "mmolre", {"shared_ranks": (int(r),), "specific_rank": int(r)}, {})
            for r in values
            if int(r) <= model_config.dim
        ]
    elif kind == "blocks":
        variants = [(f"blocks={b}", "mmolre", {"blocks": int(b)}, {}) for b in values]
    elif kind == "block":
        unknown = [v for v in values if v not in BLOCK_VARIANTS]
        if unknown:
            raise ValueError(f"unknown block variant(s) {unknown}; expected {sorted(BLOCK_VARIANTS)}")
        variants = [(str(v), "mmolre", BLOCK_VARIANTS[str(v)], {}) for v in values]
    elif kind == "load_balance":
        variants = [(f"load_balance={w:g}", "mmolre", {"load_balance": float(w)}, {}) for w in values]
    else:
        variants = [(f"emotion_weight={w}", "mmolre", {}, {"emotion_weight": float(w)}) for w in values]
    return [
        Arm(
            label,
            model,
            model_config.replace(**model_changes),
            train_config.replace(**train_changes),
            tags={"ablation": kind, "model": model, "variant": label},
        )
        for label, model, model_changes, train_changes in variants
    ]


def base_arm(arms: Sequence[Arm], model_config: ModelConfig, train_config: TrainConfig) -> str | None:
    """The label of the arm that *is* the base configuration (MMoLRE with ``model_config`` and ``train_config``),
    or None when the grid leaves it out."""
    for arm in arms:
        if arm.model == "mmolre" and arm.model_config == model_config and arm.train_config == train_config:
            return arm.label
    return None


def paired_ablations(
    runs: Mapping[str, pd.DataFrame],
    grid: Mapping[str, Sequence[object]],
    model_config: ModelConfig,
    train_config: TrainConfig,
    split: str = "test",
) -> pd.DataFrame:
    """Per ablation (``runs``: kind -> its run table, ``grid``: kind -> the values run), the base configuration
    against every other variant, paired over the seeds both ran (:func:`~mmolre.protocols.paired.paired_table`),
    tagged with the ``ablation``. A kind whose grid leaves out the base configuration has nothing to pair with and is
    left out."""
    tables = []
    for kind, frame in runs.items():
        reference = base_arm(ablation_arms(kind, model_config, train_config, grid[kind]), model_config, train_config)
        if reference is not None:
            table = paired_table(frame, reference=reference, by="variant", split=split)
            tables.append(table.assign(ablation=kind)[["ablation", *table.columns]])
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
