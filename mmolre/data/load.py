"""The single entry point for every data source: ``load_dataset(name, data_dir=None, **options)``, for every
dataset of the registry (:mod:`mmolre.data.registry`, where each dataset is one record).

``synthetic`` needs no files. The real sources (``mosi``, ``mosi_bclstm``, ``mosei``, ``iemocap``) read the data
directory given by ``data_dir`` or ``$MMOLRE_DATA_DIR``; ``mmsa`` reads one MMSA pickle given by ``path``;
``official`` reads one dataset folder in the official GCNet/MCULoRA layout given by ``data_dir``
(:mod:`mmolre.data.official`). A missing directory or file gives a :class:`~mmolre.data.dataset.DataError` that says
where the files come from, and every file is checked against its recorded sha256 (``verify=False`` or
``$MMOLRE_VERIFY_DATA=0`` accepts other copies with a warning).

``context=True`` (any source with utterance-level features) gives one sample per video/dialogue with per-utterance
labels and a ``positions`` mask (:func:`mmolre.data.context.to_context`).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Mapping
from pathlib import Path

from mmolre.config import check_value
from mmolre.data.context import to_context
from mmolre.data.dataset import DataError, MultimodalDataset
from mmolre.data.registry import DATASETS, LOADERS, REAL, dataset_spec, takes_data_dir
from mmolre.data.sources import describe_source, verification
from mmolre.messages import shown
from mmolre.paths import DATA_DIR_ENV
from mmolre.paths import data_dir as resolve_data_dir
from mmolre.plugins import import_env_plugins

__all__ = ["LOADERS", "REAL", "check_options", "load_dataset", "option_types", "options"]


def option_types(name: str) -> dict[str, object]:
    """Keyword options accepted by the loader ``name`` (besides ``data_dir``) -> their type hints."""
    spec = dataset_spec(name)
    hints = typing.get_type_hints(spec.loader)
    parameters = [p for p in inspect.signature(spec.loader).parameters.values() if p.kind is not p.VAR_KEYWORD]
    types = {p.name: hints.get(p.name, object) for p in parameters if p.name != "data_dir"}
    if spec.keyword_options is not None:
        extra = typing.get_type_hints(spec.keyword_options)
        types.update({f.name: extra[f.name] for f in dataclasses.fields(spec.keyword_options)})
    return types


def options(name: str) -> list[str]:
    """Keyword options accepted by the loader ``name`` (besides ``data_dir``)."""
    return list(option_types(name))


def check_options(name: str, values: Mapping[str, object], where: str = "") -> None:
    """Refuse an unknown dataset name, an unknown keyword of ``load_dataset(name, ...)`` (the loader's options,
    ``verify``, ``context``) or a value of the wrong type (ValueError naming ``where``, the dataset and the option)."""
    if name not in LOADERS:
        raise ValueError(f"{where}unknown dataset {shown(name)}; valid names: {sorted(LOADERS)}")
    hints = typing.get_type_hints(load_dataset)
    types = {**option_types(name), "verify": hints["verify"], "context": hints["context"]}
    if not isinstance(values, Mapping):
        raise ValueError(f"{where}options of dataset {name!r} must be a mapping, got {type(values).__name__}")
    unknown = sorted(str(option) for option in set(values) - set(types))
    if unknown:
        raise ValueError(
            f"{where}unknown option(s) {shown(unknown, 200)} for dataset {name!r}; valid options: {list(types)}"
        )
    for option, value in values.items():
        check_value(value, types[option], f"{where}option {option!r} of dataset {name!r}")


def _no_data_dir_message(name: str) -> str:
    wanted = list(DATASETS[name].files)
    lines = "\n".join(f"  - {describe_source(relative)}" for relative in wanted)
    return (
        f"dataset {name!r} needs real data files but no data directory is set (pass data_dir=... or set "
        f"${DATA_DIR_ENV}). Files and their public sources:\n{lines}\n"
        "`python -m mmolre data fetch --dir <data dir>` downloads them all. Without them, use "
        "load_dataset('synthetic')."
    )


def load_dataset(
    name: str, data_dir: str | Path | None = None, verify: bool | None = None, context: bool = False, **options_: object
) -> MultimodalDataset:
    """Load ``name`` (a registered dataset, :data:`~mmolre.data.registry.DATASETS`) with loader-specific
    ``options_``; see :func:`options`.

    ``verify``: check every real file's sha256 (default: unless ``$MMOLRE_VERIFY_DATA=0``); ``False`` warns only.
    ``context``: one sample per video/dialogue (see :func:`mmolre.data.context.to_context`).
    The loader's options, defaults included, are recorded in ``notes["load_options"]`` (an export reads how the
    text was encoded there, see :mod:`mmolre.exports`).
    """
    if name not in LOADERS:
        import_env_plugins()  # a notebook kernel imports the plugins its parameter file named
    data = _load(name, data_dir, verify, **options_)
    parameters = inspect.signature(LOADERS[name]).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty and p.name != "data_dir"}
    data.notes = {**data.notes, "load_options": {"dataset": name, **defaults, **options_}}
    return to_context(data) if context else data


def _load(name: str, data_dir: str | Path | None, verify: bool | None, **options_: object) -> MultimodalDataset:
    check_options(name, options_)
    spec = DATASETS[name]
    if spec.needs_data_dir and resolve_data_dir(data_dir) is None:
        raise DataError(_no_data_dir_message(name))
    parameters = inspect.signature(spec.loader).parameters.values()
    required = [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "data_dir"
    ]
    missing = [option for option in required if option not in options_]
    if missing:
        raise ValueError(f"dataset {name!r} needs the option(s) {', '.join(f'{m}=...' for m in missing)}")
    arguments = {"data_dir": data_dir, **options_} if takes_data_dir(spec) else dict(options_)
    if verify is None:
        return spec.loader(**arguments)
    with verification(verify):
        return spec.loader(**arguments)
