"""Data: the one dataset type, the real and synthetic sources, safe loading and the text encoder's cache.

Every dataset is one record of the registry (:mod:`mmolre.data.registry`) and is reached through
:func:`load_dataset`; files are checked against their recorded sha256 (:mod:`mmolre.data.sources`), pickles go
through a restricted unpickler (:mod:`mmolre.data.safe_pickle`).
"""

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.load import LOADERS, load_dataset, options
from mmolre.data.registry import DATASETS, DatasetSpec, dataset_spec, register_dataset

__all__ = [
    "DATASETS",
    "LOADERS",
    "SPLITS",
    "DataError",
    "DatasetSpec",
    "MultimodalDataset",
    "SplitData",
    "dataset_spec",
    "load_dataset",
    "options",
    "register_dataset",
]
