"""Family 1 of issue 15: crafted pickles built only from allowed globals must be refused by name, without crashing
the process, allocating without bound, recursing in C or printing an unbounded message.

Every crafted file is loaded in one child process under a memory limit, so a segmentation fault or a runaway
allocation fails these tests instead of killing pytest.
"""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct, scalar

from mmolre.data.dataset import DataError
from mmolre.data.safe_pickle import load_pickle
from mmolre.messages import shown

MESSAGE_LIMIT = 400


class _Reduce:
    """Pickles as the given ``__reduce__`` value: lets a test name any global with any arguments and state."""

    def __init__(self, *value: object) -> None:
        self.value = value

    def __reduce__(self):
        return self.value


def _object_field_dtype() -> _Reduce:
    """A void dtype whose state lays an object field over its bytes."""
    field = _Reduce(np.dtype, ("O8", False, True), (3, "|", None, None, None, -1, -1, 63))
    return _Reduce(np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (field, 0)}, 8, 1, 0))


def _array(dtype: object, raw: bytes, shape: tuple[int, ...] = (1,)) -> _Reduce:
    return _Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, False, raw))


def _global(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


CRAFTED: dict[str, bytes] = {
    "object_field_over_bytes": pickle.dumps({"x": _array(_object_field_dtype(), b"A" * 8)}, protocol=2),
    "forged_dtype_flags": pickle.dumps(
        [_array(_Reduce(np.dtype, ("i8", False, True), (3, "<", None, None, None, -1, -1, 63)), b"A" * 8)], protocol=2
    ),
    "object_scalar": pickle.dumps([_Reduce(scalar, (_object_field_dtype(), b"A" * 8))], protocol=2),
    "object_dtype": pickle.dumps([_array(np.dtype("O"), b"A" * 8)], protocol=2),
    "shape_beyond_bytes": pickle.dumps([_array(np.dtype("f8"), b"A" * 8, (1 << 40,))], protocol=2),
    "bytearray_bomb": b"\x80\x02" + _global("builtins", "bytearray") + b"\x8a\x05\x00\x00\x00\x00\x04\x85R.",
    "range_bomb": b"\x80\x02"
    + _global("builtins", "list")
    + _global("builtins", "range")
    + b"\x8a\x05\x00\x00\x00\x00\x04\x85R\x85R.",
    "bytes_of_number": b"\x80\x02" + _global("builtins", "bytes") + b"\x8a\x05\x00\x00\x00\x00\x04\x85R.",
    "ndarray_called": b"\x80\x02" + _global("numpy", "ndarray") + b"\x8a\x05\x00\x00\x00\x00\x04\x85\x85R.",
    "memo_index": b"\x80\x02]r" + struct.pack("<I", 1 << 28) + b".",
    "deep_tuple_key": b"\x80\x02})" + b"\x85" * 200_000 + b"K\x01s.",
    "deep_list": b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b".",
    "self_containing": b"\x80\x02]q\x00h\x00a.",
    "shared_references": b"\x80\x02X\x00\x10\x00\x00"
    + b"x" * 4096
    + b"q\x00]q\x01("
    + b"h\x00" * 4000
    + b"e]("
    + b"h\x01" * 4000
    + b"e.",
    "dotted_codec": b"\x80\x02" + _global("_codecs", "encode") + b"X\x01\x00\x00\x00xX\x03\x00\x00\x00a.b\x86R.",
    "forbidden_global": pickle.dumps(_Reduce(eval, ("1 + 1",)), protocol=2),
    "huge_global_name": b"\x80\x02" + _global("builtins", "x" * 100_000) + b".",
    "text_file": b"id,label\n1,2\n",
}

_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    from mmolre.data.dataset import DataError
    from mmolre.data.safe_pickle import load_pickle
    out = {}
    for path in sys.argv[1:]:
        try:
            load_pickle(path)
            out[path] = ["loaded", ""]
        except DataError as error:
            out[path] = ["DataError", str(error)]
        except BaseException as error:
            out[path] = [type(error).__name__, str(error)[:500]]
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def crafted_results(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("crafted")
    paths = {}
    for name, data in CRAFTED.items():
        paths[name] = folder / f"{name}.pkl"
        paths[name].write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, paths.values())], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"the loading process died (exit {done.returncode}): {done.stderr[-2000:]}"
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return {"max_rss_mb": results.pop("max_rss_mb"), **{name: results[str(path)] for name, path in paths.items()}}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_pickle_is_refused_with_one_bounded_line(crafted_results, name):
    kind, message = crafted_results[name]
    assert kind == "DataError", f"{name}: {kind}: {message}"
    assert f"{name}.pkl" in message and "\n" not in message and len(message) < MESSAGE_LIMIT, message


def test_crafted_pickles_stay_within_memory(crafted_results):
    assert crafted_results["max_rss_mb"] < 1500


def test_refusals_name_the_cause(crafted_results):
    expect = {
        "object_field_over_bytes": "dtype",
        "forged_dtype_flags": "malformed state",
        "object_dtype": "not a plain numeric",
        "shape_beyond_bytes": "needs",
        "bytearray_bomb": "forbidden global builtins.bytearray",
        "range_bomb": "forbidden global builtins.range",
        "bytes_of_number": "bytes(<number>)",
        "memo_index": "memo index",
        "deep_tuple_key": "nest deeper",
        "deep_list": "nest deeper",
        "self_containing": "contains itself",
        "shared_references": "shared references",
        "dotted_codec": "latin-1",
    }
    for name, fragment in expect.items():
        assert fragment in crafted_results[name][1], (name, crafted_results[name][1])


def test_ordinary_pickles_of_every_protocol_still_load(tmp_path):
    value = {
        "arrays": [np.arange(6).astype(dtype).reshape(2, 3) for dtype in ("<f4", ">f8", "i8", "u1", "?", "c16")],
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "strings": np.array(["ab", "c"]),
        "scalar": np.float32(1.5),
        "dtype": np.dtype(">i4"),
        "nested": {"a": ({1, 2}, frozenset({"x"}), b"raw", b"")},
        "shared": [(1, 2)] * 3,
    }
    path = tmp_path / "ok.pkl"
    for protocol in (0, 2, 3, 4, 5):
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        loaded = load_pickle(path)
        for mine, theirs in zip(loaded["arrays"], value["arrays"]):
            assert mine.dtype == theirs.dtype and mine.flags.writeable
            np.testing.assert_array_equal(mine, theirs)
        assert loaded["fortran"].flags.f_contiguous and loaded["dtype"] == np.dtype(">i4")
        np.testing.assert_array_equal(loaded["strings"], value["strings"])
        assert loaded["scalar"] == np.float32(1.5) and loaded["nested"] == value["nested"]
        assert loaded["shared"] == value["shared"]


def test_empty_file_is_refused_by_name(tmp_path):
    path = tmp_path / "empty.pkl"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.pkl: empty file"):
        load_pickle(path)


def test_shown_bounds_deep_and_huge_values():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert len(shown(deep)) <= 80 and len(shown(["x" * 10**6] * 10**5)) <= 80
