"""Models: the model contract, MMoLRE and its baselines, MCULoRA, one registry, and inspection helpers."""

from mmolre.models.base import AffectModel, ModelOutput, eval_mode
from mmolre.models.inspection import count_parameters, example_batch, model_table, parameter_breakdown, trace_shapes
from mmolre.models.mculora import MCULoRA
from mmolre.models.mculora_config import MCULoRAConfig
from mmolre.models.mmolre import MultitaskModel
from mmolre.models.mmolre_config import ModelConfig
from mmolre.models.registry import METHOD_NAMES, METHODS, MODEL_NAMES, build_model, config_class

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "MODEL_NAMES",
    "AffectModel",
    "MCULoRA",
    "MCULoRAConfig",
    "ModelConfig",
    "ModelOutput",
    "MultitaskModel",
    "build_model",
    "config_class",
    "count_parameters",
    "eval_mode",
    "example_batch",
    "model_table",
    "parameter_breakdown",
    "trace_shapes",
]
