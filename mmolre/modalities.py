"""The one owner of modalities: names, presence masks, combinations, test conditions, applicability and zeroing.

A presence mask is a bool tensor ``(..., 3)`` over :data:`MODALITIES`. A *combination* is a set of modalities
written with one letter each (a = audio, t = text, v = vision) in the fixed order of :data:`CONDITIONS`;
``"none"`` is the empty combination. A masked-out modality is always represented by zeros in its features
(:func:`zero_missing`), and every model, sampler and protocol goes through the functions here to get there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch

MODALITIES: tuple[str, ...] = ("text", "audio", "vision")
LETTERS: dict[str, str] = {"a": "audio", "t": "text", "v": "vision"}
"""Condition letter -> modality name."""
CONDITIONS: tuple[str, ...] = ("a", "t", "v", "at", "av", "tv", "atv")
"""The fixed incomplete-modality test conditions, i.e. the non-empty combinations."""
COMBINATIONS: tuple[str, ...] = ("none", *CONDITIONS)
"""Index -> combination name; index 0 is the empty combination."""


def presence_mask(n: int, modalities: Iterable[str]) -> torch.Tensor:
    """A bool ``(n, 3)`` mask over :data:`MODALITIES` marking ``modalities`` present in every sample."""
    wanted = set(modalities)
    present = torch.tensor([m in wanted for m in MODALITIES], dtype=torch.bool)
    return present.expand(n, len(MODALITIES)).clone()


def combination_modalities(name: str) -> tuple[str, ...]:
    """Modalities of a combination name (``"none"`` -> ``()``), in :data:`MODALITIES` order."""
    if name not in COMBINATIONS:
        raise ValueError(f"unknown modality combination {name!r}; expected one of {COMBINATIONS}")
    present = {LETTERS[letter] for letter in name if name != "none"}
    return tuple(m for m in MODALITIES if m in present)


def combination_mask(name: str) -> torch.Tensor:
    """The (3,) bool mask over :data:`MODALITIES` of a combination name."""
    present = combination_modalities(name)
    return torch.tensor([m in present for m in MODALITIES], dtype=torch.bool)


def applicable(combination: str, modalities: Sequence[str]) -> bool:
    """Whether every modality of ``combination`` is among ``modalities`` (e.g. a dataset's modalities)."""
    return set(combination_modalities(combination)) <= set(modalities)


def available_combinations(modalities: Sequence[str]) -> tuple[str, ...]:
    """The non-empty combinations (in :data:`CONDITIONS` order) that use only the given modalities."""
    return tuple(c for c in CONDITIONS if applicable(c, modalities))


def _code(mask: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([1 << i for i in range(len(MODALITIES))], device=mask.device)
    return (mask.long() * weights).sum(-1)


_CODE_TO_INDEX = torch.empty(1 << len(MODALITIES), dtype=torch.long)
for _index, _name in enumerate(COMBINATIONS):
    _CODE_TO_INDEX[int(_code(combination_mask(_name)))] = _index


def combination_index(mask: torch.Tensor) -> torch.Tensor:
    """Map a (..., 3) bool mask over :data:`MODALITIES` to combination indices into :data:`COMBINATIONS`."""
    mask = torch.as_tensor(mask)
    if mask.shape[-1:] != (len(MODALITIES),):
        raise ValueError(
            f"mask must have last dimension {len(MODALITIES)} over {MODALITIES}, got shape {tuple(mask.shape)}"
        )
    return _CODE_TO_INDEX.to(mask.device)[_code(mask.bool())]


def zero_missing(features: Mapping[str, torch.Tensor], mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Features ``{modality: (n, L, d) or (n, T) token ids}`` with every modality that ``mask`` (n, 3) marks missing
    set to zero (token id 0 is padding)."""
    mask = mask.bool()
    return {
        m: values * mask[:, MODALITIES.index(m)].reshape(-1, *[1] * (values.ndim - 1)).to(values.dtype)
        for m, values in features.items()
    }


def restrict(batch: Mapping[str, torch.Tensor], keep: torch.Tensor | str) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` whose ``mask`` is ANDed with ``keep`` (a (3,) mask or a combination name), dropped
    modalities zeroed."""
    keep = combination_mask(keep) if isinstance(keep, str) else torch.as_tensor(keep, dtype=torch.bool)
    if keep.shape != (len(MODALITIES),):
        raise ValueError(
            f"a modality restriction must be {len(MODALITIES)} booleans over {MODALITIES}, "
            f"got shape {tuple(keep.shape)}"
        )
    mask = batch["mask"].bool() & keep.to(batch["mask"].device)
    features = {m: batch[m] for m in MODALITIES if m in batch}
    return {**batch, **zero_missing(features, mask), "mask": mask}


def drop_modalities(
    batch: Mapping[str, torch.Tensor], rate: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Modality dropout for training: every present modality of every sample is dropped with probability ``rate``
    (``generator`` draws), except that a sample never loses all of them (where every draw drops, the sample keeps
    its mask); dropped modalities are zeroed like any missing one."""
    mask = batch["mask"].bool()
    keep = torch.rand(mask.shape, generator=generator).to(mask.device) >= rate
    dropped = mask & keep
    dropped = torch.where(dropped.any(dim=-1, keepdim=True), dropped, mask)
    features = {m: batch[m] for m in MODALITIES if m in batch}
    return {**batch, **zero_missing(features, dropped), "mask": dropped}
