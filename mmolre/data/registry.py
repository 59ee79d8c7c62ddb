"""The dataset registry: one record per dataset (:class:`DatasetSpec`: its loader, its files and their public
sources, how tables name it, what features a run of it used, the tasks its labels give and its leakage probe), read
by :func:`mmolre.data.load.load_dataset`, the parameter checks, ``python -m mmolre data``, the results tables and the
notebooks. :func:`register_dataset` adds one without editing the package (see ``docs/extending.md``).

Records are kept in the order they were registered, which is the order results tables and figures show datasets in.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from mmolre.data.dataset import MultimodalDataset
from mmolre.data.encoders import frozen_layers_phrase
from mmolre.data.iemocap import load_iemocap
from mmolre.data.mmsa import load_mmsa
from mmolre.data.mosei import load_mosei
from mmolre.data.mosi import load_mosi, load_mosi_bclstm
from mmolre.data.official import load_official
from mmolre.data.sources import FILES, Source
from mmolre.data.synthetic import SyntheticStructure, make_synthetic
from mmolre.messages import shown
from mmolre.plugins import import_env_plugins

Describe = Callable[[Mapping[str, object], "str | None"], str]
"""``describe(options, label)``: the features a run used, from the dataset's load options (``label``: the name of a
text-encoder setting when a run compared several)."""
_DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset, as everything outside its loader needs to know it."""

    name: str
    """The name ``load_dataset`` and parameter files use (lower-case letters, digits and ``_``)."""
    loader: Callable[..., MultimodalDataset]
    """``loader(**options)`` returns the dataset (given ``data_dir`` when its signature takes it)."""
    files: Mapping[str, Source] = field(default_factory=dict)
    """Path inside the data folder -> public source, sha256-checked; they join :data:`mmolre.data.sources.FILES`."""
    needs_data_dir: bool = False
    """The loader reads the data folder (``data_dir`` or ``$MMOLRE_DATA_DIR``), which must then be set."""
    display_name: str = ""
    """How tables and figures name the data (default: :attr:`name`)."""
    features: str | Describe = ""
    """The features a run used: a fixed sentence, or ``describe(options, label)`` (default: the name)."""
    tasks: tuple[str, ...] = ()
    """The tasks its labels can give (a loader option may leave some out), from :data:`mmolre.tasks.TASKS`."""
    leakage_probe: Callable[[str | None], pd.DataFrame] | None = None
    """``probe(data_dir)``: notebook 01's check that the features do not leak the labels (None: none recorded)."""
    keyword_options: type | None = None
    """A dataclass whose fields (with their type hints) are the options the loader takes through ``**options``
    (the synthetic data's planted structure); None: the loader's named parameters are all its options."""

    @property
    def label(self) -> str:
        """The name tables and figures show."""
        return self.display_name or self.name

    def describe_features(self, options: Mapping[str, object], label: str | None = None) -> str:
        """The features a run with load ``options`` used (``, utterance context`` when ``context`` was set)."""
        context = ", utterance context" if options.get("context") else ""
        if callable(self.features):
            return self.features(options, label) + context
        return (self.features or self.name) + context


DATASETS: dict[str, DatasetSpec] = {}
"""Every registered dataset by name, in the order of registration."""


class _View(Mapping[str, object]):
    """A read-only view of :data:`DATASETS` that stays current (a plugin's registrations included)."""

    def __init__(self, value: Callable[[DatasetSpec], object], keep: Callable[[DatasetSpec], bool] = bool) -> None:
        self._value, self._keep = value, keep

    def __getitem__(self, name: str) -> object:
        spec = DATASETS[name]
        if not self._keep(spec):
            raise KeyError(name)
        return self._value(spec)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, spec in DATASETS.items() if self._keep(spec)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(dict(self))


