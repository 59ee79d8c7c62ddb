"""Real CMU-MOSI / CMU-MOSEI loaders on the shared files (skipped when no data directory is available).

Text encodings are cached under ``mmolre.paths.cache_dir()``, so only the first run on a machine pays for encoding MOSI
(about a minute on 2 CPU cores); the MOSEI test replaces the encoder to stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import mmolre.data.mosei as mosei
from mmolre.data import DataError, load_dataset
from mmolre.data.leakage import mosi_bclstm_text_leakage
from mmolre.data.mosi import read_bclstm, read_mosi_labels
from mmolre.data.sources import verification
from mmolre.data.text_encoder import TextFeatures
from mmolre.paths import PROJECT_ROOT


def _data_dir() -> Path | None:
    for candidate in (os.environ.get("MMOLRE_DATA_DIR"), PROJECT_ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mosi").is_dir() and (Path(candidate) / "mosei").is_dir():
            return Path(candidate)
    return None


DATA_DIR = _data_dir()
pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="no real data: set MMOLRE_DATA_DIR or provide ../shared/data")


def test_mosi_official_folds_with_real_audio():
    data = load_dataset("mosi", data_dir=DATA_DIR)
    assert data.sizes() == {"train": 1284, "valid": 229, "test": 686}
    assert data.real_modalities == ("text", "audio") and data.dims == {"text": 384, "audio": 73}
    assert "vision" not in data.modalities and not data.splits["test"].mask[:, 2].any()
    audio = data.splits["train"].features["audio"][:, 0].numpy()
    np.testing.assert_allclose(audio.mean(0), 0, atol=1e-4)
    assert not set(data.splits["train"].ids) & set(data.splits["test"].ids)


def test_mosi_audio_join_is_consistent():
    labels = read_mosi_labels(DATA_DIR)
    parts = read_bclstm(labels, DATA_DIR, modalities=("audio",))
    ids = parts["train"]["ids"] + parts["test"]["ids"]
    assert len(ids) == len(set(ids)) == 2199 == len(labels.sentiment)


def test_mosi_audio_join_detects_a_shifted_file(tmp_path):
    labels = read_mosi_labels(DATA_DIR)
    shifted = tmp_path / "mosi" / "bclstm"
    shifted.mkdir(parents=True)
    for source in (DATA_DIR / "mosi" / "bclstm").glob("*.csv"):
        (shifted / source.name).symlink_to(source)
    rows = (DATA_DIR / "mosi" / "bclstm" / "audio_test0.csv").read_text().splitlines()
    (shifted / "audio_test0.csv").unlink()
    (shifted / "audio_test0.csv").write_text("\n".join(rows[1:] + rows[:1]) + "\n")
    with pytest.raises(DataError, match=r"audio_test0\.csv: sha256 [0-9a-f]+\.\.\. differs .*declare-lab"):
        read_bclstm(labels, tmp_path, modalities=("audio",))
    with verification(False), pytest.warns(UserWarning, match="used anyway"):
        with pytest.raises(DataError, match=r"audio_test0\.csv: join to segment ids is inconsistent"):
            read_bclstm(labels, tmp_path, modalities=("audio",))


def test_mosi_bclstm_own_split_by_video():
    data = load_dataset("mosi_bclstm", data_dir=DATA_DIR, valid_fraction=0.33, seed=0)
    parts = read_bclstm(read_mosi_labels(DATA_DIR), DATA_DIR, modalities=("audio",))
    assert data.splits["train"].ids == parts["train"]["ids"]  # every own train video trains
    assert sorted(data.splits["valid"].ids + data.splits["test"].ids) == sorted(parts["test"]["ids"])
    assert data.sizes() == {"train": 1447, "valid": 255, "test": 497}
    assert data.dims == {"text": 100, "audio": 73, "vision": 100} and data.real_modalities == (
        "text",
        "audio",
        "vision",
    )
    videos = {s: {i.rsplit("_", 1)[0] for i in data.splits[s].ids} for s in ("train", "valid", "test")}
    assert not videos["valid"] & videos["test"] and not (videos["valid"] | videos["test"]) & videos["train"]
    assert data.notes["videos"] == {"train": 62, "valid": 10, "test": 21}
    assert "255 utterances" in data.description and "497 utterances" in data.description
    again = load_dataset("mosi_bclstm", data_dir=DATA_DIR, valid_fraction=0.33, seed=0)
    assert again.splits["valid"].ids == data.splits["valid"].ids
    other = load_dataset("mosi_bclstm", data_dir=DATA_DIR, valid_fraction=0.33, seed=1)
    assert set(other.splits["valid"].ids) != set(data.splits["valid"].ids)


def test_mosei_official_folds_and_emotions(monkeypatch):
    def zeros(texts: list[str], *args: object) -> TextFeatures:
        return TextFeatures(np.zeros((len(texts), 1, 384), np.float32), None, None)

    monkeypatch.setattr(mosei, "text_features", zeros)
    data = load_dataset("mosei", data_dir=DATA_DIR)
    assert data.sizes() == {"train": 16327, "valid": 1871, "test": 4662}
    assert data.real_modalities == ("text",) and data.modalities == ("text",) and data.has_emotions
    for split in data.splits.values():
        assert split.emotions.min() >= 0 and split.emotions.max() <= 3
        assert split.sentiment.abs().max() <= 3
    present = (data.splits["train"].emotions > 0).float().mean(0)
    assert (present > 0.02).all() and (present < 0.9).all()
    total = data.notes["transcript_match"]["total"]
    kinds = ("in_order", "within", "loose", "none")
    assert sum(total[k] for k in kinds) == 16327 + 1871 + 4662 and total["in_order"] > 22000
    # paired on (video, time) only; measured on the shared files (tests/test_mosei_matching.py checks the pairs)
    assert data.notes["transcript_match"]["per_split"]["test"]["without_text"] == 9
    assert "22763 paired in time order" in data.description


def test_leakage_probe_flags_official_fold_only():
    table = mosi_bclstm_text_leakage(DATA_DIR).set_index("setting")
    assert table.loc["official folds (train -> test)", "leak_suspected"]
    assert not table.loc["own bc-LSTM split (train -> test)", "leak_suspected"]
