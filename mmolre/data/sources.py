"""Where each real benchmark file comes from, how to check it, and the one way loaders locate it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmolre.data.dataset import DataError
from mmolre.files import file_sha256
from mmolre.messages import shown
from mmolre.paths import DATA_DIR_ENV, data_dir


@dataclass(frozen=True)
class Source:
    """A public origin of one file: GitHub repository, full commit sha, path inside it, sha256 of the file."""

    repo: str
    commit: str
    path: str
    sha256: str


_GCNET = ("zeroQiaoba/GCNet", "8cce4a0c9a50172abfa79971e77c71c40c1d733d")
_BCLSTM = ("declare-lab/multimodal-deep-learning", "c633012a3d9e53e037e450609678bb1b0169cf05")
_UMONS = ("jbdel/MOSEI_UMONS", "c198feba69c7f92d5300b342fe10494c37c464e6")


def _bclstm(path: str, digest: str) -> Source:
    return Source(*_BCLSTM, f"bc-LSTM/data/{path}", digest)


FILES: dict[str, Source] = {
    "mosi/CMUMOSI_features_raw_2way.pkl": Source(
        *_GCNET,
        "dataset/CMUMOSI/CMUMOSI_features_raw_2way.pkl",
        "931ee50f3a77b2eb18786840a880a439f3ae6542bf2dfb5e14ecc9690702af84",
    ),
    "mosi/bclstm/transcripts.csv": _bclstm(
        "transcripts.csv", "e7689e6d70720addd2a6b316419d245a68839c32b014ff426c406063ee777466"
    ),
    "mosi/bclstm/text_train.csv": _bclstm(
        "text_train.csv", "73770b6302ad0f7a51f4eddcae6788efde4d0b6802e09f78249d5b538d1c1d67"
    ),
    "mosi/bclstm/text_test.csv": _bclstm(
        "text_test.csv", "f3b735070bf07ceff7a6ef6c8f4c32757e988de484e35bd6d38b2aecef851a59"
    ),
    "mosi/bclstm/text_train0.csv": _bclstm(
        "text/text_train0.csv", "cc327045db6cc361a08b4037b97bb24de4ddb5efb381468c4835cc4a60674668"
    ),
    "mosi/bclstm/text_test0.csv": _bclstm(
        "text/text_test0.csv", "a343e22272919d1384c2075dbcdd5fef5aa9f9366b0552a83f7c3147b64b047a"
    ),
    "mosi/bclstm/audio_train0.csv": _bclstm(
        "audio/audio_train0.csv", "5435398a54664e7b00304587dc59ae84a438852be033c2a2fba779588624a2a1"
    ),
    "mosi/bclstm/audio_test0.csv": _bclstm(
        "audio/audio_test0.csv", "ddd17eeefd3d951d51d4e2ef8a0d132652d8161e1886f71eb7262b7a14bffff6"
    ),
    "mosi/bclstm/video_train0.csv": _bclstm(
        "video/video_train0.csv", "b6efc0413132d627efd06f67f1706830e775e90af9a75696f535c48dbc73f12f"
    ),
    "mosi/bclstm/video_test0.csv": _bclstm(
        "video/video_test0.csv", "cab836253d81100f59d533fa2ff65cd53c486be3ec9fd82203c5e25a7a77265f"
    ),
    "iemocap/IEMOCAP_features_raw_4way.pkl": Source(
        *_GCNET,
        "dataset/IEMOCAP/IEMOCAP_features_raw_4way.pkl",
        "072cffa9c528dd0536792de7ac85d5a0efaf25d4a9e3ed01f7e45453547cc9fd",
    ),
    "mosei/mosei_labels_7d.csv": Source(
        "nanhungrybin/MOSEI_crawling",
        "dbb2cd2ab31bce4ec52e892f7fd434e3f01c0a0d",
        "mosei/mosei.csv",
        "6dec8ee768e628460ce4efd87b84a0959c0450638bdb6b988010f7abd367a621",
    ),
    "mosei/mosei_text_label.csv": Source(
        "ailiwood/mme_0621",
        "585fd9c9aff992f6338ed1c2d44836806665c705",
        "data/mosei/label.csv",
        "74a195945e28c1bbc45b6d279a99655d163f33d2c28b0c723ddba87bfbb97bfa",
    ),
    "mosei/umons_d_train.pkl": Source(
        *_UMONS, "data/d_train.pkl", "6d0c2f1b1fa38698c4fb6b58bc2b947c028c8f5629c8dcb163d940a6c5e6a588"
    ),
    "mosei/umons_d_valid.pkl": Source(
        *_UMONS, "data/d_valid.pkl", "cb4d00631ea52a751492fc126446e353c9617dbfc46a1a59980ee5223167037f"
    ),
    "mosei/umons_d_test.pkl": Source(
        *_UMONS, "data/d_test.pkl", "265d16333b8d03339c61ea512f51b0f62623e5ca56d8c4ff22036656aaf590d7"
    ),
}
VERIFY_ENV = "MMOLRE_VERIFY_DATA"
"""Set to ``0`` to accept files whose sha256 differs from the recorded one (with a warning)."""
_verify: ContextVar[bool | None] = ContextVar("mmolre_verify_data", default=None)
_digests: dict[tuple[str, int, int], str] = {}
_warned: set[str] = set()


def describe_source(relative: str) -> str:
    """Where ``relative`` (e.g. ``mosi/bclstm/transcripts.csv``) comes from: repository, commit, path, sha256 prefix."""
    source = FILES.get(relative)
    if source is None:
        return f"<data dir>/{relative}"
    at = f" @ commit {source.commit[:12]}"
    return (
        f"<data dir>/{relative} <- `{source.path}` in the public GitHub repository {source.repo}{at} "
        f"(sha256 {source.sha256[:16]}...)"
    )


def how_to_obtain(relative: str) -> str:
    """A sentence telling where ``relative`` comes from and how to make the loaders find it."""
    return (
        f"obtain it as {describe_source(relative)} and point ${DATA_DIR_ENV} (or the notebook parameter "
        "data_dir) at <data dir>; `python -m mmolre data fetch --dir <data dir>` downloads every file"
    )


@contextmanager
def verification(enabled: bool) -> Iterator[None]:
    """Within the block, check (``True``) or only warn about (``False``) the sha256 of every file located."""
    token = _verify.set(enabled)
    try:
        yield
    finally:
        _verify.reset(token)


def _verifying() -> bool:
    chosen = _verify.get()
    return chosen if chosen is not None else os.environ.get(VERIFY_ENV, "1").strip() != "0"


def sha256(path: Path) -> str:
    """The sha256 of a file (remembered per path, size and modification time within the process)."""
    status = path.stat()
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    if key not in _digests:
        _digests[key] = file_sha256(path)
    return _digests[key]


def check_file(relative: str, path: Path) -> None:
    """Compare ``path`` with the recorded sha256 of ``relative``: a mismatch is a :class:`DataError`, or only a
    warning when verification is off (``$MMOLRE_VERIFY_DATA=0`` or ``load_dataset(..., verify=False)``)."""
    source = FILES.get(relative)
    if source is None:
        return
    found = sha256(path)
    if found == source.sha256:
        return
    problem = (
        f"{path}: sha256 {found[:16]}... differs from the recorded {source.sha256[:16]}... of "
        f"{describe_source(relative)}"
    )
    if _verifying():
        raise DataError(
            f"{problem}. Obtain the published file, or, to use your own copy on purpose, set "
            f"{VERIFY_ENV}=0 (or pass verify=False to load_dataset) and it is used with a warning."
        )
    if str(path) not in _warned:
        _warned.add(str(path))
        warnings.warn(f"{problem}; used anyway because verification is off", stacklevel=3)


def require(relative: str, override: str | Path | None = None) -> Path:
    """The path of a real data file under the data directory, checked against its recorded sha256, or a
    :class:`DataError` saying how to obtain it."""
    root = data_dir(override)
    if root is None:
        raise DataError(f"no data directory is set for {relative}: {how_to_obtain(relative)}")
    path = root / relative
    if not path.is_file():
        raise DataError(f"{path}: file not found; {how_to_obtain(relative)}")
    check_file(relative, path)
    return path


def check_text(value: object, where: str) -> str:
    """``value`` if it is text that UTF-8 can hold, else a :class:`DataError` that starts with ``where``."""
    if not isinstance(value, str):
        raise DataError(f"{where} is not text: {shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DataError(f"{where} is not valid Unicode (character {error.start}: {error.reason})") from None
    return str(value)


def safe_name(value: object, where: str) -> str:
    """``value`` if it can be one file or folder name (no separator, not ``.``/``..``, no NUL), else a
    :class:`DataError` that starts with ``where``."""
    text = check_text(value, where)
    if not text or text in (".", "..") or any(c in text for c in "/\\\0") or len(text) > 255:
        raise DataError(f"{where} must be a plain file name (no '/', '\\', '..'), got {shown(value)}")
    return text


def inside(path: Path, root: Path, where: str) -> Path:
    """``path`` resolved, or a :class:`DataError` when it (through links or ``..``) leaves the folder ``root``."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise DataError(f"{where}: {path} resolves to {resolved}, outside the data folder {root}")
    return resolved


