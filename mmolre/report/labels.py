"""Readable names of models and incomplete-modality methods, as tables and figures show them."""

from __future__ import annotations

METHOD_NAMES: dict[str, str] = {
    "mmolre": "MMoLRE",
    "single_task": "single-task (x2)",
    "hard_sharing": "hard sharing",
    "linear_head": "encoder + linear head",
    "moe_full": "MoE, full rank",
    "mmoe_full": "MMoE, full rank",
    "mculora": "MCULoRA",
    "mculora_js": "MCULoRA (DPFT, April JS rule)",
    "mculora_acc": "MCULoRA (DPFT, August accuracy rule)",
    "mculora_fusion_js": "MCLA + fusion-JS DPFT",
    "mcla_inline": "inline MCLA without DPFT",
    "mcla_uniform": "MCLA without DPFT",
    "dropout_uniform": "uniform modality dropout",
    "full_only": "full modalities only",
    "mmolre_dropout": "MMoLRE + modality dropout",
}


def method_label(name: str) -> str:
    """The readable name of a model or incomplete-modality method (the name itself when it has none)."""
    return METHOD_NAMES.get(name, name)
