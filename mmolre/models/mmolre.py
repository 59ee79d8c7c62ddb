"""MMoLRE and its baselines: one multitask model built from :class:`mmolre.nn.mixture.TaskMixture` blocks.

Architecture of ``"mmolre"``. Sources: *MMoLRE* = the description in the MMoLRE paper (arXiv 2505.14143, no
public code); *MLoRE* = the code of MLoRE (github.com/YuqiYang213/MLoRE, ``models/transformers/MLoRE.py``, class
``MOEBlock``, lines 280-349; ``configs/pascal/pascal_vitLp16_MLoRE.yml``; ``losses/loss_schemes.py``), whose expert
block MMoLRE's description matches; *ours* = our choice where neither says.

1. Per modality a linear projection of the ``(B, L, d_m)`` features to width ``dim`` (masked-out modalities are
   zeroed first) (*ours*; MMoLRE uses pretrained encoders of width 768).
2. Per modality a UniTSE stage of two mixture blocks, block 1 on the projected sequence copied to every task
   (*MMoLRE*). Block 2's input for task ``t`` is ``h1_t + mean_s h1_s`` (*ours*; with one task ``h1_t``; MLoRE
   feeds block 2 the task's own output of block 1). Own parameters per modality (*ours*).
3. A block (:class:`~mmolre.nn.mixture.TaskMixture`, defaults of :class:`~mmolre.nn.mixture.BlockForm`), per task:

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

   Each element is a :class:`~mmolre.models.mmolre_config.ModelConfig` switch (``out_norm``, ``task_maps``,
   ``task_scale``, ``static_shared``, ``routing``, ``learned_noise``, ``renormalise_topk``); all of them off and
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
- ``linear_head`` (:class:`~mmolre.models.linear_head.LinearHeadModel`): the same input path (projection,
  fine-tuned text encoder) with masked mean pooling over steps and present modalities and one linear map per
  task: no experts, no mixture.

Which :class:`BlockSpec` each registered name uses is decided in :mod:`mmolre.models.registry`. Every model
returns a :class:`mmolre.models.base.ModelOutput`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from mmolre.data.text_encoder import TextInput
from mmolre.models.base import ModelOutput
from mmolre.models.inputs import EncodedInputs
from mmolre.models.mmolre_config import ModelConfig
from mmolre.nn.mixture import BlockForm, TaskMixture
from mmolre.nn.sequence import masked_mean
from mmolre.tasks import TASK_OUTPUTS

SHARED = "shared"
"""The single branch of a hard-shared model (one stage and one fusion serve every task)."""


@dataclass(frozen=True)
class BlockSpec:
    """How a model's mixture blocks are configured (derived from
    :class:`~mmolre.models.mmolre_config.ModelConfig` by the registry)."""

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