def _lines(rows: np.ndarray, first_line: int) -> str:
    shown = ", ".join(str(int(row) + first_line) for row in rows[:5])
    return f"line {shown}" if len(rows) == 1 else f"lines {shown}{', ...' if len(rows) > 5 else ''} ({len(rows)} rows)"


def check_numeric(
    frame: pd.DataFrame,
    path: Path,
    columns: Iterable[object],
    first_line: int,
    ranges: Mapping[object, tuple[float, float]] | None = None,
) -> None:
    """Raise a :class:`DataError` naming ``path``, the column and its file lines when a cell of ``columns`` is
    empty, NaN, infinite, not a number or outside its column's ``ranges`` (``first_line``: the file line of the
    frame's first row)."""
    for column in columns:
        if column not in frame.columns:
            raise DataError(f"{path}: missing column {column!r}; found {shown(list(frame.columns), 200)}")
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        text = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy())
        if len(text):
            raise DataError(
                f"{path}: column {column!r} is not a number at {_lines(text, first_line)}, "
                f"e.g. {shown(raw.iloc[text[0]])}"
            )
        empty = np.flatnonzero(np.isnan(values))
        if len(empty):
            raise DataError(f"{path}: column {column!r} is empty or NaN at {_lines(empty, first_line)}")
        infinite = np.flatnonzero(np.isinf(values))
        if len(infinite):
            raise DataError(f"{path}: column {column!r} is infinite at {_lines(infinite, first_line)}")
        low, high = (ranges or {}).get(column, (-np.inf, np.inf))
        outside = np.flatnonzero((values < low) | (values > high))
        if len(outside):
            raise DataError(
                f"{path}: column {column!r} is outside [{low:g}, {high:g}] at {_lines(outside, first_line)}, "
                f"e.g. {values[outside[0]]:g}"
            )


def read_csv(relative: str, override: str | Path | None = None, **options: object) -> pd.DataFrame:
    """Locate ``relative`` (see :func:`require`) and parse it with ``pandas.read_csv(**options)``.

    A file that cannot be parsed gives a :class:`DataError` naming it.
    """
    path = require(relative, override)
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot parse CSV ({error})") from None
