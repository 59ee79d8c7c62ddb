"""The MCULoRA model: one network for every modality combination, adapted per combination by MCLA layers.

Architecture (arXiv 2507.11202 and the official code gdace829/MCULoRA; choices left open are marked *ours*):

1. Per present modality an MCLA input projection ``d_m -> hidden`` and dropout.
2. Per modality ``depth`` blocks over that modality's own time axis (as in the official code, each modality is
   encoded separately, so a missing modality needs no attention mask); the MLP's two layers are MCLA with rank
   ``mlp_rank``. The sequence is mean-pooled over its real steps (with utterance context it is not pooled, see
   below) and a missing modality's vector is zeroed.
3. Fusion: the concatenated modality vectors ``u`` go through an MCLA, ReLU and dropout, plus ``u`` (residual).
4. One MCLA head per task (sentiment scalar, six emotion logits).

The block (:mod:`mmolre.models.mculora_block`) follows the official code by default; its departures are switches of
:class:`~mmolre.models.mculora_config.MCULoRAConfig`.

Decoupled combination streams (the published design, default): every combination ``k`` has its own stream,
carried through exactly the layers that carry streams in the official code: input projection -> fc1 -> fc2 of
every block's MLP -> fusion -> head. At each of these layers the stream leaving the layer is
``s_k' = W x + b + B_k A_k s_k``: the layer's base output on the *main* input ``x`` plus combination ``k``'s
low-rank map of its *own* stream ``s_k`` (the first layer reads the features themselves). This is the official
April rule; the later (August) rule keeps only ``B_k A_k s_k`` and, with every ``B`` starting at zero, such a
chain is exactly zero with zero gradient, so we keep the base term. Streams get no attention, activation,
dropout or residual (as in the official code) and never enter the main path inside the network. Streams are
mean-pooled and zeroed for missing modalities like the main path, concatenated at the fusion layer, and meet
the main output only at the head: ``y = W h + b + shared(h) + B_k A_k s_k(head)`` with ``k`` the sample's
combination. The head adds only the low-rank term (the April code adds the head's base output a second time).
At initialisation every ``B`` is zero, so the model equals its plain backbone. Only the streams of
combinations present in the batch are computed (the others cannot reach the loss).

Inline switch (``inline=True``, the registered ``mcla_inline`` ablation): every MCLA adds the sample's
combination adapter to its main output, ``W x + b + shared(x) + B_c A_c x``, at every layer.

Adapters exist for the non-empty combinations of the model's modalities only (a sample with no modality left
gets the shared path alone), and a modality's own layers (input projection, encoder blocks) only for the
combinations that contain that modality: the others would never receive gradient (official code: they exist and
stay untrained). A combination's stream therefore has no part for a modality it does not contain (zeros at the
fusion layer, where that modality is missing anyway).

The combination is read from ``batch["mask"]`` per sample, so training with a drawn combination and
evaluation under any test condition need no extra argument. ``rank = mlp_rank = 0`` gives the same backbone with
plain linear layers (the "no MCLA" baseline).

Sequences and padding: a modality's time axis is its token/frame axis (padding marked by ``batch["<m>_mask"]``)
or, for a context batch (``batch["positions"]``, one video/dialogue per sample, see :mod:`mmolre.data.context`),
the utterances of the video, as in the official code. Padding is the attention key mask and never enters a mean.
With context the model predicts per utterance: nothing is pooled over the utterance axis, fusion and heads run
at every position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from mmolre.modalities import (
    COMBINATIONS,
    MODALITIES,
    available_combinations,
    combination_index,
    combination_modalities,
    zero_missing,
)
from mmolre.models.base import AffectModel, ModelOutput
from mmolre.models.mculora_block import MCLABlock, Streams, carry
from mmolre.models.mculora_config import MCULoRAConfig
from mmolre.nn.mcla import MCLA, MCLAOutput
from mmolre.nn.sequence import masked_mean
from mmolre.tasks import TASK_OUTPUTS, check_tasks


@dataclass
class Encoded:
    """Per-modality encoder outputs: the main path ``(B, L, hidden)`` after the blocks and, per modality, the
    combination streams after the blocks; the presence mask, per-sample combination indices, per modality the
    real time steps ``(B, L)`` (None: all) and whether the time axis is utterance context."""

    main: dict[str, torch.Tensor]
    streams: dict[str, Streams]
    mask: torch.Tensor
    combination: torch.Tensor
    steps: dict[str, torch.Tensor | None]
    context: bool = False


class MCULoRA(AffectModel):
    """MCULoRA (see the module docstring); ``inline=True`` is the per-layer-switch ablation."""

    supports_context = True

    def __init__(
        self,
        name: str,
        dims: Mapping[str, int],
        tasks: tuple[str, ...],
        config: MCULoRAConfig,
        inline: bool = False,
    ) -> None:
        super().__init__()
        self.name, self.config, self.tasks, self.inline = name, config, check_tasks(tasks), inline
        self.modalities = tuple(m for m in MODALITIES if m in dims)
        self.dims = {m: int(dims[m]) for m in self.modalities}
        self.combinations = available_combinations(self.modalities) if config.rank > 0 else ()
        fused = config.hidden * len(self.modalities)

        def mcla(in_dim: int, out_dim: int, stream_dropout: float = 0.0, combinations: tuple[str, ...] = ()) -> MCLA:
            return MCLA(
                in_dim, out_dim, config.rank, config.lora_dropout, alpha=config.alpha,
                combinations=combinations or self.combinations, stream_dropout=stream_dropout,
            )  # fmt: skip

        self.modality_combinations = {
            m: tuple(c for c in self.combinations if m in combination_modalities(c)) for m in self.modalities
        }  # a modality's own layers only have adapters for the combinations that contain it (others never train)
        self.projections = nn.ModuleDict(
            {
                m: mcla(self.dims[m], config.hidden, config.lora_dropout, self.modality_combinations[m])
                for m in self.dims
            }
        )
        self.encoders = nn.ModuleDict(
            {
                m: nn.ModuleList(MCLABlock(config, self.modality_combinations[m]) for _ in range(config.depth))
                for m in self.dims
            }
        )
        self.norms = nn.ModuleDict(
            {m: nn.LayerNorm(config.hidden) if config.fusion_norm else nn.Identity() for m in self.modalities}
        )
        self.fusion = mcla(fused, fused)
        self.heads = nn.ModuleDict({t: mcla(fused, TASK_OUTPUTS[t]) for t in self.tasks})
        self.dropout = nn.Dropout(config.dropout)

    def _present(self, combination: torch.Tensor) -> tuple[str, ...]:
        """Combinations (with adapters) of the samples in a batch."""
        names = {COMBINATIONS[i] for i in torch.unique(combination).tolist()}
        return tuple(c for c in self.combinations if c in names)

    def encode(self, batch: Mapping[str, torch.Tensor], combinations: tuple[str, ...] | None = None) -> Encoded:
        """Run the per-modality encoders; streams are computed for ``combinations`` (default: those present in the
        batch; none for the inline model)."""
        mask = batch["mask"].bool()
        combination = combination_index(mask)
        if self.inline:
            combinations = ()
        elif combinations is None:
            combinations = self._present(combination)
        features = zero_missing({m: batch[m] for m in self.modalities}, mask)
        context = "positions" in batch
        steps = {m: batch["positions"] if context else batch.get(f"{m}_mask") for m in self.modalities}
        main, streams = {}, {}
        for m in self.modalities:
            if steps[m] is not None and steps[m].shape != features[m].shape[:2]:
                key = "positions" if context else f"{m}_mask"
                raise ValueError(
                    f"{self.name}: batch[{key!r}] must have shape {tuple(features[m].shape[:2])} (the steps of "
                    f"{m!r}), got {tuple(steps[m].shape)}"
                )
            if self.inline:
                h = self.dropout(self.projections[m].inline(features[m], combination))
                for block in self.encoders[m]:
                    h = block.inline(h, combination, steps[m])
                main[m], streams[m] = h, {}
                continue
            own = tuple(c for c in combinations if c in self.modality_combinations[m])
            projected = self.projections[m](features[m], combinations=own)
            h, s = self.dropout(projected.output), carry(projected)
            for block in self.encoders[m]:
                h, s = block(h, s, steps[m])
            main[m], streams[m] = h, s
        return Encoded(main, streams, mask, combination, steps, context)

    def _pool(self, encoded: Encoded, values: Mapping[str, torch.Tensor | None], norm: bool) -> torch.Tensor:
        """Masked mean over time (context: no pooling, one vector per utterance), missing modalities zeroed,
        modalities concatenated: (B, M * hidden) or (B, L, M * hidden). A modality without a value (a stream of a
        combination that does not contain it) contributes zeros."""
        parts = []
        for m in self.modalities:
            like = encoded.main[m] if encoded.context else encoded.main[m][:, 0]
            h = values.get(m)
            if h is None:
                parts.append(torch.zeros_like(like))
                continue
            h = self.norms[m](h) if norm else h
            h = h if encoded.context else masked_mean(h, encoded.steps[m])
            present = encoded.mask[:, MODALITIES.index(m)].to(h.dtype)
            parts.append(h * present.reshape(-1, *([1] * (h.ndim - 1))))
        return torch.cat(parts, dim=-1)

    def _fuse(self, encoded: Encoded) -> tuple[torch.Tensor, MCLAOutput]:
        """Fusion input ``u`` and the fusion layer's output; the pooled streams enter the fusion layer as its
        stream inputs (inline: the sample's adapter is added, no streams)."""
        joint = self._pool(encoded, encoded.main, norm=True)
        if self.inline:
            return joint, MCLAOutput(self.fusion.inline(joint, encoded.combination), self.fusion.base(joint), {})
        names = [c for c in self.combinations if any(c in streams for streams in encoded.streams.values())]
        streams = {
            c: self._pool(encoded, {m: encoded.streams[m].get(c) for m in self.modalities}, False) for c in names
        }
        return joint, self.fusion(joint, streams)

    def representations(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fusion-layer outputs (B, M * hidden): ``shared`` (``W u + b + shared(u)``) and ``specific`` (the
        sample's combination term: its adapter on ``u`` inline, its stream's low-rank term otherwise)."""
        encoded = self.encode(batch)
        joint, fused = self._fuse(encoded)
        if self.inline:
            return {
                "shared": self.fusion.shared_path(joint),
                "specific": self.fusion.specific_path(joint, encoded.combination),
                "combination": encoded.combination,
            }
        specific = self._select(fused.streams, encoded.combination, fused.output)
        return {"shared": fused.output, "specific": specific, "combination": encoded.combination}

    @staticmethod
    def _select(terms: Streams, combination: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Per sample, the term of the sample's own combination (zero when it has none)."""
        out = torch.zeros_like(like)
        for name, term in terms.items():
            rows = (combination == COMBINATIONS.index(name)).to(term.dtype)
            out = out + term * rows.reshape(-1, *([1] * (term.ndim - 1)))
        return out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        encoded = self.encode(batch)
        joint, fused = self._fuse(encoded)
        hidden = joint + self.dropout(torch.relu(fused.output))
        streams = carry(fused)
        predictions = {}
        for task in self.tasks:
            if self.inline:
                out = self.heads[task].inline(hidden, encoded.combination)
            else:
                head = self.heads[task](hidden, streams)
                out = head.output + self._select(head.streams, encoded.combination, head.output)
            predictions[task] = out.squeeze(-1) if TASK_OUTPUTS[task] == 1 else out
        return ModelOutput(predictions, hidden.new_zeros(()))
