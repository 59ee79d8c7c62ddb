"""DPFT: the two official rules that re-weight the modality combinations during training.

Every statistic is measured on the VALID split only (the official code measures on the test split; we never do).

- ``dpft_js``: DPFT as first published (gdace829/MCULoRA, April 2025 code). Per-modality Bernoulli sampling: each
  available modality is kept with probability ``p_m`` (start 0.5). Statistic of combination ``k``: the mean over
  the modalities ``m`` in ``k`` of the Jensen-Shannon divergence between the softmax (over features, per time
  step) of modality ``m``'s main-path encoder output and of combination ``k``'s stream for ``m``, measured on the
  valid split with all of its modalities present. The first update stores the statistics as the reference
  (official: epoch 0, never updated); each later update sorts the combinations by ``|s_k - s_k(ref)|``
  ascending (ties: the official combination order atv, at, av, tv, a, t, v) and, for the i-th combination in
  that order, moves every ``p_m`` by ``step * 2**-i`` (+ when ``m`` is in the combination, - otherwise), clipping
  to ``clip`` after each combination (official: step 0.003, clip [0.4, 0.6]). The combination that changed
  least gets the largest push towards its modalities. *Ours*: the textbook JS divergence (the official code
  computes 0.5 [KL(M||P) + KL(M||Q)]); a draw that leaves no modality is drawn again (the official April code
  trains on it with an adapter of its own; we build no adapter for the empty combination), so the combination
  probabilities are the Bernoulli ones conditioned on a non-empty draw.
- ``dpft_acc``: DPFT as in the later official code (August 2025). Per-combination accuracy on the valid split
  restricted to that combination: the first of :data:`ACCURACY_METRICS` the evaluation reports, i.e. Non0 Acc-2 for
  sentiment regression (the official MOSI/MOSEI accuracy), WA for four-class emotions (IEMOCAP, the official
  accuracy), mean emotion WA for multi-label emotions. From the second update on, ``D_k`` = accuracy change
  since the previous update,
  ``score_k = min(1.5, (sum D - D_k) / sum D)`` (0 when ``sum D = 0``), ``q_k = 0.8 (1 + tan(score_k - 1))``,
  negative ``q`` set to 0, normalised (uniform when all are 0); ``q`` are the combination sampling probabilities.
  As published, ``tan`` is not bounded below: a score under ``1 - pi/2`` lands past the pole and gives a large
  positive weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.modalities import MODALITIES, combination_modalities
from mmolre.models.base import eval_mode, to_model
from mmolre.models.mculora import Encoded, MCULoRA
from mmolre.protocols.combination_sampler import UniformSampler
from mmolre.train.evaluation import evaluate

ACCURACY_METRICS: tuple[str, ...] = ("acc2_non0", "wa", "emo_wa")
"""The ``dpft_acc`` accuracy: the first of these metrics that the evaluation of the model reports."""
OFFICIAL_ORDER: tuple[str, ...] = ("atv", "at", "av", "tv", "a", "t", "v")
"""The official code's combination indices 0..6 (tie order of the April rule)."""


