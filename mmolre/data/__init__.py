"""Data: the one dataset type, the real and synthetic sources, safe loading and the text encoder's cache.

Every source is reached through :func:`load_dataset`; files are checked against their recorded sha256
(:mod:`mmolre.data.sources`), pickles go through a restricted unpickler (:mod:`mmolre.data.safe_pickle`).
"""

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.load import LOADERS, load_dataset, options

__all__ = ["LOADERS", "SPLITS", "DataError", "MultimodalDataset", "SplitData", "load_dataset", "options"]
