"""Strict construction of the typed configuration dataclasses from plain mappings (YAML, notebook parameters).

Every value is checked against the type hint of its field (:func:`check_value`), so a new field is checked as soon
as it is declared: ``int`` takes no bool, ``float`` takes an int, ``tuple[int, ...]`` a list or tuple of ints,
``X | None`` also None, ``Literal[...]`` one of its values, ``dict[K, V]`` a mapping of such keys and values.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from mmolre.messages import shown

C = TypeVar("C", bound="StrictConfig")
_SEQUENCES = (list, tuple, typing.Sequence, typing.MutableSequence)
_MAPPINGS = (dict, typing.Mapping, typing.MutableMapping)
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def describe(hint: object) -> str:
    """A type hint in words, e.g. ``list of int``, ``float or None``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if hint is type(None):
        return "None"
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin in _SEQUENCES or (origin is not None and issubclass(origin, tuple)):
        element = args[0] if args else Any
        return f"list of {describe(element)}" if element is not Any else "list"
    if origin in _MAPPINGS:
        return f"mapping of {describe(args[0])} to {describe(args[1])}" if args else "mapping"
    return getattr(hint, "__name__", str(hint))


def matches(value: object, hint: object) -> bool:
    """Whether ``value`` (as YAML or a notebook gives it) fits the type hint ``hint``."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any or hint is object:
        return True
    if origin in (Union, types.UnionType):
        return any(matches(value, arg) for arg in args)
    if hint is type(None) or hint is None:
        return value is None
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint in (list, tuple) or origin in _SEQUENCES:
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
        return all(matches(v, args[0]) for v in value) if args else True
    if hint is dict or origin in _MAPPINGS:
        if not isinstance(value, Mapping):
            return False
        key, item = args if args else (Any, Any)
        return all(matches(k, key) and matches(v, item) for k, v in value.items())
    return isinstance(value, hint) if isinstance(hint, type) else True


def check_value(value: object, hint: object, where: str) -> None:
    """Raise ValueError ``<where> must be <type>, got <type> <value>`` unless ``value`` fits ``hint``."""
    if matches(value, hint):
        return
    tip = ""
    if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()) and matches(1.0, hint):
        tip = " (YAML reads 1e-3 as text: write 1.0e-3)"
    raise ValueError(f"{where} must be {describe(hint)}, got {type(value).__name__} {shown(value)}{tip}")


def check_fields(hints: Mapping[str, object], values: Mapping[str, object], where: str) -> None:
    """Check a mapping of names to values against ``hints`` (name -> type hint): unknown names, then each value."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{where} must be a mapping of names to values, got {type(values).__name__} {shown(values)}")
    unknown = sorted(str(name) for name in set(values) - set(hints))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {shown(unknown, 200)}; known fields are {sorted(hints)}")
    for name, value in values.items():
        check_value(value, hints[name], f"{where}.{name}")


class StrictConfig:
    """Mixin for ``@dataclass`` configurations: ``from_dict`` refuses unknown keys and values of the wrong type,
    ``to_dict``, ``replace``."""

    @classmethod
    def field_types(cls) -> dict[str, object]:
        """Field name -> type hint, as the dataclass declares them."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, object]) -> C:
        """Build from a plain mapping; an unknown key or a value of the wrong type raises ValueError naming it."""
        check_fields(cls.field_types(), values, cls.__name__)
        return cls(**values)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def replace(self: C, **changes: object) -> C:
        """A copy with some fields changed (unknown fields raise ValueError)."""
        return type(self).from_dict({**self.to_dict(), **changes})
