"""Strict construction of the typed configuration dataclasses from plain mappings (YAML, notebook parameters)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeVar

C = TypeVar("C", bound="StrictConfig")


class StrictConfig:
    """Mixin for ``@dataclass`` configurations: ``from_dict`` refuses unknown keys, ``to_dict``, ``replace``."""

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, object]) -> C:
        """Build from a plain mapping; unknown keys raise ValueError naming them and the known fields."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; known fields are {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def replace(self: C, **changes: object) -> C:
        """A copy with some fields changed (unknown fields raise ValueError)."""
        return type(self).from_dict({**self.to_dict(), **changes})
