"""MMoLRE and its baselines, all built from :class:`mmolre.experts.TaskMixture`, behind one registry.

Architecture of ``"mmolre"`` (arXiv 2505.14143; the paper has no public code, choices marked *ours*):

1. Per modality a linear projection of the ``(B, L, d_m)`` features to width ``dim`` (masked-out modalities are
   zeroed first).
2. Per modality a UniTSE stage of ``blocks`` mixture blocks (own parameters per modality, *ours*). Block 1 gets the
   projected sequence for every task and separates task-specific features; block 2 models inter-task
   correlation: its input for task ``t`` is ``h1_t + mean_s h1_s`` over all tasks (*ours*; with one task simply
   ``h1_t``). Every block is ``LayerNorm(x_t + mixture(x)_t)`` (*ours*). A mixture has ``n_shared`` shared
   low-rank experts (ranks cycled from ``shared_ranks``), one gated task-specific expert per task and a noisy
   top-k softmax router per task (the MLoRE-style router).
3. Task-adaptive fusion (*ours*): mean-pool each modality over time, then per task a softmax attention over the
   pooled modality vectors; a masked-out modality gets weight 0 and a sample with no modality left gets a zero
   vector.
4. Task heads: two-layer MLPs. Sentiment is an unbounded scalar (*ours*: no ``3 * tanh``, which saturates near
   the label range; the metrics clip where the field clips); emotion gives six logits.

Baselines and ablations (same projection, fusion and heads, so only the block differs):

- ``hard_sharing``: one shared expert per block of rank ``min(dim, sum(shared ranks) + tasks * specific_rank)``
  (about the expert size of MMoLRE), shared fusion, one head per task.
- ``single_task``: the MMoLRE backbone for exactly one task (build one per task).
- ``moe`` / ``moe_full``: shared experts (low-rank / full-rank ``rank == dim``) with one dense softmax gate for
  all tasks; ``mmoe`` / ``mmoe_full``: the same with one dense gate per task.
- ``mmolre_no_shared`` / ``mmolre_no_specific`` / ``mmolre_one_block``: drop the shared experts, the
  task-specific experts, or block 2.

Every model returns ``{"sentiment": (B,), "emotion": (B, 6) logits (if asked), "aux_loss": scalar}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .config import StrictConfig
from .dataset import EMOTIONS, MODALITIES
from .experts import TaskMixture

TASKS: tuple[str, ...] = ("sentiment", "emotion")
_SHARED = "shared"
COMPONENTS: tuple[str, ...] = ("projections", "experts", "routers", "norms", "fusion", "heads")


@dataclass
class ModelConfig(StrictConfig):
    """Model hyper-parameters; the defaults are a tiny quick configuration for synthetic runs."""

    dim: int = 32  # width every modality is projected to
    n_shared: int = 4  # number of shared experts per mixture block
    shared_ranks: tuple[int, ...] = (4, 8)  # ranks of the shared experts, cycled over the n_shared experts
    specific_rank: int | None = 8  # rank of each task-specific expert (None: no task-specific expert)
    top_k: int | None = 2  # shared experts kept by each router (None: dense softmax)
    router_noise: float = 1.0  # std of the Gaussian noise added to router logits in training
    blocks: int = 2  # mixture blocks per UniTSE stage (1 or 2)
    dropout: float = 0.1  # dropout on expert inputs and in the heads
    load_balance: float = 0.01  # coefficient of the load-balance auxiliary loss
    kernel_size: int = 3  # temporal kernel of the expert's down-projection

    def __post_init__(self) -> None:
        self.shared_ranks = tuple(int(r) for r in self.shared_ranks)
        problems = []
        if self.dim < 1:
            problems.append(f"dim must be >= 1, got {self.dim}")
        if self.n_shared < 0:
            problems.append(f"n_shared must be >= 0, got {self.n_shared}")
        if self.n_shared and not self.shared_ranks:
            problems.append("shared_ranks must not be empty when n_shared > 0")
        if any(not 1 <= r <= self.dim for r in self.shared_ranks):
            problems.append(f"shared_ranks {self.shared_ranks} must lie in [1, dim={self.dim}]")
        if self.specific_rank is not None and not 1 <= self.specific_rank <= self.dim:
            problems.append(f"specific_rank must lie in [1, dim={self.dim}] or be None, got {self.specific_rank}")
        if self.top_k is not None and self.top_k < 1:
            problems.append(f"top_k must be >= 1 or None, got {self.top_k}")
        if self.blocks not in (1, 2):
            problems.append(f"blocks must be 1 or 2, got {self.blocks}")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.router_noise < 0 or self.load_balance < 0:
            problems.append("router_noise and load_balance must be >= 0")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            problems.append(f"kernel_size must be a positive odd number, got {self.kernel_size}")
        if problems:
            raise ValueError("ModelConfig: " + "; ".join(problems))

    def ranks(self) -> tuple[int, ...]:
        """The rank of each of the ``n_shared`` shared experts."""
        if not self.n_shared:
            return ()
        return tuple(self.shared_ranks[i % len(self.shared_ranks)] for i in range(self.n_shared))


@dataclass(frozen=True)
class BlockSpec:
    """How a model's mixture blocks are configured (derived from :class:`ModelConfig` by the registry)."""

    shared_ranks: tuple[int, ...]
    specific_rank: int | None
    top_k: int | None
    router_noise: float
    shared_router: bool
    blocks: int


