"""The single entry point for every data source: ``load_dataset(name, data_dir=None, **options)``.

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
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from mmolre.config import check_value
from mmolre.data.context import to_context
from mmolre.data.dataset import DataError, MultimodalDataset
from mmolre.data.iemocap import load_iemocap
from mmolre.data.mmsa import load_mmsa
from mmolre.data.mosei import load_mosei
from mmolre.data.mosi import load_mosi, load_mosi_bclstm
from mmolre.data.official import load_official
from mmolre.data.sources import FILES, Source, describe_source, verification
from mmolre.data.synthetic import SyntheticStructure, make_synthetic
from mmolre.messages import shown
from mmolre.paths import DATA_DIR_ENV
from mmolre.paths import data_dir as resolve_data_dir
from mmolre.plugins import import_env_plugins

LOADERS: dict[str, Callable[..., MultimodalDataset]] = {
    "synthetic": make_synthetic,
    "mosi": load_mosi,
    "mosi_bclstm": load_mosi_bclstm,
    "mosei": load_mosei,
    "iemocap": load_iemocap,
    "official": load_official,
    "mmsa": load_mmsa,
}
REAL: set[str] = {"mosi", "mosi_bclstm", "mosei", "iemocap"}
"""Datasets whose loader reads the data folder (``data_dir`` or ``$MMOLRE_DATA_DIR``)."""
_DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_dataset(
    name: str,
    loader: Callable[..., MultimodalDataset] | None = None,
    files: Mapping[str, Source] | None = None,
    needs_data_dir: bool | None = None,
    replace: bool = False,
) -> Callable:
    """Make ``load_dataset(name, **options)`` call ``loader(**options)``, without editing the package (see
    ``docs/extending.md``); without ``loader``, a decorator. Returns the loader.

    ``files`` (path inside the data folder -> :class:`~mmolre.data.sources.Source`) join the source table: the loader
    locates them with :func:`~mmolre.data.sources.require` (sha256-checked) and ``python -m mmolre data fetch``
    downloads them. A loader that reads the data folder (``needs_data_dir``, default: when it has files) is given
    ``data_dir``. A name already registered is refused unless ``replace``.
    """
    if loader is None:
        return lambda function: register_dataset(name, function, files, needs_data_dir, replace)
    if not isinstance(name, str) or not _DATASET_NAME.fullmatch(name):
        raise ValueError(f"dataset name must be lower-case letters, digits and '_', got {shown(name)}")
    if name in LOADERS and not replace:
        raise ValueError(f"dataset {name!r} is already registered; pass replace=True to replace it")
    if not callable(loader):
        raise ValueError(f"dataset {name!r}: the loader must be callable, got {type(loader).__name__}")
    files = dict(files or {})
    for relative, source in files.items():
        parts = PurePosixPath(str(relative)).parts
        if not parts or PurePosixPath(str(relative)).is_absolute() or ".." in parts or "\\" in str(relative):
            raise ValueError(f"dataset {name!r}: files key {shown(relative)} must be a path inside the data folder")
        if not isinstance(source, Source):
            raise ValueError(f"dataset {name!r}: files[{relative!r}] must be a Source, got {type(source).__name__}")
        if FILES.get(relative, source) != source and not replace:
            raise ValueError(f"dataset {name!r}: {relative} is already recorded with another source")
    LOADERS[name] = loader
    FILES.update(files)
    REAL.discard(name)
    if bool(files) if needs_data_dir is None else needs_data_dir:
        REAL.add(name)
    return loader


def option_types(name: str) -> dict[str, object]:
    """Keyword options accepted by the loader ``name`` (besides ``data_dir``) -> their type hints."""
    loader = LOADERS[name]
    hints = typing.get_type_hints(loader)
    parameters = [p for p in inspect.signature(loader).parameters.values() if p.kind is not p.VAR_KEYWORD]
    types = {p.name: hints.get(p.name, object) for p in parameters if p.name != "data_dir"}
    if name == "synthetic":
        structure = typing.get_type_hints(SyntheticStructure)
        types.update({f.name: structure[f.name] for f in dataclasses.fields(SyntheticStructure)})
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
    wanted = [relative for relative in FILES if relative.startswith(name.split("_")[0] + "/")]
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
    """Load ``name`` (one of :data:`LOADERS`) with loader-specific ``options_``; see :func:`options`.

    ``verify``: check every real file's sha256 (default: unless ``$MMOLRE_VERIFY_DATA=0``); ``False`` warns only.
    ``context``: one sample per video/dialogue (see :func:`mmolre.data.context.to_context`).
    The loader's options, defaults included, are recorded in ``notes["load_options"]`` (an export reads how the
    text was encoded there, see :mod:`mmolre.exported`).
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
    if name in REAL:
        if resolve_data_dir(data_dir) is None:
            raise DataError(_no_data_dir_message(name))
        if verify is None:
            return LOADERS[name](data_dir=data_dir, **options_)
        with verification(verify):
            return LOADERS[name](data_dir=data_dir, **options_)
    if name == "mmsa" and "path" not in options_:
        raise ValueError("dataset 'mmsa' needs path=<aligned_50.pkl or unaligned_50.pkl>")
    if name == "official":
        if verify is None:
            return load_official(data_dir=data_dir, **options_)
        with verification(verify):
            return load_official(data_dir=data_dir, **options_)
    return LOADERS[name](**options_)
