"""Restricted pickle loading: only plain containers, numbers, strings and numpy arrays may be rebuilt.

Research feature pickles are downloaded from third parties; a normal ``pickle.load`` would run any callable
named inside the file. :func:`load_pickle` refuses every global outside a short allow-list.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path

from mmolre.data.dataset import DataError
from mmolre.paths import DATA_DIR_ENV

_BUILTINS = frozenset(
    {
        "set",
        "frozenset",
        "list",
        "dict",
        "tuple",
        "int",
        "float",
        "complex",
        "str",
        "bytes",
        "bytearray",
        "bool",
        "slice",
        "range",
    }
)
_NUMPY = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {("builtins", name) for name in _BUILTINS}
    | {("__builtin__", name) for name in _BUILTINS}
    | {(f"{root}.{sub}", name) for root in ("numpy.core", "numpy._core") for sub, name in _NUMPY}
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"), ("_codecs", "encode")}
)


def _resolve(module: str, name: str) -> object:
    """Import an allowed global, mapping ``numpy.core`` (numpy 1) and ``numpy._core`` (numpy 2) onto each other."""
    if module == "__builtin__":
        module = "builtins"
    if module.startswith(("numpy.core.", "numpy._core.")):
        tail = module.split(".", 2)[2]
        for root in ("numpy._core", "numpy.core"):
            try:
                return getattr(importlib.import_module(f"{root}.{tail}"), name)
            except (ImportError, AttributeError):
                continue
    return getattr(importlib.import_module(module), name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise DataError(
                f"{self._path}: refusing to load forbidden global {module}.{name} "
                "(only containers, numbers, strings and numpy arrays are allowed)"
            )
        return _resolve(module, name)


def load_pickle(path: str | Path, how_to_obtain: str = "") -> object:
    """Load a pickle with the restricted unpickler; any problem becomes a :class:`DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        hint = how_to_obtain or f"put the file there or point ${DATA_DIR_ENV} at the directory that holds it"
        raise DataError(f"{path}: file not found; {hint}")
    with path.open("rb") as handle:
        try:
            return _RestrictedUnpickler(handle, path).load()
        except DataError:
            raise
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            AttributeError,
            ImportError,
            MemoryError,
            UnicodeDecodeError,
        ) as error:
            raise DataError(f"{path}: truncated or not a pickle ({type(error).__name__}: {error})") from None
