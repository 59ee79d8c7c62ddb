"""What a notebook parameter's value must be, checked before any kernel starts: its declared type (the
``parameters`` cell's annotation, :class:`mmolre.notebook_parameters.Parameter`) and, for the names the caller gives
checks for, what it must be beyond that (:func:`check_nested`; the command line gives
:data:`mmolre.parameter_checks.CHECKS`, which know the project's configurations and registries).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from mmolre.messages import cut, shown
from mmolre.notebook_parameters import Parameter
from mmolre.runner import RunnerError
from mmolre.runner.notebooks import notebook_defaults

Check = Callable[[object, dict[str, object], str], None]
"""``check(value, values, where)``: raise ValueError saying what is wrong with ``value`` (``values``: every value
the notebook will run with)."""
_FLOAT_TEXT = re.compile(r"[-+]?[\d.]+[eE][-+]?\d+")


def check_types(path: Path, values: dict[str, object], declared: dict[str, Parameter], source: str) -> None:
    """Refuse a value whose type differs from the notebook's declaration (``name: type = default``)."""
    for name, value in values.items():
        parameter = declared[name]
        if parameter.accepts(value):
            continue
        hint = ""
        if isinstance(value, str) and parameter.accepts(1.0) and _FLOAT_TEXT.fullmatch(value):
            hint = " (YAML reads 1e-3 as text: write 1.0e-3)"
        raise RunnerError(
            f"{path.name}: parameter {name!r} from {source} must be {parameter.expected()} "
            f"(declared `{parameter.declaration()}`), got {type(value).__name__} {shown(value)}{hint}"
        )


def check_nested(path: Path, values: dict[str, object], source: str, checks: Mapping[str, Check]) -> None:
    """Check the values a notebook will run with (its defaults overridden by ``values``) with ``checks`` (parameter
    name -> check) before any kernel starts: a RunnerError names the notebook, the parameter, where its value came
    from and what is wrong."""
    if not checks:
        return
    merged = {**notebook_defaults(path), **values}
    for name, check in checks.items():
        if name not in merged:
            continue
        try:
            check(merged[name], merged, name)
        except ValueError as error:
            origin = source if name in values else "the notebook's default"
            raise RunnerError(f"{path.name}: parameter {name!r} from {origin}: {cut(str(error), 400)}") from None