LOADERS: Mapping[str, Callable[..., MultimodalDataset]] = _View(lambda spec: spec.loader)  # type: ignore[assignment]
"""Dataset name -> loader, for every registered dataset."""
REAL: Mapping[str, DatasetSpec] = _View(lambda spec: spec, lambda spec: spec.needs_data_dir)  # type: ignore[assignment]
"""The datasets whose loader reads the data folder (``name in REAL``)."""


def _check_files(name: str, files: Mapping[str, Source], replace: bool) -> None:
    own = DATASETS[name].files if name in DATASETS else {}
    for relative, source in files.items():
        parts = PurePosixPath(str(relative)).parts
        if not parts or PurePosixPath(str(relative)).is_absolute() or ".." in parts or "\\" in str(relative):
            raise ValueError(f"dataset {name!r}: files key {shown(relative)} must be a path inside the data folder")
        if not isinstance(source, Source):
            raise ValueError(f"dataset {name!r}: files[{relative!r}] must be a Source, got {type(source).__name__}")
        if FILES.get(relative, source) != source and not (replace and relative in own):
            raise ValueError(f"dataset {name!r}: {relative} is already recorded with another source")


def register_dataset(
    spec: DatasetSpec | str,
    loader: Callable[..., MultimodalDataset] | None = None,
    files: Mapping[str, Source] | None = None,
    needs_data_dir: bool | None = None,
    replace: bool = False,
    **record: object,
) -> Callable:
    """Register a dataset without editing the package: ``register_dataset(DatasetSpec(...))``, or
    ``register_dataset(name, loader, files=..., needs_data_dir=..., display_name=..., features=..., tasks=...)``
    (without ``loader``, a decorator). Returns the loader.

    ``files`` (path inside the data folder -> :class:`~mmolre.data.sources.Source`) join the source table: the loader
    locates them with :func:`~mmolre.data.sources.require` (sha256-checked) and ``python -m mmolre data fetch``
    downloads them. ``needs_data_dir`` defaults to whether it has files. A name already registered is refused unless
    ``replace``; a replaced dataset's files leave the source table unless another dataset records them too.
    """
    if isinstance(spec, str):
        if loader is None:
            return lambda function: register_dataset(spec, function, files, needs_data_dir, replace, **record)
        files = dict(files or {})
        wants_folder = bool(files) if needs_data_dir is None else needs_data_dir
        try:
            spec = DatasetSpec(spec, loader, files, wants_folder, **record)  # type: ignore[arg-type]
        except TypeError as error:
            raise ValueError(f"dataset {spec!r}: {error}") from None
    elif not isinstance(spec, DatasetSpec) or loader is not None or files is not None or record:
        raise ValueError("register_dataset takes a DatasetSpec alone, or a name, a loader and the record's fields")
    name = spec.name
    if not isinstance(name, str) or not _DATASET_NAME.fullmatch(name):
        raise ValueError(f"dataset name must be lower-case letters, digits and '_', got {shown(name)}")
    if name in DATASETS and not replace:
        raise ValueError(f"dataset {name!r} is already registered; pass replace=True to replace it")
    if not callable(spec.loader):
        raise ValueError(f"dataset {name!r}: the loader must be callable, got {type(spec.loader).__name__}")
    if spec.keyword_options is not None and not (
        isinstance(spec.keyword_options, type) and is_dataclass(spec.keyword_options)
    ):
        raise ValueError(f"dataset {name!r}: keyword_options must be a dataclass, got {shown(spec.keyword_options)}")
    _check_files(name, spec.files, replace)
    old = DATASETS.pop(name, None)
    if old is not None:
        shared = {relative for other in DATASETS.values() for relative in other.files}
        for relative in set(old.files) - set(spec.files) - shared:
            FILES.pop(relative, None)
    DATASETS[name] = spec
    FILES.update(spec.files)
    return spec.loader


