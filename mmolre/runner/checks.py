"""What a notebook parameter's value must be, checked before any kernel starts: its declared type (the
``parameters`` cell's annotation, :class:`mmolre.notebook_parameters.Parameter`) and, for the names the notebooks
share, what it must be beyond that (:func:`nested_checks`: configurations field by field against their dataclasses,
dataset options against the loader, names against the registries, so that a plugin's models and datasets count).

The registries and the configuration dataclasses (and with them torch) are imported when a check runs, never when
the runner is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from mmolre.config import check_value
from mmolre.messages import cut, shown
from mmolre.notebook_parameters import Parameter
from mmolre.paths import check_profile
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


def _names(known: Collection[str], what: str) -> Check:
    """A check that a value is a list of distinct names out of ``known``."""

    def check(value: object, values: dict[str, object], where: str) -> None:
        check_value(value, list[str], where)
        unknown = [name for name in value if name not in known]  # type: ignore[union-attr]
        if unknown:
            raise ValueError(f"{where}: unknown {what} {shown(unknown, 120)}; known: {', '.join(known)}")
        if len(set(value)) != len(value):  # type: ignore[arg-type]
            raise ValueError(f"{where}: a {what} is listed twice in {shown(value, 120)}")

    return check


def _name(known: Collection[str], what: str) -> Check:
    def check(value: object, values: dict[str, object], where: str) -> None:
        if value not in known:
            raise ValueError(f"{where}: unknown {what} {shown(value)}; known: {', '.join(known)}")

    return check


def _seeds(value: object, values: dict[str, object], where: str) -> None:
    check_value(value, list[int], where)
    if not value:
        raise ValueError(f"{where} is an empty list; give at least one seed")
    if any(not 0 <= seed < 2**32 for seed in value) or len(set(value)) != len(value):  # type: ignore[union-attr]
        raise ValueError(f"{where} must be distinct integers in [0, 2**32), got {shown(value, 120)}")


def _train_config(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.train.config import TrainConfig

    if isinstance(value, Mapping) and "epochs" in value and "epochs" in values:
        raise ValueError("set epochs with the notebook's `epochs` parameter (it replaces train_config's epochs)")
    TrainConfig.from_dict(value)  # type: ignore[arg-type]


def _epochs(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.train.config import TrainConfig

    TrainConfig.from_dict({"epochs": value})


def _model_config(family: str | None) -> Check:
    def check(value: object, values: dict[str, object], where: str) -> None:
        from mmolre.models.registry import MODELS, config_class

        model = family or values.get("model", "mmolre")
        config_class(str(model) if model in MODELS else "mmolre").from_dict(value)  # type: ignore[arg-type]

    return check


def _arm_configs(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.models.registry import config_class
    from mmolre.protocols.driver import arm_config

    check_value(value, dict[str, dict], where)
    models = values.get("models", [])
    unknown = [name for name in value if name not in models]  # type: ignore[union-attr]
    if unknown:
        raise ValueError(f"{where}: {shown(unknown, 120)} are not among the models {shown(models, 200)}")
    base = config_class("mmolre").from_dict(values.get("model_config") or {})  # type: ignore[arg-type]
    for name, overrides in value.items():  # type: ignore[union-attr]
        try:
            arm_config(name, base, overrides)
        except ValueError as error:
            raise ValueError(f"{where}[{name!r}]: {error}") from None


def _dataset_options(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.data.load import check_options

    check_options(str(values.get("dataset", "synthetic")), value)  # type: ignore[arg-type]


def _grids(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.protocols.ablations import ABLATIONS

    check_value(value, dict[str, list], where)
    _names(ABLATIONS, "ablation")(list(value), values, f"{where} keys")  # type: ignore[arg-type]


def _list_in(hint: object, low: float, high: float) -> Check:
    def check(value: object, values: dict[str, object], where: str) -> None:
        check_value(value, hint, where)
        if any(not low <= item <= high for item in value):  # type: ignore[union-attr]
            raise ValueError(f"{where}: every value must lie in [{low}, {high}], got {shown(value, 120)}")

    return check


def _at_least(low: int) -> Check:
    def check(value: object, values: dict[str, object], where: str) -> None:
        check_value(value, int, where)
        if value < low:  # type: ignore[operator]
            raise ValueError(f"{where} must be >= {low}, got {value}")

    return check


def _profiles(value: object, values: dict[str, object], where: str) -> None:
    check_value(value, list[str], where)
    for name in value:  # type: ignore[union-attr]
        check_profile(name)


def nested_checks() -> dict[str, Check]:
    """Per notebook parameter: what its value must be beyond its declared type (nested configurations are checked
    field by field against their dataclasses, dataset options against the loader's signature, names against the
    registries themselves, so that a plugin's models and datasets count)."""
    from mmolre.data.registry import DATASETS
    from mmolre.models.registry import METHODS, MODELS
    from mmolre.protocols.ablations import ABLATIONS

    return {
        "dataset": _name(DATASETS, "dataset"),
        "dataset_options": _dataset_options,
        "seeds": _seeds,
        "epochs": _epochs,
        "train_config": _train_config,
        "model_config": _model_config(None),
        "mmolre_config": _model_config("mmolre"),
        "mculora_config": _model_config("mculora"),
        "model": _name(MODELS, "model"),
        "models": _names(MODELS, "model"),
        "arm_configs": _arm_configs,
        "ablations": _names(ABLATIONS, "ablation"),
        "grids": _grids,
        "methods": _names(METHODS, "method"),
        "rank_method": _name(METHODS, "method"),
        "rates": _list_in(list[float], 0.0, 1.0),
        "ranks": _list_in(list[int], 1, 4096),
        "profiles": _profiles,
        "bootstrap_samples": _at_least(0),
        "seq_len": _at_least(1),
    }


def check_nested(path: Path, values: dict[str, object], source: str) -> None:
    """Check the values a notebook will run with (its defaults overridden by ``values``) before any kernel starts:
    a RunnerError names the notebook, the parameter, where its value came from and what is wrong."""
    merged = {**notebook_defaults(path), **values}
    for name, check in nested_checks().items():
        if name not in merged:
            continue
        try:
            check(merged[name], merged, name)
        except ValueError as error:
            origin = source if name in values else "the notebook's default"
            raise RunnerError(f"{path.name}: parameter {name!r} from {origin}: {cut(str(error), 400)}") from None
