"""The official GCNet/MCULoRA layout loader on generated feature files with the REAL label pickles."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmolre.data import DataError, load_dataset
from mmolre.data.iemocap import parse_iemocap_pickle
from mmolre.data.mosi import read_mosi_labels
from mmolre.paths import PROJECT_ROOT


def _data_dir() -> Path | None:
    for candidate in (os.environ.get("MMOLRE_DATA_DIR"), PROJECT_ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mosi").is_dir() and (Path(candidate) / "iemocap").is_dir():
            return Path(candidate)
    return None


DATA_DIR = _data_dir()
pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="no real label pickles: set MMOLRE_DATA_DIR")
TEXT, AUDIO, VIDEO = "deberta-large-4-UTT", "wav2vec-large-c-UTT", "manet_UTT"


@pytest.fixture(scope="module")
def mosi_root(tmp_path_factory) -> Path:
    """MOSI: text (5,) files, audio (T, 3) frame arrays, video as directories of two (4,) frame files."""
    root = tmp_path_factory.mktemp("CMUMOSI")
    shutil.copy(DATA_DIR / "mosi" / "CMUMOSI_features_raw_2way.pkl", root)
    labels = read_mosi_labels(path=root / "CMUMOSI_features_raw_2way.pkl")
    for name in (TEXT, AUDIO, VIDEO):
        (root / "features" / name).mkdir(parents=True)
    for i, utterance in enumerate(sorted(labels.sentiment)):
        np.save(root / "features" / TEXT / f"{utterance}.npy", np.full(5, i, np.float32))
        np.save(root / "features" / AUDIO / f"{utterance}.npy", np.arange(6, dtype=np.float32).reshape(2, 3) + i)
        frames = root / "features" / VIDEO / utterance
        frames.mkdir()
        np.save(frames / "0.npy", np.zeros(4, np.float32))
        np.save(frames / "1.npy", np.full(4, 2.0, np.float32))
    return root


def test_mosi_official_layout(mosi_root):
    data = load_dataset("official", data_dir=mosi_root, dataset="mosi")
    labels = read_mosi_labels(path=mosi_root / "CMUMOSI_features_raw_2way.pkl")
    assert data.sizes() == {"train": 1284, "valid": 229, "test": 686}
    assert data.dims == {"text": 5, "audio": 3, "vision": 4} and data.real_modalities == ("text", "audio", "vision")
    assert data.tasks == ("sentiment",) and bool(data.splits["train"].mask.all())
    order = {u: i for i, u in enumerate(sorted(labels.sentiment))}
    test = data.splits["test"]
    assert test.features["text"][:, 0, 0].tolist() == [order[u] for u in test.ids]
    np.testing.assert_allclose(
        test.features["audio"][:, 0].numpy(), [[1.5 + order[u] + k for k in (0, 1, 2)] for u in test.ids]
    )
    np.testing.assert_allclose(test.features["vision"].numpy(), 1.0)  # two frames 0 and 2 averaged
    assert test.sentiment.tolist() == pytest.approx([labels.sentiment[u] for u in test.ids])


def test_mosi_official_layout_with_context_and_fewer_modalities(mosi_root):
    data = load_dataset("official", data_dir=mosi_root, dataset="mosi", features={"text": TEXT}, context=True)
    assert data.modalities == ("text",) and data.sizes() == {"train": 52, "valid": 10, "test": 31}
    assert int(data.splits["test"].positions.sum()) == 686


def _break(path: Path, content: bytes | None):
    saved = path.read_bytes() if path.exists() else None
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    return saved


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing", r"03bSnISJMiM_1\.npy: feature file not found"),
        ("garbage", r"03bSnISJMiM_1\.npy: not a readable \.npy array"),
        ("nan", r"03bSnISJMiM_1\.npy: contains NaN or inf"),
        ("width", r"width (7 differs from 5|5 differs from 7 of \S*03bSnISJMiM_1\.npy)"),
        ("cube", r"03bSnISJMiM_1\.npy: expected shape \(d,\) or \(T, d\)"),
    ],
)
def test_bad_feature_files_name_the_file(mosi_root, tmp_path, problem, message):
    path = mosi_root / "features" / TEXT / "03bSnISJMiM_1.npy"
    saved = path.read_bytes()
    try:
        if problem == "missing":
            path.unlink()
        elif problem == "garbage":
            path.write_bytes(b"not numpy at all")
        else:
            array = {"nan": np.full(5, np.nan), "width": np.ones(7), "cube": np.ones((2, 2, 5))}[problem]
            np.save(path, array.astype(np.float32))
        with pytest.raises(DataError, match=message):
            load_dataset("official", data_dir=mosi_root, dataset="mosi", features={"text": TEXT})
    finally:
        path.write_bytes(saved)


def test_missing_pickle_folder_and_options(mosi_root, tmp_path):
    with pytest.raises(DataError, match=r"CMUMOSEI_features_raw_2way\.pkl: label pickle not found"):
        load_dataset("official", data_dir=mosi_root, dataset="mosei")
    with pytest.raises(DataError, match=r"features/nope: feature folder not found"):
        load_dataset("official", data_dir=mosi_root, dataset="mosi", features={"text": "nope"})
    with pytest.raises(DataError, match="pass data_dir"):
        load_dataset("official", dataset="mosi")
    with pytest.raises(ValueError, match="apply to iemocap only"):
        load_dataset("official", data_dir=mosi_root, dataset="mosi", fold=2)
    with pytest.raises(ValueError, match="features must map"):
        load_dataset("official", data_dir=mosi_root, dataset="mosi", features={"smell": "x"})
    (tmp_path / "CMUMOSI_features_raw_2way.pkl").write_bytes(b"\x80\x04 truncated")
    with pytest.raises(DataError, match="sha256"):
        load_dataset("official", data_dir=tmp_path, dataset="mosi")


@pytest.fixture(scope="module")
def iemocap_root(tmp_path_factory) -> Path:
    """IEMOCAP: text (3,) files; video per utterance a directory with compress_F.npy (ones) and compress_M.npy (twos),
    except the first utterance, whose directory holds only the other speaker's file."""
    root = tmp_path_factory.mktemp("IEMOCAP")
    shutil.copy(DATA_DIR / "iemocap" / "IEMOCAP_features_raw_4way.pkl", root)
    labels = parse_iemocap_pickle(root / "IEMOCAP_features_raw_4way.pkl")
    for name in (TEXT, VIDEO):
        (root / "features" / name).mkdir(parents=True)
    for i, utterance in enumerate(sorted(labels.label)):
        np.save(root / "features" / TEXT / f"{utterance}.npy", np.full(3, i, np.float32))
        faces = root / "features" / VIDEO / utterance
        faces.mkdir()
        other = "M" if labels.speaker[utterance] == "F" else "F"
        for who, value in (("F", 1.0), ("M", 2.0)):
            if i > 0 or who == other:
                np.save(faces / f"compress_{who}.npy", np.full((2, 4), value, np.float32))
    return root


