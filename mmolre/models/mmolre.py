"""MMoLRE and its baselines: one multitask model built from :class:`mmolre.nn.experts.TaskMixture` blocks.

Architecture of ``"mmolre"``. Sources: *MMoLRE* = the description in the MMoLRE paper (arXiv 2505.14143, no
public code); *MLoRE* = the code of MLoRE (github.com/YuqiYang213/MLoRE, ``models/transformers/MLoRE.py``, class
``MOEBlock``, lines 280-349; ``configs/pascal/pascal_vitLp16_MLoRE.yml``; ``losses/loss_schemes.py``), whose expert
block MMoLRE's description matches; *ours* = our choice where neither says.

1. Per modality a linear projection of the ``(B, L, d_m)`` features to width ``dim`` (masked-out modalities are
   zeroed first) (*ours*; MMoLRE uses pretrained encoders of width 768).
2. Per modality a UniTSE stage of two mixture blocks, block 1 on the projected sequence copied to every task
   (*MMoLRE*). Block 2's input for task ``t`` is ``h1_t + mean_s h1_s`` (*ours*; with one task ``h1_t``; MLoRE
   feeds block 2 the task's own output of block 1). Own parameters per modality (*ours*).
3. A block (:class:`~mmolre.nn.experts.TaskMixture`, defaults of :class:`~mmolre.nn.experts.BlockForm`), per task:

   - ``n_shared`` shared low-rank experts, ranks cycled from ``shared_ranks``, and one task-specific low-rank
     expert; each a kernel-3 convolution down to rank ``r`` then a position-wise map up (*MMoLRE*; MLoRE
     ``LoraBlock``, lines 208-224, kernel 3 at lines 424 and 427, per-expert ``rank_list`` in the config);
   - a per-task linear input map before the experts and output map after them (MLoRE ``conv1`` / ``conv3``,
     lines 298-299, 314, 348);
   - a normalisation of the routed expert sum, a learned per-sample scale on the task-specific expert (one more
     output of the task's router, no squashing), a full-rank kernel-3 convolution shared by the tasks on the
     detached input, then normalisation, GELU and the output map, without a residual connection (MLoRE lines
     293, 302-303, 311, 319, 344-348). LayerNorm instead of MLoRE's BatchNorm (*ours*: padded sequences of
     varying length);
   - a router per task, once per sample on features pooled over the real steps (MLoRE ``SpatialAtt``, lines
     248-278: 1x1 conv, LayerNorm, GELU, mean pooling; its second, fixed-size spatial branch is left out and the
     pooled width is at least ``min(dim, 16)``, *ours*), whose outputs are the logits, the std of the Gaussian
     noise added to them in training (learned, lines 318-324) and the task-expert scale; a softmax over all
     logits, the ``top_k`` largest kept and the rest set to zero without renormalising (lines 332-338,
     ``pre_softmax: False``); ``top_k = 2`` of 4 in our profiles (*ours*; MLoRE keeps 9 of 15);
   - the load-balance loss: ``load_balance`` (3e-4; MLoRE's configs use 1e-4 to 5e-4) times the squared
     coefficient of variation of the per-expert importance, per router (*ours*; MLoRE ``loss_schemes.py`` lines
     25-40 pools the routers of all tasks of a layer).

   Each element is a :class:`ModelConfig` switch (``out_norm``, ``task_maps``, ``task_scale``,
   ``static_shared``, ``routing``, ``learned_noise``, ``renormalise_topk``); all of them off and
   ``load_balance = 0.01`` is our earlier block ``LayerNorm(x + sum_i w_i E_i(x) + sigmoid(g(x)) S(x))`` with
   a per-token linear router, fixed noise 1.0 and renormalised top-k (the ``old_block`` ablation,
   :data:`mmolre.protocols.ablations.BLOCK_VARIANTS`).
4. Task-adaptive fusion (*MMoLRE* names it; the form is *ours*): mean-pool each modality over time, then per
   task a softmax attention over the pooled modality vectors; a masked-out modality gets weight 0 and a sample
   with no modality left gets a zero vector.
5. Task heads: two-layer MLPs. Sentiment is an unbounded scalar (*ours*: no ``3 * tanh``, which saturates near
   the label range; the metrics clip where the field clips); emotion gives six logits.

Baselines and ablations (same projection, fusion and heads, and the same block form, so only the expert set and
the gate differ; *ours*):

- ``hard_sharing``: one shared expert per block of rank ``min(dim, sum(shared ranks) + tasks * specific_rank)``
  (about the expert size of MMoLRE), one branch for all tasks (one input / output map, one static branch), shared
  fusion, one head per task.
- ``single_task``: the MMoLRE backbone for exactly one task (build one per task).
- ``moe`` / ``moe_full``: shared experts (low-rank / full-rank ``rank == dim``) with one dense softmax gate for
  all tasks, without noise and without a task-specific expert; ``mmoe`` / ``mmoe_full``: the same with one dense
  gate per task. The gate routes at the granularity of ``ModelConfig.routing``.
- ``mmolre_no_shared`` / ``mmolre_no_specific``: drop the shared or the task-specific experts (one block instead
  of two is ``ModelConfig.blocks = 1``).
- ``linear_head`` (:class:`LinearHeadModel`): the same input path (projection, fine-tuned text encoder) with
  masked mean pooling over steps and present modalities and one linear map per task: no experts, no mixture.

Which :class:`BlockSpec` each registered name uses is decided in :mod:`mmolre.models.registry`. Every model
returns a :class:`mmolre.models.base.ModelOutput`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

from mmolre.config import StrictConfig
from mmolre.data.text_encoder import TextInput
from mmolre.modalities import MODALITIES, zero_missing
from mmolre.models.base import AffectModel, ModelOutput
from mmolre.nn.experts import BlockForm, TaskMixture
from mmolre.nn.sequence import masked_mean
from mmolre.nn.text_encoder import TextEncoder
from mmolre.tasks import TASK_OUTPUTS

SHARED = "shared"
"""The single branch of a hard-shared model (one stage and one fusion serve every task)."""


Routing = Literal["sample", "token"]
"""Router granularity: once per sample on features pooled over the real steps, or at every position."""
ROUTING: tuple[str, ...] = get_args(Routing)


@dataclass
class ModelConfig(StrictConfig):
    """Model hyper-parameters; the defaults are a tiny quick configuration for synthetic runs."""

    dim: int = 32  # width every modality is projected to
    n_shared: int = 4  # number of shared experts per mixture block
    shared_ranks: tuple[int, ...] = (4, 8)  # ranks of the shared experts, cycled over the n_shared experts
    specific_rank: int | None = 8  # rank of each task-specific expert (None: no task-specific expert)
    top_k: int | None = 2  # shared experts kept by each router (None: dense softmax)
    router_noise: float = 1.0  # std of the router noise in training when learned_noise is False
    blocks: int = 2  # mixture blocks per UniTSE stage (1 or 2)
    dropout: float = 0.1  # dropout on expert inputs and in the heads
    load_balance: float = 3e-4  # coefficient of the load-balance auxiliary loss (MLoRE's configs: 1e-4 to 5e-4)
    # The block's form (mmolre.nn.experts.BlockForm): the defaults are MLoRE's, each switch an ablation
    out_norm: bool = True  # norm on the routed sum, norm + GELU after the mixture (False: LayerNorm(x + mixture))
    task_maps: bool = True  # per-task linear input and output maps around the experts
    task_scale: bool = True  # the task expert is scaled by a router output (False: a sigmoid gate per position)
    static_shared: bool = True  # full-rank static shared convolution on the detached input
    routing: Routing = "sample"  # "sample": route per sample on pooled features; "token": per position
    learned_noise: bool = True  # the router learns its noise std (False: fixed std router_noise)
    renormalise_topk: bool = False  # renormalise the kept top-k weights to sum 1 (False: zero the rest, as MLoRE)
    kernel_size: int = 3  # temporal kernel of the expert's down-projection
    encoder_lora_rank: int = 0  # with a fine-tuned text encoder: 0 = full fine-tuning, r > 0 = LoRA (peft) of rank r
    encoder_lora_alpha: float | None = None  # LoRA alpha of the text encoder (None: = rank)

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
        if self.encoder_lora_rank < 0:
            problems.append(f"encoder_lora_rank must be >= 0, got {self.encoder_lora_rank}")
        if self.router_noise < 0 or self.load_balance < 0:
            problems.append("router_noise and load_balance must be >= 0")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            problems.append(f"kernel_size must be a positive odd number, got {self.kernel_size}")
        if self.routing not in ROUTING:
            problems.append(f"routing must be one of {ROUTING}, got {self.routing!r}")
        if problems:
            raise ValueError("ModelConfig: " + "; ".join(problems))

    def block_form(self) -> BlockForm:
        """The form of every mixture block built from this configuration."""
        return BlockForm(
            out_norm=self.out_norm,
            task_maps=self.task_maps,
            task_scale=self.task_scale,
            static_shared=self.static_shared,
            sample_routing=self.routing == "sample",
            learned_noise=self.learned_noise,
            renormalise=self.renormalise_topk,
        )

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
    form: BlockForm
    hard_shared: bool = False  # one shared branch for all tasks (hard parameter sharing)


class UniTSEStage(nn.Module):
    """``blocks`` mixture blocks for one modality, one after the other; block 2 mixes in the mean over tasks."""

    def __init__(self, dim: int, tasks: tuple[str, ...], spec: BlockSpec, config: ModelConfig) -> None:
        super().__init__()
        self.tasks = tasks
        self.blocks = nn.ModuleList(
            TaskMixture(
                dim,
                tasks,
                spec.shared_ranks,
                spec.specific_rank,
                spec.top_k,
                spec.router_noise,
                config.load_balance,
                config.kernel_size,
                config.dropout,
                spec.shared_router,
                spec.form,
            )
            for _ in range(spec.blocks)
        )

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Per-task sequences, the summed auxiliary loss and the routing weights keyed ``"block<i>/<task>"``;
        ``positions`` (B, L) marks the real (non-padding) steps."""
        inputs = {t: x for t in self.tasks}
        aux = x.new_zeros(())
        routing: dict[str, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            if index > 0 and len(self.tasks) > 1:
                mean = torch.stack(list(inputs.values())).mean(dim=0)
                inputs = {t: h + mean for t, h in inputs.items()}
            inputs, block_aux, block_routing = block(inputs, positions)
            aux = aux + block_aux
            routing.update({f"block{index + 1}/{task}": w for task, w in block_routing.items()})
        return inputs, aux, routing


class ModalityFusion(nn.Module):
    """Per task a softmax attention over pooled modality vectors that honours the modality mask.

    The scorer's last layer has no bias: a constant shift of all scores leaves the softmax unchanged.
    """

    def __init__(self, dim: int, tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.scorers = nn.ModuleDict(
            {t: nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1, bias=False)) for t in tasks}
        )

    def forward(self, task: str, pooled: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``pooled`` (B, M, d), ``present`` (B, M) bool -> (B, d); zeros where no modality is present."""
        scores = self.scorers[task](pooled).squeeze(-1).masked_fill(~present, float("-inf"))
        weights = torch.where(present.any(dim=1, keepdim=True), scores.softmax(dim=1), torch.zeros_like(scores))
        weights = torch.nan_to_num(weights, nan=0.0)
        return (weights.unsqueeze(-1) * pooled).sum(dim=1)


def _head(dim: int, out: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, out))


class EncodedInputs(AffectModel):
    """The input path every MMoLRE-family model shares: [fine-tuned text encoder] -> the modality features with
    missing modalities zeroed, the presence mask and the real positions (see :meth:`_inputs`), plus one linear
    projection per modality to width ``config.dim``. With ``text_input`` the model holds the trainable top layers
    of the text encoder."""

    def __init__(
        self,
        name: str,
        dims: dict[str, int],
        tasks: tuple[str, ...],
        config: ModelConfig,
        text_input: TextInput | None = None,
    ) -> None:
        super().__init__()
        self.name, self.dims, self.tasks, self.config = name, dict(dims), tasks, config
        self.modalities = tuple(m for m in MODALITIES if m in dims)
        self.columns = [MODALITIES.index(m) for m in self.modalities]
        self.text_encoder: TextEncoder | None = None
        if text_input is not None and "text" in self.modalities:
            self.text_encoder = TextEncoder(
                text_input, config.encoder_lora_rank, config.encoder_lora_alpha, config.dropout
            )
        self.projections = nn.ModuleDict({m: nn.Linear(dims[m], config.dim) for m in self.modalities})

    def _inputs(
        self, batch: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor | None]]:
        missing = [m for m in self.modalities if m not in batch]
        if missing:
            raise ValueError(
                f"{self.name}: batch lacks modality feature(s) {missing}; the model was built for {self.modalities}"
            )
        first = batch[self.modalities[0]]
        size = first.shape[0] if first.ndim >= 2 else -1
        positions = {m: batch.get(f"{m}_mask") for m in self.modalities}
        raw = {}
        for m in self.modalities:
            x = batch[m]
            if m == "text" and self.text_encoder is not None:
                if positions[m] is None:
                    positions[m] = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
                x = self.text_encoder(x, positions[m])
            if x.is_floating_point() and x.dtype != self.projections[m].weight.dtype:
                x = x.to(self.projections[m].weight.dtype)  # float16 cached token states
            if x.ndim != 3 or x.shape[0] != size or x.shape[-1] != self.dims[m]:
                raise ValueError(
                    f"{self.name}: batch[{m!r}] must have shape (B={size}, L, {self.dims[m]}), got {tuple(x.shape)}"
                )
            if positions[m] is not None and positions[m].shape != x.shape[:2]:
                raise ValueError(
                    f"{self.name}: batch['{m}_mask'] must have shape {tuple(x.shape[:2])}, "
                    f"got {tuple(positions[m].shape)}"
                )
            raw[m] = x
        mask = batch.get("mask")
        if mask is None:
            mask = torch.ones(size, len(MODALITIES), dtype=torch.bool, device=first.device)
        if mask.shape != (size, len(MODALITIES)):
            raise ValueError(
                f"{self.name}: batch['mask'] must have shape ({size}, {len(MODALITIES)}), got {tuple(mask.shape)}"
            )
        return zero_missing(raw, mask), mask.bool()[:, self.columns], positions


class LinearHeadModel(EncodedInputs):
    """``linear_head``: the plain "encoder + linear head" baseline. The shared input path, each modality projected
    and mean-pooled over its real steps, the mean over the present modalities (a zero vector when none is), dropout,
    then one linear map per task: no experts, no mixture, no fusion weights."""

    def __init__(
        self,
        name: str,
        dims: dict[str, int],
        tasks: tuple[str, ...],
        config: ModelConfig,
        text_input: TextInput | None = None,
    ) -> None:
        super().__init__(name, dims, tasks, config, text_input)
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(config.dim, TASK_OUTPUTS[t]) for t in tasks})

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        features, present, positions = self._inputs(batch)
        pooled = torch.stack(
            [masked_mean(self.projections[m](features[m]), positions[m]) for m in self.modalities], dim=1
        )
        weights = present.to(pooled.dtype).unsqueeze(-1)
        fused = self.dropout((pooled * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0))
        predictions = {}
        for task in self.tasks:
            out = self.heads[task](fused)
            predictions[task] = out.squeeze(-1) if TASK_OUTPUTS[task] == 1 else out
        return ModelOutput(predictions, fused.new_zeros(()), {})


class MultitaskModel(EncodedInputs):
    """[Text encoder] -> projection -> per-modality UniTSE stage -> task-adaptive fusion -> task heads (see the
    module docstring)."""

    def __init__(
        self,
        name: str,
        dims: dict[str, int],
        tasks: tuple[str, ...],
        config: ModelConfig,
        spec: BlockSpec,
        text_input: TextInput | None = None,
    ) -> None:
        super().__init__(name, dims, tasks, config, text_input)
        self.branches = (SHARED,) if spec.hard_shared else tasks
        self.stages = nn.ModuleDict({m: UniTSEStage(config.dim, self.branches, spec, config) for m in self.modalities})
        # with one modality the fusion weight is always 1: no fusion parameters that could never learn
        self.fusion = ModalityFusion(config.dim, self.branches) if len(self.modalities) > 1 else None
        self.heads = nn.ModuleDict({t: _head(config.dim, TASK_OUTPUTS[t], config.dropout) for t in tasks})

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        features, present, positions = self._inputs(batch)
        aux = features[self.modalities[0]].new_zeros(())
        routing: dict[str, torch.Tensor] = {}
        pooled: dict[str, list[torch.Tensor]] = {b: [] for b in self.branches}
        for m in self.modalities:
            per_branch, stage_aux, stage_routing = self.stages[m](self.projections[m](features[m]), positions[m])
            aux = aux + stage_aux
            routing.update({f"{m}/{key}": w for key, w in stage_routing.items()})
            for b in self.branches:
                pooled[b].append(masked_mean(per_branch[b], positions[m]))
        if self.fusion is None:  # one modality: its pooled vector, zero where it is missing
            fused = {b: pooled[b][0] * present[:, :1].to(pooled[b][0].dtype) for b in self.branches}
        else:
            fused = {b: self.fusion(b, torch.stack(pooled[b], dim=1), present) for b in self.branches}
        predictions: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            out = self.heads[task](fused[SHARED if SHARED in fused else task])
            predictions[task] = out.squeeze(-1) if TASK_OUTPUTS[task] == 1 else out
        return ModelOutput(predictions, aux, routing)