def js_divergence(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence between ``softmax(p_logits)`` and ``softmax(q_logits)`` over the last dim."""
    log_p, log_q = F.log_softmax(p_logits, dim=-1), F.log_softmax(q_logits, dim=-1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - math.log(2.0)
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)
    return 0.5 * (kl_pm + kl_qm)


def utterance_weights(encoded: Encoded, modality: str) -> torch.Tensor:
    """(B, L) weights that give every utterance where ``modality`` is present a total weight of one: spread evenly
    over its real time steps, or one per real position for utterance context."""
    main = encoded.main[modality]
    steps = encoded.steps[modality]
    steps = main.new_ones(main.shape[:2], dtype=torch.float64) if steps is None else steps.double()
    if not encoded.context:
        steps = steps / steps.sum(dim=1, keepdim=True).clamp(min=1.0)
    return steps * encoded.mask[:, MODALITIES.index(modality)].double()[:, None]


def _stream_model(model: nn.Module, rule: str) -> MCULoRA:
    if not isinstance(model, MCULoRA) or model.inline or not model.combinations:
        raise ValueError(
            f"{rule} needs an MCULoRA model with combination streams (registered name 'mculora'), "
            f"got {getattr(model, 'name', type(model).__name__)!r}"
        )
    return model


def js_rule_step(
    p: Mapping[str, float], change: Mapping[str, float], step: float = 0.003, clip: tuple[float, float] = (0.4, 0.6)
) -> dict[str, float]:
    """One April-rule update of the per-modality probabilities ``p`` from the per-combination ``change``."""
    p = dict(p)
    order = sorted(change, key=lambda c: (change[c], OFFICIAL_ORDER.index(c)))
    for i, combination in enumerate(order):
        members = set(combination_modalities(combination))
        for m in p:
            p[m] += step * 0.5**i * (1.0 if m in members else -1.0)
            p[m] = min(max(p[m], clip[0]), clip[1])
    return p


class ModalityJSSampler(UniformSampler):
    """``dpft_js``: per-modality Bernoulli sampling moved by the April JS rule (see the module docstring)."""

    _state = ("probabilities", "p", "reference")

    def __init__(
        self,
        modalities: Sequence[str],
        step: float = 0.003,
        clip: Sequence[float] = (0.4, 0.6),
        batch_size: int = 512,
    ) -> None:
        low, high = (float(v) for v in clip)
        if step <= 0 or not 0.0 < low <= 0.5 <= high < 1.0:
            raise ValueError(f"dpft_js needs step > 0 and 0 < clip low <= 0.5 <= clip high < 1, got {step}, {clip}")
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.p = dict.fromkeys(self.modalities, 0.5)
        self.step, self.clip, self.batch_size = step, (low, high), batch_size
        self.reference: dict[str, float] | None = None
        super().__init__(modalities)  # every p_m = 0.5: the implied combination probabilities are uniform

    def _extra(self) -> dict[str, float]:
        return {f"p_{m}": p for m, p in self.p.items()}

    def implied_probabilities(self) -> torch.Tensor:
        """Probability of each combination under the Bernoulli draws, conditioned on a non-empty draw."""
        raw = torch.tensor(
            [
                math.prod(self.p[m] if m in combination_modalities(c) else 1.0 - self.p[m] for m in self.modalities)
                for c in self.combinations
            ],
            dtype=torch.float64,
        )
        return raw / raw.sum()

    def sample(self, generator: torch.Generator) -> str:
        """Keep each modality with its probability; redraw while nothing is kept."""
        p = torch.tensor([self.p[m] for m in self.modalities], dtype=torch.float64)
        while True:
            kept = torch.rand(len(p), generator=generator, dtype=torch.float64) < p
            if kept.any():
                chosen = {m for m, keep in zip(self.modalities, kept.tolist()) if keep}
                return next(c for c in self.combinations if set(combination_modalities(c)) == chosen)

    def statistic(self, model: nn.Module, dataset: MultimodalDataset) -> dict[str, float]:
        """Per combination, the mean over its modalities of the main-vs-stream JS divergence (VALID split)."""
        model = _stream_model(model, "dpft_js")
        totals = {(c, m): 0.0 for c in self.combinations for m in combination_modalities(c)}
        counts = dict.fromkeys(self.modalities, 0.0)
        with eval_mode(model):
            for batch in dataset.loader("valid", batch_size=self.batch_size):
                encoded = model.encode(to_model(batch, model), self.combinations)
                for m in self.modalities:
                    weight = utterance_weights(encoded, m)
                    counts[m] += float(weight.sum())
                    for c in self.combinations:
                        if (c, m) in totals:
                            js = js_divergence(encoded.main[m], encoded.streams[m][c]).double()  # (B, L)
                            totals[(c, m)] += float((js * weight).sum())
        return {
            c: sum(totals[(c, m)] / max(counts[m], 1.0) for m in combination_modalities(c))
            / len(combination_modalities(c))
            for c in self.combinations
        }

    def update(self, model: nn.Module, dataset: MultimodalDataset) -> None:
        """First call: store the reference statistics; later calls: one :func:`js_rule_step` from the change."""
        statistic = self.statistic(model, dataset)
        if self.reference is None:
            self.reference = statistic
        else:
            change = {c: abs(statistic[c] - self.reference[c]) for c in self.combinations}
            self.p = js_rule_step(self.p, change, self.step, self.clip)
            self.probabilities = self.implied_probabilities()
        self._record()


def accuracy_rule_probabilities(delta: Sequence[float]) -> torch.Tensor:
    """August-rule sampling probabilities from the per-combination accuracy changes ``delta``."""
    total = float(sum(delta))
    scores = [min((total - d) / total, 1.5) if total != 0 else 0.0 for d in delta]
    q = torch.tensor([max(0.8 * (1.0 + math.tan(s - 1.0)), 0.0) for s in scores], dtype=torch.float64)
    return q / q.sum() if float(q.sum()) > 0 else torch.full_like(q, 1.0 / len(q))


class AccuracySampler(UniformSampler):
    """``dpft_acc``: combination probabilities from the August accuracy-change rule (see the module docstring)."""

    _state = ("probabilities", "last")

    def __init__(self, modalities: Sequence[str], batch_size: int = 512) -> None:
        super().__init__(modalities)
        self.batch_size = batch_size
        self.last: dict[str, float] | None = None

    def accuracies(self, model: nn.Module, dataset: MultimodalDataset) -> dict[str, float]:
        """Accuracy (:data:`ACCURACY_METRICS`) per combination, VALID split restricted to the combination."""
        result = {}
        for c in self.combinations:
            metrics = evaluate(model, dataset, "valid", mask_override=c, batch_size=self.batch_size)
            result[c] = next(metrics[name] for name in ACCURACY_METRICS if name in metrics)
        return result

    def update(self, model: nn.Module, dataset: MultimodalDataset) -> None:
        """From the second call on, probabilities from the accuracy change since the previous call."""
        accuracy = self.accuracies(model, dataset)
        if self.last is not None:
            self.probabilities = accuracy_rule_probabilities([accuracy[c] - self.last[c] for c in self.combinations])
        self.last = accuracy
        self._record()
