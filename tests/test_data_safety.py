"""Restricted unpickling and clear errors for bad data files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from mmolre.data import load_dataset
from mmolre.data.dataset import DataError, MultimodalDataset, SplitData
from mmolre.data.mmsa import load_mmsa
from mmolre.data.mosi import read_bclstm
from mmolre.data.safe_pickle import load_pickle
from mmolre.data.sources import verification


class _Shell:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Eval:
    def __reduce__(self):
        return eval, ("1 + 1",)


def test_plain_containers_and_numpy_round_trip(tmp_path):
    value = {
        "a": [1, 2.5, "x"],
        "b": {3, 4},
        "c": np.arange(6, dtype=np.float32).reshape(2, 3),
        "d": np.float64(0.5),
        "e": frozenset({"y"}),
        "f": (b"raw", None, True),
    }
    path = tmp_path / "ok.pkl"
    for protocol in (2, 4, 5):
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        loaded = load_pickle(path)
        assert loaded["b"] == {3, 4} and loaded["d"] == 0.5 and loaded["f"] == (b"raw", None, True)
        np.testing.assert_array_equal(loaded["c"], value["c"])


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"payload": _Shell(str(marker))}))
    with pytest.raises(DataError, match=r"evil\.pkl.*forbidden global (posix|os|nt)\.system"):
        load_pickle(path)
    assert not marker.exists()


def test_eval_pickle_is_refused(tmp_path):
    path = tmp_path / "eval.pkl"
    path.write_bytes(pickle.dumps([_Eval()]))
    with pytest.raises(DataError, match=r"builtins\.eval"):
        load_pickle(path)


def test_truncated_and_non_pickle_files(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"x": np.zeros(100)})[:-20])
    with pytest.raises(DataError, match=r"cut\.pkl: truncated or not a pickle"):
        load_pickle(path)
    text = tmp_path / "notes.pkl"
    text.write_text("id,label\n1,2\n")
    with pytest.raises(DataError, match="truncated or not a pickle"):
        load_pickle(text)


def test_missing_file_says_how_to_obtain(tmp_path):
    with pytest.raises(DataError, match="not found.*MMOLRE_DATA_DIR"):
        load_pickle(tmp_path / "absent.pkl")
    with pytest.raises(DataError, match=r"CMUMOSI_features_raw_2way\.pkl: file not found.*zeroQiaoba/GCNet"):
        load_dataset("mosi", data_dir=tmp_path)


def test_real_dataset_without_data_dir(monkeypatch):
    monkeypatch.delenv("MMOLRE_DATA_DIR", raising=False)
    with pytest.raises(DataError, match=r"(?s)no data directory.*MMOLRE_DATA_DIR.*jbdel/MOSEI_UMONS"):
        load_dataset("mosei")


def test_unknown_name_and_option():
    with pytest.raises(ValueError, match="valid names.*synthetic"):
        load_dataset("iemocap6")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour'\].*n_train"):
        load_dataset("synthetic", colour="red")


def test_nan_cells_in_csv(tmp_path):
    folder = tmp_path / "mosi" / "bclstm"
    folder.mkdir(parents=True)
    (folder / "transcripts.csv").write_text('"a_1","HELLO","0","1"\n"a_2",,"0","0"\n')
    with pytest.raises(
        DataError, match=r"transcripts\.csv: sha256 .* differs from the recorded .*MMOLRE_VERIFY_DATA=0"
    ):
        read_bclstm(labels=None, data_dir=tmp_path)  # type: ignore[arg-type]
    with verification(False), pytest.warns(UserWarning, match=r"transcripts\.csv: sha256"):
        with pytest.raises(DataError, match=r"transcripts\.csv: contains empty or NaN cells"):
            read_bclstm(labels=None, data_dir=tmp_path)  # type: ignore[arg-type]


def test_nan_features_rejected_by_dataset():
    features = {"text": torch.tensor([[[0.0, float("nan")]]])}
    split = SplitData(features, torch.tensor([[True, False, False]]), torch.zeros(1), None, ["x"])
    with pytest.raises(DataError, match="bad/train: text features contain NaN"):
        MultimodalDataset("bad", {"train": split, "valid": split, "test": split}, ("text",), "", {})


def _mmsa_split(n: int, rng: np.random.Generator) -> dict[str, object]:
    audio = rng.standard_normal((n, 7, 5)).astype(np.float32)
    if n:
        audio[0, 0, 0] = -np.inf
    return {
        "raw_text": ["words"] * n,
        "text": rng.standard_normal((n, 6, 8)).astype(np.float32),
        "text_bert": np.zeros((n, 3, 6), dtype=np.float32),
        "audio": audio,
        "vision": rng.standard_normal((n, 9, 4)).astype(np.float32),
        "id": [f"v$_${i}" for i in range(n)],
        "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
        "audio_lengths": [7] * n,
        "vision_lengths": [9] * n,
    }


def _write_mmsa(path, sizes=(5, 3, 4), change=None):
    rng = np.random.default_rng(0)
    content = {s: _mmsa_split(n, rng) for s, n in zip(("train", "valid", "test"), sizes)}
    if change:
        change(content)
    path.write_bytes(pickle.dumps(content, protocol=4))
    return path


def test_mmsa_reader_cleans_inf(tmp_path):
    data = load_mmsa(_write_mmsa(tmp_path / "aligned_50.pkl"))
    assert data.sizes() == {"train": 5, "valid": 3, "test": 4}
    assert data.dims == {"text": 8, "audio": 5, "vision": 4}
    assert data.notes["nonfinite_replaced_by_0"] == {"train/audio": 1, "valid/audio": 1, "test/audio": 1}
    assert data.splits["train"].features["audio"][0, 0, 0] == 0
    assert not data.has_emotions and data.splits["test"].ids[0] == "v$_$0"
    via_entry = load_dataset("mmsa", path=tmp_path / "aligned_50.pkl", text_field="text_bert")
    assert via_entry.dims["text"] == 6


def test_mmsa_wrong_shape_names_field_and_split(tmp_path):
    def squash(content):
        content["valid"]["vision"] = content["valid"]["vision"][:, 0, :]

    with pytest.raises(DataError, match=r"valid/vision has shape \(3, 4\)"):
        load_mmsa(_write_mmsa(tmp_path / "bad.pkl", change=squash))


def test_mmsa_empty_split(tmp_path):
    with pytest.raises(DataError, match="test is empty"):
        load_mmsa(_write_mmsa(tmp_path / "empty.pkl", sizes=(5, 3, 0)))