@pytest.mark.parametrize("fold", [2])
def test_iemocap_official_layout(iemocap_root, fold):
    data = load_dataset(
        "official", data_dir=iemocap_root, dataset="iemocap", features={"text": TEXT, "vision": VIDEO}, fold=fold
    )
    labels = parse_iemocap_pickle(iemocap_root / "IEMOCAP_features_raw_4way.pkl")
    assert data.tasks == ("emotion4",) and sum(data.sizes().values()) == 5531
    assert {i[4] for i in data.splits["test"].ids} == {str(fold)}
    first = sorted(labels.label)[0]
    for split in data.splits.values():
        vision = split.features["vision"][:, 0, 0].numpy()
        expected = [0.0 if u == first else (1.0 if labels.speaker[u] == "F" else 2.0) for u in split.ids]
        np.testing.assert_allclose(vision, expected)
        assert split.mask[:, 2].tolist() == [u != first for u in split.ids]
        assert split.emotion4.tolist() == [labels.label[u] for u in split.ids]
    assert data.notes["absent"] == {"text": 0, "vision": 1}
    context = load_dataset(
        "official", data_dir=iemocap_root, dataset="iemocap", features={"text": TEXT}, fold=fold, context=True
    )
    test = context.splits["test"]
    dialogue = test.ids[0]
    n = len(labels.dialogues[dialogue])
    order = {u: i for i, u in enumerate(sorted(labels.label))}
    assert test.features["text"][0, :n, 0].tolist() == [order[u] for u in labels.dialogues[dialogue]]
