"""Our earlier DPFT-like rule, kept as an ablation (sampler name ``dpft_fusion_js``).

Categorical sampling over the combinations. Statistic: the mean Jensen-Shannon divergence between the softmax of
the fusion layer's shared output and of the sample's combination term, with the valid split restricted to each
combination. The change since the previous update is ranked, weights halve down the ranking, probabilities move
by ``step * (weight - mean weight)`` and are projected onto a band of ``band * uniform`` with sum 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.modalities import restrict
from mmolre.models.base import eval_mode, to_model
from mmolre.models.mculora import MCULoRA
from mmolre.protocols.combination_sampler import UniformSampler
from mmolre.protocols.dpft import js_divergence


def project_to_band(p: torch.Tensor, low: float, high: float, iterations: int = 60) -> torch.Tensor:
    """The vector ``clip(p + tau, low, high)`` summing to 1 (``tau`` found by bisection)."""
    lo_tau, hi_tau = low - float(p.max()), high - float(p.min())
    for _ in range(iterations):
        tau = 0.5 * (lo_tau + hi_tau)
        if float((p + tau).clamp(low, high).sum()) > 1.0:
            hi_tau = tau
        else:
            lo_tau = tau
    q = (p + 0.5 * (lo_tau + hi_tau)).clamp(low, high)
    return q / q.sum()


class FusionJSSampler(UniformSampler):
    """``dpft_fusion_js``: our earlier categorical rule from the fusion-layer JS statistic (module docstring)."""

    _state = ("probabilities", "last_statistic")

    def __init__(
        self,
        modalities: Sequence[str],
        step: float = 0.05,
        band: Sequence[float] = (0.5, 2.0),
        batch_size: int = 512,
    ) -> None:
        super().__init__(modalities)
        n = len(self.combinations)
        if step <= 0:
            raise ValueError(f"dpft_fusion_js step must be > 0, got {step}")
        if not 0.0 <= band[0] <= 1.0 <= band[1]:
            raise ValueError(f"dpft_fusion_js band must satisfy 0 <= low <= 1 <= high (x 1/{n}), got {band}")
        self.step, self.batch_size, self.band = step, batch_size, (float(band[0]), float(band[1]))
        self.p_min, self.p_max = band[0] / n, min(1.0, band[1] / n)
        self.last_statistic: dict[str, float] | None = None

    def separability(self, model: nn.Module, dataset: MultimodalDataset) -> dict[str, float]:
        """Mean JS divergence between shared and combination-specific fusion outputs per combination, VALID split."""
        if not isinstance(model, MCULoRA) or not model.combinations:
            raise ValueError(f"dpft_fusion_js needs an MCULoRA model with adapters, got {type(model).__name__}")
        totals = dict.fromkeys(self.combinations, 0.0)
        count = 0
        with eval_mode(model):
            for batch in dataset.loader("valid", batch_size=self.batch_size):
                batch = to_model(batch, model)
                positions = batch.get("positions")  # context: one term per utterance
                count += len(batch["mask"]) if positions is None else int(positions.sum())
                for combination in self.combinations:
                    parts = model.representations(restrict(batch, combination))
                    js = js_divergence(parts["shared"], parts["specific"])
                    totals[combination] += float(js.sum() if positions is None else js[positions.bool()].sum())
        return {c: total / count for c, total in totals.items()}

    def update(self, model: nn.Module, dataset: MultimodalDataset) -> None:
        """Re-weight from the change of the valid statistic since the last call, clip to the band, renormalise."""
        statistic = self.separability(model, dataset)
        if self.last_statistic is not None:
            change = torch.tensor([abs(statistic[c] - self.last_statistic[c]) for c in self.combinations])
            order = torch.argsort(change, stable=True)  # smallest change first
            weight = torch.empty(len(order), dtype=torch.float64)
            weight[order] = 0.5 ** torch.arange(len(order), dtype=torch.float64)
            self.probabilities = project_to_band(
                self.probabilities + self.step * (weight - weight.mean()), self.p_min, self.p_max
            )
        self.last_statistic = statistic
        self._record()