def _mmolre_spec(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    return BlockSpec(config.ranks(), config.specific_rank, config.top_k, config.router_noise, False, config.blocks)


def _dense(config: ModelConfig, full_rank: bool, shared_router: bool) -> BlockSpec:
    ranks = tuple(config.dim for _ in config.ranks()) if full_rank else config.ranks()
    if not ranks:
        raise ValueError("MoE / MMoE models need n_shared >= 1")
    return BlockSpec(ranks, None, None, 0.0, shared_router, config.blocks)


def _hard_sharing_spec(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    rank = min(config.dim, sum(config.ranks()) + len(tasks) * (config.specific_rank or 0))
    return BlockSpec((max(rank, 1),), None, None, 0.0, False, config.blocks)


def _single_task_spec(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    if len(tasks) != 1:
        raise ValueError(f"single_task models take exactly one task, got {tasks}; build one model per task")
    return _mmolre_spec(config, tasks)


def _one_block(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    return dataclasses.replace(_mmolre_spec(config, tasks), blocks=1)


def _no_shared(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    if config.specific_rank is None:
        raise ValueError("mmolre_no_shared needs specific_rank to be set")
    return dataclasses.replace(_mmolre_spec(config, tasks), shared_ranks=())


def _no_specific(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    if not config.n_shared:
        raise ValueError("mmolre_no_specific needs n_shared >= 1")
    return dataclasses.replace(_mmolre_spec(config, tasks), specific_rank=None)


_SPECS: dict[str, Callable[[ModelConfig, tuple[str, ...]], BlockSpec]] = {
    "mmolre": _mmolre_spec,
    "single_task": _single_task_spec,
    "hard_sharing": _hard_sharing_spec,
    "moe": lambda c, t: _dense(c, full_rank=False, shared_router=True),
    "mmoe": lambda c, t: _dense(c, full_rank=False, shared_router=False),
    "moe_full": lambda c, t: _dense(c, full_rank=True, shared_router=True),
    "mmoe_full": lambda c, t: _dense(c, full_rank=True, shared_router=False),
    "mmolre_no_shared": _no_shared,
    "mmolre_no_specific": _no_specific,
    "mmolre_one_block": _one_block,
}
MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)
_HARD_SHARED = ("hard_sharing",)


class UniTSEStage(nn.Module):
    """``blocks`` residual mixture blocks for one modality; block 2 mixes in the mean over tasks."""

    def __init__(self, dim: int, tasks: tuple[str, ...], spec: BlockSpec, config: ModelConfig) -> None:
        super().__init__()
        self.tasks = tasks
        self.blocks = nn.ModuleList(
            TaskMixture(dim, tasks, spec.shared_ranks, spec.specific_rank, spec.top_k, spec.router_noise,
                        config.load_balance, config.kernel_size, config.dropout, spec.shared_router)
            for _ in range(spec.blocks)
        )
        self.norms = nn.ModuleList(nn.ModuleDict({t: nn.LayerNorm(dim) for t in tasks}) for _ in range(spec.blocks))

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        inputs = {t: x for t in self.tasks}
        aux = x.new_zeros(())
        for index, (block, norms) in enumerate(zip(self.blocks, self.norms)):
            if index > 0 and len(self.tasks) > 1:
                mean = torch.stack(list(inputs.values())).mean(dim=0)
                inputs = {t: h + mean for t, h in inputs.items()}
            mixed, block_aux = block(inputs)
            inputs = {t: norms[t](inputs[t] + mixed[t]) for t in self.tasks}
            aux = aux + block_aux
        return inputs, aux


class ModalityFusion(nn.Module):
    """Per task a softmax attention over pooled modality vectors that honours the modality mask.

    The scorer's last layer has no bias: a constant shift of all scores leaves the softmax unchanged.
    """

    def __init__(self, dim: int, tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.scorers = nn.ModuleDict({t: nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1, bias=False)) for t in tasks})

    def forward(self, task: str, pooled: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``pooled`` (B, M, d), ``present`` (B, M) bool -> (B, d); zeros where no modality is present."""
        scores = self.scorers[task](pooled).squeeze(-1).masked_fill(~present, float("-inf"))
        weights = torch.where(present.any(dim=1, keepdim=True), scores.softmax(dim=1), torch.zeros_like(scores))
        weights = torch.nan_to_num(weights, nan=0.0)
        return (weights.unsqueeze(-1) * pooled).sum(dim=1)


def _head(dim: int, out: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, out))


class MultitaskModel(nn.Module):
    """Projection -> per-modality UniTSE stage -> task-adaptive fusion -> task heads (see module docstring)."""

    def __init__(self, name: str, dims: dict[str, int], tasks: tuple[str, ...], config: ModelConfig,
                 spec: BlockSpec, hard_shared: bool) -> None:
        super().__init__()
        self.name, self.dims, self.tasks, self.config = name, dict(dims), tasks, config
        self.modalities = tuple(m for m in MODALITIES if m in dims)
        self.columns = [MODALITIES.index(m) for m in self.modalities]
        self.branches = (_SHARED,) if hard_shared else tasks
        self.projections = nn.ModuleDict({m: nn.Linear(dims[m], config.dim) for m in self.modalities})
        self.stages = nn.ModuleDict({m: UniTSEStage(config.dim, self.branches, spec, config) for m in self.modalities})
        self.fusion = ModalityFusion(config.dim, self.branches)
        outputs = {"sentiment": 1, "emotion": len(EMOTIONS)}
        self.heads = nn.ModuleDict({t: _head(config.dim, outputs[t], config.dropout) for t in tasks})

    def _inputs(self, batch: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        missing = [m for m in self.modalities if m not in batch]
        if missing:
            raise ValueError(f"{self.name}: batch lacks modality feature(s) {missing}; the model was built for {self.modalities}")
        first = batch[self.modalities[0]]
        size = first.shape[0] if first.ndim == 3 else -1
        for m in self.modalities:
            x = batch[m]
            if x.ndim != 3 or x.shape[0] != size or x.shape[-1] != self.dims[m]:
                raise ValueError(f"{self.name}: batch[{m!r}] must have shape (B={size}, L, {self.dims[m]}), got {tuple(x.shape)}")
        mask = batch.get("mask")
        if mask is None:
            mask = torch.ones(size, len(MODALITIES), dtype=torch.bool, device=first.device)
        if mask.shape != (size, len(MODALITIES)):
            raise ValueError(f"{self.name}: batch['mask'] must have shape ({size}, {len(MODALITIES)}), got {tuple(mask.shape)}")
        present = mask.bool()[:, self.columns]
        features = {m: batch[m] * present[:, i, None, None].to(batch[m].dtype) for i, m in enumerate(self.modalities)}
        return features, present

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features, present = self._inputs(batch)
        aux = features[self.modalities[0]].new_zeros(())
        pooled: dict[str, list[torch.Tensor]] = {b: [] for b in self.branches}
        for m in self.modalities:
            per_branch, stage_aux = self.stages[m](self.projections[m](features[m]))
            aux = aux + stage_aux
            for b in self.branches:
                pooled[b].append(per_branch[b].mean(dim=1))
        fused = {b: self.fusion(b, torch.stack(pooled[b], dim=1), present) for b in self.branches}
        result: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            out = self.heads[task](fused[_SHARED if _SHARED in fused else task])
            result[task] = out.squeeze(-1) if task == "sentiment" else out
        result["aux_loss"] = aux
        return result

    def routing_weights(self) -> dict[str, torch.Tensor]:
        """Mean shared-expert routing weights of the last forward, keyed ``"<modality>/block<i>/<task>"``."""
        weights: dict[str, torch.Tensor] = {}
        for m, stage in self.stages.items():
            for index, block in enumerate(stage.blocks, start=1):
                for task, w in block.routing_weights().items():
                    weights[f"{m}/block{index}/{task}"] = w
        return weights


def build_model(name: str, dims: Mapping[str, int], tasks: tuple[str, ...] = TASKS, config: ModelConfig | None = None) -> MultitaskModel:
    """Build a registered model (:data:`MODEL_NAMES`) for modality widths ``dims`` and the given tasks."""
    if name not in _SPECS:
        raise ValueError(f"unknown model name {name!r}; known models are {MODEL_NAMES}")
    config = ModelConfig() if config is None else config
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
    tasks = tuple(tasks)
    if not tasks or len(set(tasks)) != len(tasks) or any(t not in TASKS for t in tasks):
        raise ValueError(f"tasks must be distinct names from {TASKS}, got {tasks}")
    unknown = [m for m in dims if m not in MODALITIES]
    if unknown or not dims:
        raise ValueError(f"dims must map at least one of {MODALITIES} to a width, got {dict(dims)}")
    bad = {m: d for m, d in dims.items() if not isinstance(d, int) or d < 1}
    if bad:
        raise ValueError(f"modality widths must be positive integers, got {bad}")
    spec = _SPECS[name](config, tasks)
    return MultitaskModel(name, dict(dims), tasks, config, spec, hard_shared=name in _HARD_SHARED)


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
    return "experts"


def parameter_breakdown(model: MultitaskModel) -> dict[str, int]:
    """Trainable parameters per component (:data:`COMPONENTS`) plus ``"total"``."""
    counts = dict.fromkeys(COMPONENTS, 0)
    for name, p in model.named_parameters():
        if p.requires_grad:
            counts[_component(name)] += p.numel()
    counts["total"] = sum(counts[c] for c in COMPONENTS)
    return counts


def example_batch(dims: Mapping[str, int], batch_size: int = 2, seq_len: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random batch with every modality present (for shapes, FLOPs and tests)."""
    generator = torch.Generator().manual_seed(seed)
    batch = {m: torch.randn(batch_size, seq_len, d, generator=generator) for m, d in dims.items()}
    batch["mask"] = torch.tensor([[m in dims for m in MODALITIES]] * batch_size)
    return batch


def count_flops(model: MultitaskModel, dims: Mapping[str, int], seq_len: int) -> int:
    """Measured FLOPs of one forward pass for one sample (matmuls and convolutions, all experts evaluated)."""
    return flop_breakdown(model, dims, seq_len)["total"]


def flop_breakdown(model: MultitaskModel, dims: Mapping[str, int], seq_len: int) -> dict[str, int]:
    """Per-sample forward FLOPs per component, measured with ``FlopCounterMode`` in eval mode, plus ``"total"``."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            device = next(model.parameters()).device
            model({k: v.to(device) for k, v in example_batch(dims, batch_size=1, seq_len=seq_len).items()})
    finally:
        model.train(was_training)
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
        counts[_component(name[len(root) + 1:])] += flops
    counts["total"] = int(totals.get("Global", 0))
    return counts


def model_table(dims: Mapping[str, int], tasks: tuple[str, ...], config: ModelConfig, seq_len: int,
                names: tuple[str, ...] = MODEL_NAMES) -> pd.DataFrame:
    """One row per (model, component) with parameters and per-sample FLOPs (``single_task``: one model per task)."""
    rows = []
    for name in names:
        task_sets = [(t,) for t in tasks] if name == "single_task" else [tuple(tasks)]
        models = [build_model(name, dims, tasks, config) for tasks in task_sets]
        params = [parameter_breakdown(m) for m in models]
        flops = [flop_breakdown(m, dims, seq_len) for m in models]
        for component in (*COMPONENTS, "total"):
            rows.append({"model": name, "component": component,
                         "parameters": sum(p[component] for p in params), "flops": sum(f[component] for f in flops)})
    return pd.DataFrame(rows)


def trace_shapes(model: MultitaskModel, batch: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Output shapes of the projections, stages, mixture blocks, fusion and head layers in one forward pass."""
    rows: list[dict[str, object]] = []

    def record(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
            if isinstance(output, tuple):
                output = output[0]
            if isinstance(output, dict):
                shapes = "; ".join(f"{k}: {tuple(v.shape)}" for k, v in output.items())
            else:
                shapes = str(tuple(output.shape))
            rows.append({"module": name, "type": type(module).__name__, "output": shapes})
        return hook

    wanted = (MultitaskModel, UniTSEStage, TaskMixture, ModalityFusion, nn.Linear)
    handles = [module.register_forward_hook(record(name or "model")) for name, module in model.named_modules()
               if isinstance(module, wanted) and name.count(".") <= 3 and "routers" not in name and "gates" not in name]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return pd.DataFrame(rows)
