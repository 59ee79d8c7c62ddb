"""Looking inside models: parameter counts and per-component breakdowns, measured FLOPs, traced shapes."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmolre.config import StrictConfig
from mmolre.modalities import MODALITIES
from mmolre.models.base import AffectModel, eval_mode, model_device
from mmolre.models.mmolre import ModalityFusion, MultitaskModel, UniTSEStage
from mmolre.models.registry import MMOLRE_FAMILY, build_model, task_groups
from mmolre.nn.mixture import TaskMixture

COMPONENTS: tuple[str, ...] = ("projections", "experts", "maps", "routers", "norms", "fusion", "heads")
"""``maps``: a mixture block's task input / output maps and its static shared convolution."""


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _component(parameter_name: str) -> str:
    parts = parameter_name.split(".")
    if parts[0] in ("projections", "fusion", "heads"):
        return parts[0]
    if "norms" in parts:
        return "norms"
    if "routers" in parts or "gates" in parts:
        return "routers"
    if "in_maps" in parts or "out_maps" in parts or "static" in parts:
        return "maps"
    return "experts"


def _receiving(parameter: nn.Parameter, table: bool, tolerance: float) -> int:
    """Elements whose gradient exceeds ``tolerance``; an embedding table counts whole once any row's does (a batch
    only reaches the rows of the tokens it holds)."""
    if parameter.grad is None:
        return 0
    receiving = parameter.grad.abs() > tolerance
    if table:
        return parameter.numel() if bool(receiving.any()) else 0
    return int(receiving.sum())


def trained_parameter_count(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> int:
    """Parameter elements that receive a non-zero gradient from one training step on ``batch`` (every prediction
    and the auxiliary loss): the parameters that can learn at all (e.g. not the side taps of a temporal kernel over
    length-1 inputs, or a bias that a normalisation cancels). Measured on a float64 copy with a fixed random seed,
    counting gradients above 1e-13 of the largest (genuine ones measured down to 1e-10 of it, float64 rounding noise
    about 1e-16): a gradient that is zero in exact arithmetic comes out as rounding noise, zero or not depending on
    the CPU, so an exact-zero test would differ between machines. A model that cannot run in float64 (e.g. one that
    casts its inputs to float32) is measured in its own precision counting every non-zero gradient (exact where the
    float64 count is, but a gradient that is zero in exact arithmetic may count on some CPUs). ``model`` is left
    untouched."""
    try:
        return _receiving_elements(model, batch, torch.float64, 1e-13)
    except RuntimeError as error:  # only a dtype clash falls back ("... Double and Float", "expected ... Double")
        if "double" not in str(error).lower():
            raise
        return _receiving_elements(model, batch, None, 0.0)


def _receiving_elements(
    model: nn.Module, batch: Mapping[str, torch.Tensor], dtype: torch.dtype | None, relative: float
) -> int:
    probe = copy.deepcopy(model).train()
    if dtype is not None:
        probe.to(dtype)
    device = model_device(model)
    inputs = {
        k: v.to(device, dtype if dtype is not None and v.is_floating_point() else v.dtype) for k, v in batch.items()
    }
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        probe.zero_grad(set_to_none=True)
        output = probe(inputs)
        loss = sum(v.pow(2).mean() for v in output.predictions.values()) + output.aux_loss
        loss.backward()
    grads = [p.grad.abs().max() for p in probe.parameters() if p.grad is not None]
    tolerance = relative * float(torch.stack(grads).max()) if grads else 0.0
    tables = {id(m.weight) for m in probe.modules() if isinstance(m, nn.Embedding)}
    return sum(_receiving(p, id(p) in tables, tolerance) for p in probe.parameters())


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per component (:data:`COMPONENTS`) plus ``"total"``."""
    counts = dict.fromkeys(COMPONENTS, 0)
    for name, p in model.named_parameters():
        if p.requires_grad:
            counts[_component(name)] += p.numel()
    counts["total"] = sum(counts[c] for c in COMPONENTS)
    return counts


def example_batch(
    dims: Mapping[str, int], batch_size: int = 2, seq_len: int = 8, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A random batch with every modality present (for shapes, FLOPs and tests)."""
    generator = torch.Generator().manual_seed(seed)
    batch = {m: torch.randn(batch_size, seq_len, d, generator=generator) for m, d in dims.items()}
    batch["mask"] = torch.tensor([[m in dims for m in MODALITIES]] * batch_size)
    return batch


def count_flops(model: AffectModel, dims: Mapping[str, int], seq_len: int) -> int:
    """Measured FLOPs of one forward pass for one sample (matmuls and convolutions, all experts evaluated)."""
    return flop_breakdown(model, dims, seq_len)["total"]


def flop_breakdown(model: AffectModel, dims: Mapping[str, int], seq_len: int) -> dict[str, int]:
    """Per-sample forward FLOPs per component, measured with ``FlopCounterMode`` in eval mode, plus ``"total"``."""
    counter = FlopCounterMode(display=False)
    with eval_mode(model), counter:
        device = model_device(model)
        model({k: v.to(device) for k, v in example_batch(dims, batch_size=1, seq_len=seq_len).items()})
    totals = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    root = type(model).__name__
    own = {name: total for name, total in totals.items() if name.startswith(root + ".")}
    for name in list(own):
        parent = name.rsplit(".", 1)[0]
        while parent not in own and "." in parent:
            parent = parent.rsplit(".", 1)[0]
        if parent in own:
            own[parent] -= totals[name]
    counts = dict.fromkeys(COMPONENTS, 0)
    for name, flops in own.items():
        counts[_component(name[len(root) + 1 :])] += flops
    counts["total"] = int(totals.get("Global", 0))
    return counts


def model_table(
    dims: Mapping[str, int],
    tasks: tuple[str, ...],
    config: StrictConfig,
    seq_len: int,
    names: tuple[str, ...] = MMOLRE_FAMILY,
) -> pd.DataFrame:
    """One row per (model, component) with parameters and per-sample FLOPs (``single_task``: one model per task)."""
    rows = []
    for name in names:
        models = [build_model(name, dims, group, config) for group in task_groups(name, tasks)]
        params = [parameter_breakdown(m) for m in models]
        flops = [flop_breakdown(m, dims, seq_len) for m in models]
        for component in (*COMPONENTS, "total"):
            rows.append(
                {
                    "model": name,
                    "component": component,
                    "parameters": sum(p[component] for p in params),
                    "flops": sum(f[component] for f in flops),
                }
            )
    return pd.DataFrame(rows)


def trace_shapes(model: AffectModel, batch: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Output shapes of the projections, stages, mixture blocks, fusion and head layers in one forward pass."""
    rows: list[dict[str, object]] = []

    def record(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
            if isinstance(output, tuple):
                output = output[0]
            if hasattr(output, "predictions"):
                output = output.predictions
            if isinstance(output, dict):
                shapes = "; ".join(f"{k}: {tuple(v.shape)}" for k, v in output.items())
            else:
                shapes = str(tuple(output.shape))
            rows.append({"module": name, "type": type(module).__name__, "output": shapes})

        return hook

    wanted = (MultitaskModel, UniTSEStage, TaskMixture, ModalityFusion, nn.Linear)
    handles = [
        module.register_forward_hook(record(name or "model"))
        for name, module in model.named_modules()
        if isinstance(module, wanted) and name.count(".") <= 3 and "routers" not in name and "gates" not in name
    ]
    try:
        with eval_mode(model):
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return pd.DataFrame(rows)
