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

import inspect
from collections.abc import Callable
from pathlib import Path

from mmolre.data.context import to_context
from mmolre.data.dataset import DataError, MultimodalDataset
from mmolre.data.iemocap import load_iemocap
from mmolre.data.mmsa import load_mmsa
from mmolre.data.mosei import load_mosei
from mmolre.data.mosi import load_mosi, load_mosi_bclstm
from mmolre.data.official import load_official
from mmolre.data.sources import FILES, describe_source, verification
from mmolre.data.synthetic import SyntheticStructure, make_synthetic
from mmolre.paths import DATA_DIR_ENV
from mmolre.paths import data_dir as resolve_data_dir

LOADERS: dict[str, Callable[..., MultimodalDataset]] = {
    "synthetic": make_synthetic,
    "mosi": load_mosi,
    "mosi_bclstm": load_mosi_bclstm,
    "mosei": load_mosei,
    "iemocap": load_iemocap,
    "official": load_official,
    "mmsa": load_mmsa,
}
REAL = ("mosi", "mosi_bclstm", "mosei", "iemocap")


def options(name: str) -> list[str]:
    """Keyword options accepted by the loader ``name`` (besides ``data_dir``)."""
    parameters = [p for p in inspect.signature(LOADERS[name]).parameters.values() if p.kind is not p.VAR_KEYWORD]
    names = [p.name for p in parameters if p.name != "data_dir"]
    if name == "synthetic":
        names += [f.name for f in SyntheticStructure.__dataclass_fields__.values()]
    return names


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
    data = _load(name, data_dir, verify, **options_)
    parameters = inspect.signature(LOADERS[name]).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty and p.name != "data_dir"}
    data.notes = {**data.notes, "load_options": {"dataset": name, **defaults, **options_}}
    return to_context(data) if context else data


def _load(name: str, data_dir: str | Path | None, verify: bool | None, **options_: object) -> MultimodalDataset:
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {sorted(LOADERS)}")
    valid = options(name)
    unknown = sorted(set(options_) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for dataset {name!r}; valid options: {valid}")
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
