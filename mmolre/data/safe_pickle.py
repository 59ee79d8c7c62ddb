"""Restricted pickle loading: only plain containers, numbers, strings and numeric numpy arrays may be rebuilt.

Research feature pickles are downloaded from third parties; a normal ``pickle.load`` would run any callable
named inside the file. :func:`load_pickle` refuses every global outside a short allow-list, and even the allowed ones
are replaced by checked versions, because numpy's own pickle helpers trust their input:

- a dtype is rebuilt from its type code only (booleans, integers, floats, complex numbers, byte and unicode strings):
  object, structured and sub-array dtypes, and flags or fields set through the pickled state, are refused, so no
  array can hold pointers taken from the file;
- an array's shape must match its raw bytes before anything is allocated, and no allowed callable can allocate
  from a number (``bytearray(n)``, ``range(n)``, ``bytes(n)``, ``ndarray(shape)`` are not reachable);
- before unpickling, the opcodes are scanned: memo indices are bounded by the number of opcodes and tuples (whose
  hashing recurses in C) may nest at most :data:`MAX_DEPTH` levels;
- after unpickling, containers may nest at most :data:`MAX_DEPTH` levels, may not contain themselves, and their
  size counted through shared references is bounded (a few bytes of references cannot stand for gigabytes).

Every problem is one :class:`~mmolre.data.dataset.DataError` naming the file, with a bounded message.
"""

from __future__ import annotations

import mmap
import pickle
import pickletools
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmolre.data.dataset import DataError
from mmolre.messages import cut, shown
from mmolre.paths import DATA_DIR_ENV

MAX_DEPTH = 100
"""How deeply containers in a pickle may nest."""
_EXPANSION = 1 << 24
"""Values a pickle may expand to through shared references, beyond 32 per byte of the file."""
_DTYPE_CODE = re.compile(r"^[?biufcSU]\d*$")
_SCALAR_TYPES = (str, bytes, int, float, complex, bool)
_SEQUENCES = (list, tuple, set, frozenset, dict, str, bytes)


class _Refused(pickle.UnpicklingError):
    """Raised by the checked callables; :func:`load_pickle` adds the file name."""


class _DtypeSpec:
    """A pickled ``numpy.dtype``: its type code and state, turned into a real dtype only by :func:`_dtype`."""

    def __init__(self, code: object, align: object = False, copy: object = True) -> None:
        self.code, self.state = code, None

    def __setstate__(self, state: object) -> None:
        self.state = state


class _ArrayBuilder:
    """A pickled array (``_reconstruct`` then its state); :meth:`__setstate__` builds it after every check."""

    array: np.ndarray | None = None

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused(f"array state must be a tuple of 4 or 5 items, got {shown(state)}")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _array(raw, dtype, shape, "F" if fortran else "C")


_NDARRAY = object()
"""Stands for ``numpy.ndarray``, which may appear only as the first argument of ``_reconstruct``."""


def _dtype(spec: object) -> np.dtype:
    """A fresh numeric or string dtype from a pickled one; anything else is refused."""
    if not isinstance(spec, _DtypeSpec):
        raise _Refused(f"expected a pickled numpy dtype, got {type(spec).__name__}")
    code = spec.code.decode("latin1") if isinstance(spec.code, bytes) else spec.code
    if not isinstance(code, str) or not _DTYPE_CODE.match(code):
        raise _Refused(f"dtype {shown(code)} is not a plain numeric or string type (object and structured are refused)")
    dtype = np.dtype(code)
    state = spec.state
    if state is not None:
        if not isinstance(state, tuple) or len(state) < 8 or any(item is not None for item in state[2:5]):
            raise _Refused(f"dtype {code} has a structured, sub-array or malformed state {shown(state)}")
        order, size, flags = state[1], state[5], state[7]
        if order not in ("<", ">", "|", "=") or size not in (-1, dtype.itemsize) or flags != dtype.flags:
            raise _Refused(f"dtype {code} has a malformed state {shown(state)}")
        if order in "<>" and dtype.byteorder != "|":
            dtype = dtype.newbyteorder(order)
    return dtype