def dataset_spec(name: str) -> DatasetSpec:
    """The record of a registered dataset, also by the name of its data (``MultimodalDataset.name``, which may be
    ``<dataset>_<variant>``, e.g. ``synthetic_mosei``); a ValueError listing the known names otherwise."""
    if name not in DATASETS:
        import_env_plugins()  # a notebook kernel imports the plugins its parameter file named
    if name in DATASETS:
        return DATASETS[name]
    prefixes = [known for known in DATASETS if name.startswith(f"{known}_")]
    if prefixes:
        return DATASETS[max(prefixes, key=len)]
    raise ValueError(f"unknown dataset {shown(name)}; valid names: {sorted(DATASETS)}")


def display_name(name: str) -> str:
    """How tables name a dataset or its data (the name itself when no record has it)."""
    try:
        return dataset_spec(name).label
    except ValueError:
        return name


def display_order() -> list[str]:
    """Display names in the order of registration (the order results show datasets in)."""
    return list(dict.fromkeys(spec.label for spec in DATASETS.values()))


def takes_data_dir(spec: DatasetSpec) -> bool:
    """Whether the loader's signature has a ``data_dir`` parameter."""
    return "data_dir" in inspect.signature(spec.loader).parameters


def text_description(options: Mapping[str, object], label: str | None = None) -> str:
    """How the text reached the model: encoder, frozen or fine-tuned (``label``: an encoder setting's own name)."""
    encoder = Path(str(options.get("encoder") or "all-MiniLM-L6-v2")).name
    if label:
        return f"{encoder} ({label})"
    kind = str(options.get("text_kind", "sentence"))
    if kind == "finetune":
        return f"{encoder} fine-tuned ({frozen_layers_phrase(int(options.get('freeze_layers', 0) or 0))})"
    return f"{encoder} {'token states' if kind == 'tokens' else 'sentence vectors'}, frozen"


def _text_only(options: Mapping[str, object], label: str | None) -> str:
    return f"{text_description(options, label)} text only"


def _mosi(options: Mapping[str, object], label: str | None) -> str:
    if options.get("audio") is False:
        return _text_only(options, label)
    return f"{text_description(options, label)} text + bc-LSTM audio; no video"


def _official(options: Mapping[str, object], label: str | None) -> str:
    named = options.get("features")
    names = ", ".join(f"{m}: {f}" for m, f in named.items()) if isinstance(named, Mapping) else "?"
    return f"official GCNet/MCULoRA utterance features ({names})"


def _mosi_leakage(data_dir: str | None) -> pd.DataFrame:
    from mmolre.data.leakage import mosi_bclstm_text_leakage  # scikit-learn: loaded only when the probe runs

    return mosi_bclstm_text_leakage(data_dir)


def _files(folder: str) -> dict[str, Source]:
    return {relative: source for relative, source in FILES.items() if relative.startswith(f"{folder}/")}


for _spec in (
    DatasetSpec(
        "mosi",
        load_mosi,
        _files("mosi"),
        True,
        "CMU-MOSI",
        _mosi,
        ("sentiment",),
        _mosi_leakage,
    ),
    DatasetSpec("mosei", load_mosei, _files("mosei"), True, "CMU-MOSEI", _text_only, ("sentiment", "emotion")),
    DatasetSpec(
        "mosi_bclstm",
        load_mosi_bclstm,
        _files("mosi"),
        True,
        "CMU-MOSI, bc-LSTM split",
        "bc-LSTM text + audio + video vectors (bc-LSTM's own split)",
        ("sentiment",),
        _mosi_leakage,
    ),
    DatasetSpec("iemocap", load_iemocap, _files("iemocap"), True, "IEMOCAP", _text_only, ("emotion4",)),
    DatasetSpec(
        "synthetic",
        make_synthetic,
        keyword_options=SyntheticStructure,
        display_name="synthetic",
        features="synthetic features (no real modality)",
        tasks=("sentiment", "emotion"),
    ),
    DatasetSpec("official", load_official, features=_official, tasks=("sentiment", "emotion4")),
    DatasetSpec("mmsa", load_mmsa, tasks=("sentiment",)),
):
    register_dataset(_spec)
del _spec
