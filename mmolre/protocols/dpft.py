"""Modality-combination sampling for incomplete-modality training: DPFT and the uniform baseline.

Each training mini-batch draws one modality combination; :func:`combination_hook` zeroes the other
modalities' features and narrows ``batch["mask"]`` accordingly (a ``train_model`` ``batch_hook``).

DPFT (dynamic parameter fine-tuning, MCULoRA arXiv 2507.11202) re-weights the combinations every epoch. Here,
from the VALID split only: for each combination ``c`` the valid set is fed with modalities restricted to ``c``
and the statistic ``s_c`` is the mean Jensen-Shannon divergence between the softmax of the fusion layer's
shared output and the softmax of its combination-specific output (how separable the combination's own
representation is from the shared one). Its change ``|s_c - s_c(previous epoch)|`` is ranked; the combination
that changed least (whose specific part is learning least) gets the largest boost, with weights halving down
the ranking (as in the public code). Probabilities then move by ``step * (weight - mean weight)``, are
projected back onto ``[p_min, p_max]`` with sum 1, where the band is ``band * uniform``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.modalities import available_combinations, restrict
from mmolre.models.base import eval_mode, model_device, to_device
from mmolre.models.mculora import MCULoRA
from mmolre.train.loop import BatchHook

SAMPLERS: tuple[str, ...] = ("uniform", "dpft")


def js_divergence(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """Per-row Jensen-Shannon divergence between ``softmax(p_logits)`` and ``softmax(q_logits)`` (last dim)."""
    log_p, log_q = F.log_softmax(p_logits, dim=-1), F.log_softmax(q_logits, dim=-1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - math.log(2.0)
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)
    return 0.5 * (kl_pm + kl_qm)


class UniformSampler:
    """Draws each available combination with equal, fixed probability (the uniform modality-dropout baseline)."""

    def __init__(self, modalities: Sequence[str]) -> None:
        self.combinations = available_combinations(modalities)
        if not self.combinations:
            raise ValueError(f"no modality combination is available for modalities {tuple(modalities)}")
        n = len(self.combinations)
        self.probabilities = torch.full((n,), 1.0 / n, dtype=torch.float64)
        self._rows: list[dict[str, float]] = []
        self._record(0)

    def _record(self, epoch: int) -> None:
        self._rows.append({"epoch": epoch, **{c: float(p) for c, p in zip(self.combinations, self.probabilities)}})

    def sample(self, generator: torch.Generator) -> str:
        """One combination name drawn with the current probabilities."""
        return self.combinations[int(torch.multinomial(self.probabilities, 1, generator=generator))]

    def update(self, model: nn.Module, dataset: MultimodalDataset) -> None:
        """Uniform probabilities never change; the epoch is still recorded in :attr:`history`."""
        self._record(len(self._rows))

    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch (0 = before training), one column per combination."""
        return pd.DataFrame(self._rows)


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


class DPFTScheduler(UniformSampler):
    """Per-combination sampling probabilities re-weighted each epoch from a valid-split separability statistic."""

    def __init__(
        self,
        modalities: Sequence[str],
        step: float = 0.05,
        band: tuple[float, float] = (0.5, 2.0),
        batch_size: int = 512,
    ) -> None:
        super().__init__(modalities)
        n = len(self.combinations)
        if step <= 0:
            raise ValueError(f"DPFT step must be > 0, got {step}")
        if not 0.0 <= band[0] <= 1.0 <= band[1]:
            raise ValueError(f"DPFT band must satisfy 0 <= low <= 1 <= high (multiples of 1/{n}), got {band}")
        self.step, self.batch_size = step, batch_size
        self.p_min, self.p_max = band[0] / n, min(1.0, band[1] / n)
        self.last_statistic: dict[str, float] | None = None

    def separability(self, model: nn.Module, dataset: MultimodalDataset) -> dict[str, float]:
        """Mean JS divergence between shared and combination-specific fusion outputs per combination, VALID split."""
        if not isinstance(model, MCULoRA):
            raise ValueError(f"DPFT needs a model with representations(batch) (MCULoRA); got {type(model).__name__}")
        device = model_device(model)
        totals = dict.fromkeys(self.combinations, 0.0)
        count = 0
        with eval_mode(model):
            for batch in dataset.loader("valid", batch_size=self.batch_size):
                batch = to_device(batch, device)
                count += len(batch["mask"])
                for combination in self.combinations:
                    parts = model.representations(restrict(batch, combination))
                    totals[combination] += float(js_divergence(parts["shared"], parts["specific"]).sum())
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
        self._record(len(self._rows))


def combination_hook(sampler: UniformSampler) -> BatchHook:
    """A ``train_model`` batch hook restricting each training batch to one combination drawn from ``sampler``."""

    def hook(batch: dict[str, torch.Tensor], epoch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return restrict(batch, sampler.sample(generator))

    return hook


def make_sampler(
    kind: str, modalities: Sequence[str], step: float = 0.05, band: tuple[float, float] = (0.5, 2.0)
) -> UniformSampler:
    """A combination sampler of one of :data:`SAMPLERS` for the given modalities."""
    if kind == "uniform":
        return UniformSampler(modalities)
    if kind == "dpft":
        return DPFTScheduler(modalities, step, band)
    raise ValueError(f"unknown combination sampler {kind!r}; expected one of {SAMPLERS}")
