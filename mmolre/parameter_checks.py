"""What the notebooks' shared parameters must be beyond their declared types, checked before any kernel starts:
:data:`CHECKS` maps a parameter name to its check (configurations field by field against their dataclasses, dataset
options against the loader, model, method, ablation and dataset names against the registries, seeds, rates, ranks).

The runner knows names and types only (:mod:`mmolre.runner.checks`); the command line hands it these checks, which
read the registries and the configuration dataclasses (and with them torch).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from mmolre.config import check_value
from mmolre.data.load import check_options
from mmolre.data.registry import DATASETS
from mmolre.messages import shown
from mmolre.models.registry import METHODS, MODELS, config_class
from mmolre.paths import check_profile
from mmolre.protocols.ablations import ABLATIONS
from mmolre.protocols.driver import arm_config
from mmolre.runner.checks import Check
from mmolre.train.config import TrainConfig


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
    if isinstance(value, Mapping) and "epochs" in value and "epochs" in values:
        raise ValueError("set epochs with the notebook's `epochs` parameter (it replaces train_config's epochs)")
    config = TrainConfig.from_dict(value)  # type: ignore[arg-type]
    if "methods" in values and config.modality_dropout > 0:  # the incomplete-modality notebook
        raise ValueError(
            f"{where}: modality_dropout must be 0 here, got {config.modality_dropout}: every method of `methods` "
            "sets its own modality sampling (full_only: full modalities, the others: one drawn combination per "
            "batch) and modality_dropout would drop modalities on top of it"
        )


def _epochs(value: object, values: dict[str, object], where: str) -> None:
    TrainConfig.from_dict({"epochs": value})


def _model_config(family: str | None) -> Check:
    def check(value: object, values: dict[str, object], where: str) -> None:
        model = family or values.get("model", "mmolre")
        config_class(str(model) if model in MODELS else "mmolre").from_dict(value)  # type: ignore[arg-type]

    return check


def _arm_configs(value: object, values: dict[str, object], where: str) -> None:
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
    check_options(str(values.get("dataset", "synthetic")), value)  # type: ignore[arg-type]


def _grids(value: object, values: dict[str, object], where: str) -> None:
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


CHECKS: dict[str, Check] = {
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
    "workers": _at_least(1),
}
"""Per notebook parameter: what its value must be beyond its declared type (nested configurations field by field
against their dataclasses, dataset options against the loader's signature, names against the registries themselves,
so that a plugin's models and datasets count)."""
