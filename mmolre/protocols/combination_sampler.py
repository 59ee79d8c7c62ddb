"""The combination sampler every incomplete-modality method draws from, and the uniform baseline.

Each training mini-batch draws one modality combination; :func:`combination_hook` zeroes the other modalities'
features and narrows ``batch["mask"]`` accordingly (a ``train_model`` ``batch_hook``). After every epoch the
sampler's ``update(model, dataset)`` may re-weight the combinations (:class:`UniformSampler` never does: every
available non-empty combination keeps an equal, fixed probability). The DPFT rules that do re-weight are
:mod:`mmolre.protocols.dpft`; the registry of samplers by name is :mod:`mmolre.protocols.samplers`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.modalities import available_combinations, restrict
from mmolre.train.loop import BatchHook


class UniformSampler:
    """Draws each available combination with equal, fixed probability (the uniform modality-dropout baseline).

    Base class of every sampler: ``probabilities`` over ``combinations``, ``sample``, ``update`` and ``history``;
    ``state_dict`` / ``load_state_dict`` carry what the next draw and update depend on (the attributes named in
    ``_state``) and the history, as JSON values, so that a resumed run continues the same sampling.
    """

    _state: tuple[str, ...] = ("probabilities",)

    def __init__(self, modalities: Sequence[str]) -> None:
        self.combinations = available_combinations(modalities)
        if not self.combinations:
            raise ValueError(f"no modality combination is available for modalities {tuple(modalities)}")
        n = len(self.combinations)
        self.probabilities = torch.full((n,), 1.0 / n, dtype=torch.float64)
        self._rows: list[dict[str, float]] = []
        self._record()

    def _extra(self) -> dict[str, float]:
        """Further per-epoch columns of :attr:`history`."""
        return {}

    def _record(self) -> None:
        probabilities = dict(zip(self.combinations, self.probabilities.tolist()))
        self._rows.append({"epoch": len(self._rows), **probabilities, **self._extra()})

    def sample(self, generator: torch.Generator) -> str:
        """One combination name drawn with the current probabilities."""
        return self.combinations[int(torch.multinomial(self.probabilities, 1, generator=generator))]

    def update(self, model: nn.Module, dataset: MultimodalDataset) -> None:
        """Uniform probabilities never change; the epoch is still recorded in :attr:`history`."""
        self._record()

    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch (0 = before training), one column per combination (plus rule-specific columns)."""
        return pd.DataFrame(self._rows)

    def options(self) -> dict[str, object]:
        """The keyword options this sampler was built with (its constructor's parameters besides ``modalities``,
        each kept as the attribute of that name); with the class name, what a resumed run's sampler must match (see
        :mod:`mmolre.protocols.sampler_state`)."""
        names = [name for name in inspect.signature(type(self)).parameters if name != "modalities"]
        return {name: getattr(self, name) for name in names}

    def state_dict(self) -> dict[str, object]:
        """The sampler's state (``_state`` attributes) and history rows, as JSON values."""
        state = {name: getattr(self, name) for name in self._state}
        state["probabilities"] = self.probabilities.tolist()
        return {"state": state, "rows": [dict(row) for row in self._rows]}

    def load_state_dict(self, saved: Mapping[str, object]) -> None:
        """Take over a :meth:`state_dict` of a sampler of the same kind and combinations."""
        state = dict(saved["state"])  # type: ignore[arg-type]
        if sorted(state) != sorted(self._state) or len(state["probabilities"]) != len(self.combinations):
            raise ValueError(f"{type(self).__name__}: saved state {sorted(state)} does not fit this sampler")
        for name, value in state.items():
            setattr(self, name, value)
        self.probabilities = torch.tensor(state["probabilities"], dtype=torch.float64)
        self._rows = [dict(row) for row in saved["rows"]]  # type: ignore[union-attr]


def combination_hook(sampler: UniformSampler) -> BatchHook:
    """A ``train_model`` batch hook restricting each training batch to one combination drawn from ``sampler``."""

    def hook(batch: dict[str, torch.Tensor], epoch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return restrict(batch, sampler.sample(generator))

    return hook
