"""Where each real benchmark file comes from, how to check it, and the one way loaders locate it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mmolre.dataset import DataError
from mmolre.paths import DATA_DIR_ENV, data_dir


@dataclass(frozen=True)
class Source:
    """A public origin of one file: GitHub repository, commit (when known), path inside it, sha256 prefix."""

    repo: str
    commit: str
    path: str
    sha256_prefix: str


_GCNET = ("zeroQiaoba/GCNet", "8cce4a0")
_BCLSTM = ("declare-lab/multimodal-deep-learning", "c633012")
_UMONS = ("jbdel/MOSEI_UMONS", "")

FILES: dict[str, Source] = {
    "mosi/CMUMOSI_features_raw_2way.pkl": Source(*_GCNET, "dataset/CMUMOSI/CMUMOSI_features_raw_2way.pkl", "931ee50f3a77b2eb"),
    "mosi/bclstm/transcripts.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file transcripts.csv)", "e7689e6d70720add"),
    "mosi/bclstm/text_train.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file text_train.csv)", "73770b6302ad0f7a"),
    "mosi/bclstm/text_test.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file text_test.csv)", "f3b735070bf07cef"),
    "mosi/bclstm/text_train0.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file text_train0.csv)", "cc327045db6cc361"),
    "mosi/bclstm/text_test0.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file text_test0.csv)", "a343e22272919d13"),
    "mosi/bclstm/audio_train0.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file audio_train0.csv)", "5435398a54664e7b"),
    "mosi/bclstm/audio_test0.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file audio_test0.csv)", "ddd17eeefd3d951d"),
    "mosi/bclstm/video_train0.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file video_train0.csv)", "b6efc0413132d627"),
    "mosi/bclstm/video_test0.csv": Source(*_BCLSTM, "bc-LSTM/data/ (file video_test0.csv)", "cab836253d81100f"),
    "mosei/mosei_labels_7d.csv": Source("nanhungrybin/MOSEI_crawling", "", "mosei/mosei.csv", "6dec8ee768e62846"),
    "mosei/mosei_text_label.csv": Source("ailiwood/mme_0621", "585fd9c", "data/mosei/label.csv", "74a195945e28c1bb"),
    "mosei/umons_d_train.pkl": Source(*_UMONS, "umons_d_train.pkl", "6d0c2f1b1fa38698"),
    "mosei/umons_d_valid.pkl": Source(*_UMONS, "umons_d_valid.pkl", "cb4d00631ea52a75"),
    "mosei/umons_d_test.pkl": Source(*_UMONS, "umons_d_test.pkl", "265d16333b8d0333"),
}


def describe_source(relative: str) -> str:
    """Where ``relative`` (e.g. ``mosi/bclstm/transcripts.csv``) comes from: repository, commit, path, sha256 prefix."""
    source = FILES.get(relative)
    if source is None:
        return f"<data dir>/{relative}"
    at = f" @ commit {source.commit}" if source.commit else ""
    return (f"<data dir>/{relative} <- `{source.path}` in the public GitHub repository {source.repo}{at} "
            f"(sha256 starts with {source.sha256_prefix})")


def how_to_obtain(relative: str) -> str:
    """A sentence telling where ``relative`` comes from and how to make the loaders find it."""
    return (f"obtain it as {describe_source(relative)} and point ${DATA_DIR_ENV} (or the notebook parameter "
            "data_dir) at <data dir>")


def require(relative: str, override: str | Path | None = None) -> Path:
    """The path of a real data file under the data directory, or a :class:`DataError` saying how to obtain it."""
    root = data_dir(override)
    if root is None:
        raise DataError(f"no data directory is set for {relative}: {how_to_obtain(relative)}")
    path = root / relative
    if not path.is_file():
        raise DataError(f"{path}: file not found; {how_to_obtain(relative)}")
    return path


def read_csv(relative: str, override: str | Path | None = None, **options: object) -> pd.DataFrame:
    """Locate ``relative`` (see :func:`require`) and parse it with ``pandas.read_csv(**options)``.

    A file that cannot be parsed gives a :class:`DataError` naming it.
    """
    path = require(relative, override)
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot parse CSV ({error})") from None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(override: str | Path | None = None) -> dict[str, str]:
    """Check every known file under the data directory: ``relative -> "ok" | "missing" | "sha256 mismatch"``."""
    root = data_dir(override)
    status = {}
    for relative, source in FILES.items():
        path = None if root is None else root / relative
        if path is None or not path.is_file():
            status[relative] = "missing"
        else:
            status[relative] = "ok" if sha256(path).startswith(source.sha256_prefix) else "sha256 mismatch"
    return status