def _array(raw: object, spec: object, shape: object, order: object) -> np.ndarray:
    """An array of ``shape`` from ``raw`` bytes, refused unless the bytes fill it exactly."""
    dtype = _dtype(spec)
    if isinstance(raw, str):  # Python 2 pickles, read with encoding="latin1"
        raw = raw.encode("latin1")
    if isinstance(raw, pickle.PickleBuffer):
        raw = raw.raw()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise _Refused(f"array data must be bytes, got {type(raw).__name__}")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and 0 <= n for n in shape):
        raise _Refused(f"array shape must be a tuple of non-negative ints, got {shown(shape)}")
    if len(shape) > 32 or order not in ("C", "F"):
        raise _Refused(f"array has {len(shape)} dimensions or order {shown(order)}")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(raw):
        raise _Refused(
            f"array of shape {shown(shape)} and dtype {dtype} needs {count * dtype.itemsize} bytes, got {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy(order="A")


def _reconstruct(subtype: object, shape: object, code: object) -> _ArrayBuilder:
    if subtype is not _NDARRAY:
        raise _Refused("only plain numpy arrays may be rebuilt")
    return _ArrayBuilder()


def _frombuffer(buffer: object, spec: object, shape: object, order: object) -> np.ndarray:
    return _array(buffer, spec, shape, order)


def _scalar(spec: object, raw: object = b"") -> np.generic:
    return _array(raw, spec, (), "C")[()]


def _encode(text: object, encoding: object = "utf-8", errors: object = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 pickles bytes for protocol 2: latin-1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode may only turn text into latin-1 bytes, got encoding {shown(encoding)}")
    return text.encode("latin1")


def _tuple_depth(value: tuple) -> int:
    """How deeply tuples nest in ``value`` (what hashing it recurses through), counted up to :data:`MAX_DEPTH` + 1."""
    depth, level = 0, [value]
    while level and depth <= MAX_DEPTH:
        depth += 1
        unique = {id(t): t for t in level}.values()  # per level: a shared tuple is followed once per level
        level = [item for t in unique for item in t if isinstance(item, tuple)]
    return depth


def _checked(kind: type, scalars_only: bool) -> Callable[..., object]:
    """``kind`` called only with arguments that cannot make it allocate beyond what the file holds."""
    allowed = _SCALAR_TYPES if scalars_only else _SEQUENCES

    def build(*args: object) -> object:
        if len(args) > (2 if scalars_only else 1) or not all(isinstance(a, allowed) for a in args):
            shown_args = ", ".join(type(a).__name__ for a in args)
            raise _Refused(f"refusing {kind.__name__}({shown_args}) (only plain values may be converted)")
        if kind is bytes and any(isinstance(a, int) for a in args):
            raise _Refused("refusing bytes(<number>) (it allocates that many bytes)")
        if args and not scalars_only and kind in (tuple, set, frozenset, dict, OrderedDict):
            items = args[0].keys() if isinstance(args[0], dict) else args[0]
            if any(_tuple_depth(item) > MAX_DEPTH for item in items if isinstance(item, tuple)):
                raise _Refused(f"tuples nest deeper than {MAX_DEPTH} levels")
        return kind(*args)

    return build


_ALLOWED: dict[tuple[str, str], object] = {
    **{
        (module, kind.__name__): _checked(kind, kind in _SCALAR_TYPES)
        for module in ("builtins", "__builtin__")
        for kind in (set, frozenset, list, dict, tuple, int, float, complex, str, bytes, bool)
    },
    ("collections", "OrderedDict"): _checked(OrderedDict, False),
    ("_codecs", "encode"): _encode,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeSpec,
    **{
        (f"{root}.multiarray", name): function
        for root in ("numpy.core", "numpy._core")
        for name, function in (("_reconstruct", _reconstruct), ("scalar", _scalar))
    },
    **{(f"{root}.numeric", "_frombuffer"): _frombuffer for root in ("numpy.core", "numpy._core")},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise _Refused(
                f"refusing to load forbidden global {cut(module, 60)}.{cut(name, 60)} "
                "(only containers, numbers, strings and numeric numpy arrays are allowed)"
            )
        return _ALLOWED[(module, name)]


_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
_TUPLES = {"TUPLE": 0, "EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_STACK = {
    op.name: (
        op.stack_before.index(pickletools.markobject) if pickletools.markobject in op.stack_before else None,
        len(op.stack_before),
        len(op.stack_after),
    )
    for op in pickletools.opcodes
}
"""Per opcode: the position of the MARK it pops (or None), how many items it pops and pushes."""


def _scan(handle: mmap.mmap) -> None:
    """Check the opcodes before anything is built: memo indices within the opcode count, tuples nested at most
    :data:`MAX_DEPTH` levels (the stack is followed as :mod:`pickletools` describes each opcode)."""
    stack: list[int] = []  # tuple depth of each stack item; -1 marks a MARK
    memo: dict[int, int] = {}
    for count, (opcode, arg, _) in enumerate(pickletools.genops(handle), start=1):
        name = opcode.name
        if name in _MEMO_PUTS or name == "MEMOIZE":
            index = len(memo) if name == "MEMOIZE" else arg
            if not isinstance(index, int) or index > count:
                raise _Refused(f"memo index {shown(index)} beyond the {count} opcodes read so far")
            memo[index] = max(stack[-1], 0) if stack else 0
            continue
        if name in _MEMO_GETS:
            stack.append(memo.get(arg, 0))
            continue
        if name == "MARK":
            stack.append(-1)
            continue
        mark, pops, pushes = _STACK[name]
        depth = 0
        if mark is not None:
            while stack and stack[-1] != -1:
                depth = max(depth, stack.pop())
            del stack[max(0, len(stack) - 1 - mark) :]  # the MARK and the items below it that the opcode uses
        elif pops:
            popped = stack[-pops:]
            del stack[-pops:]
            depth = max(popped, default=0)
        if name in _TUPLES:
            if depth >= MAX_DEPTH:
                raise _Refused(f"tuples nest deeper than {MAX_DEPTH} levels")
            stack.append(depth + 1)
        else:
            stack.extend([0] * pushes)


def _finish(root: object, budget: int) -> object:
    """Replace the array builders by their arrays, refusing deep nesting, cycles and oversized expansion."""
    done: dict[int, tuple[object, int]] = {}  # id -> (finished value, expanded size)
    active: set[int] = set()
    keep: list[object] = []  # keeps every visited object alive, so that ids stay unique

    def visit(value: object, depth: int) -> tuple[object, int]:
        if isinstance(value, (*_SCALAR_TYPES, type(None))):
            return value, max(1, len(value) if isinstance(value, (str, bytes)) else 1)
        key = id(value)
        if key in done:
            return done[key]
        if key in active:
            raise _Refused("a container contains itself")
        if depth > MAX_DEPTH:
            raise _Refused(f"containers nest deeper than {MAX_DEPTH} levels")
        active.add(key)
        keep.append(value)
        if isinstance(value, _ArrayBuilder):
            if value.array is None:
                raise _Refused("an array has no data")
            result, size = value.array, value.array.nbytes
        elif isinstance(value, (np.ndarray, np.generic)):
            result, size = value, value.nbytes
        elif isinstance(value, _DtypeSpec):
            result, size = _dtype(value), 1
        elif isinstance(value, list):
            size = 1
            for index, item in enumerate(value):
                value[index], grown = visit(item, depth + 1)
                size += grown
            result = value
        elif isinstance(value, dict):
            size = 1
            for item_key, item in list(value.items()):
                finished_key, key_size = visit(item_key, depth + 1)
                if finished_key is not item_key:
                    raise _Refused("a dict key is an array")
                value[item_key], grown = visit(item, depth + 1)
                size += key_size + grown
            result = value
        elif isinstance(value, (tuple, set, frozenset)):
            items = [visit(item, depth + 1) for item in value]
            size = 1 + sum(grown for _, grown in items)
            changed = any(new is not old for (new, _), old in zip(items, value))
            result = type(value)(new for new, _ in items) if changed else value
        else:
            raise _Refused(f"unexpected {type(value).__name__} object")
        if size > budget:
            raise _Refused(f"expands through shared references to more than {budget} values")
        active.discard(key)
        done[key] = (result, size)
        return result, size

    return visit(root, 0)[0]


def load_pickle(path: str | Path, how_to_obtain: str = "") -> object:
    """Load a pickle with the restricted unpickler; any problem becomes a :class:`DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        hint = how_to_obtain or f"put the file there or point ${DATA_DIR_ENV} at the directory that holds it"
        raise DataError(f"{path}: file not found; {hint}")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file, not a pickle")
    try:
        # a memory map reads no further than the file: a forged length cannot make the reader allocate it
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            _scan(mapped)
            mapped.seek(0)
            loaded = _RestrictedUnpickler(mapped, encoding="latin1").load()
        return _finish(loaded, _EXPANSION + 32 * size)
    except _Refused as error:
        raise DataError(f"{path}: {cut(str(error))}") from None
    except (RecursionError, MemoryError, OverflowError) as error:
        raise DataError(f"{path}: refused, it builds values too large or too deep ({type(error).__name__})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        message = cut(f"{type(error).__name__}: {error}", 200)
        raise DataError(f"{path}: truncated or not a pickle ({message})") from None
    except UnicodeError as error:
        raise DataError(f"{path}: truncated or not a pickle ({cut(str(error), 200)})") from None
