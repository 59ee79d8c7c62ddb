"""Combination samplers by name: what each incomplete-modality method draws its training combinations from.

- ``uniform``: :class:`~mmolre.protocols.combination_sampler.UniformSampler`, equal fixed probabilities;
- ``dpft_js`` / ``dpft_acc``: the April / August DPFT rules, :mod:`mmolre.protocols.dpft`;
- ``dpft_fusion_js``: our earlier rule, an ablation, :mod:`mmolre.protocols.fusion_js`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from mmolre.protocols.combination_sampler import UniformSampler
from mmolre.protocols.dpft import AccuracySampler, ModalityJSSampler
from mmolre.protocols.fusion_js import FusionJSSampler

SAMPLERS: dict[str, type[UniformSampler]] = {
    "uniform": UniformSampler,
    "dpft_js": ModalityJSSampler,
    "dpft_acc": AccuracySampler,
    "dpft_fusion_js": FusionJSSampler,
}
"""Sampler name -> class; every class takes the dataset's modalities and its own keyword options."""


def make_sampler(kind: str, modalities: Sequence[str], **options: object) -> UniformSampler:
    """A combination sampler of one of :data:`SAMPLERS` for the given modalities, with that sampler's options."""
    if kind not in SAMPLERS:
        raise ValueError(f"unknown combination sampler {kind!r}; expected one of {tuple(SAMPLERS)}")
    known = set(inspect.signature(SAMPLERS[kind]).parameters) - {"modalities"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"sampler {kind!r}: unknown option(s) {unknown}; known options are {sorted(known)}")
    return SAMPLERS[kind](modalities, **options)
