"""IEMOCAP four classes on the shared label pickle (the text encoder is replaced to stay fast)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import mmolre.data.iemocap as iemocap
from mmolre.data import DataError, load_dataset
from mmolre.data.text_encoder import TextFeatures
from mmolre.paths import PROJECT_ROOT


def _data_dir() -> Path | None:
    for candidate in (os.environ.get("MMOLRE_DATA_DIR"), PROJECT_ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / iemocap.PICKLE).is_file():
            return Path(candidate)
    return None


DATA_DIR = _data_dir()
pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="no IEMOCAP pickle: set MMOLRE_DATA_DIR")


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch):
    """Text vectors that identify the transcript (its length), so row order can be checked."""
    monkeypatch.setattr(
        iemocap,
        "text_features",
        lambda texts, *_: TextFeatures(np.array([[[len(t), 1.0]] for t in texts], dtype=np.float32), None, None),
    )


def test_session_five_split_and_classes():
    data = load_dataset("iemocap", data_dir=DATA_DIR)
    labels = iemocap.read_iemocap_labels(DATA_DIR)
    assert data.tasks == ("emotion4",) and data.real_modalities == ("text",) and data.modalities == ("text",)
    assert sum(data.sizes().values()) == 5531 and data.sizes()["test"] == 1241
    assert data.notes["dialogues"] == {"train": 108, "valid": 12, "test": 31}
    assert set(data.splits["test"].ids) == {u for d in labels.test_dialogues for u in labels.dialogues[d]}
    counts = np.sum([data.notes["class_counts"][s] for s in ("train", "valid", "test")], axis=0)
    assert counts.tolist() == [1636, 1084, 1708, 1103]
    test = data.splits["test"]
    assert [labels.label[u] for u in test.ids] == test.emotion4.tolist()
    assert test.features["text"][:, 0, 0].tolist() == [len(labels.transcript[u]) for u in test.ids]


@pytest.mark.parametrize("fold", [1, 2, 3, 4, 5])
def test_leave_one_session_out(fold):
    data = load_dataset("iemocap", data_dir=DATA_DIR, fold=fold)
    sessions = {s: {iemocap.session(i.rsplit("_", 1)[0]) for i in data.splits[s].ids} for s in data.splits}
    assert sessions["test"] == {fold} and fold not in sessions["train"] | sessions["valid"]
    dialogues = {s: {i.rsplit("_", 1)[0] for i in data.splits[s].ids} for s in data.splits}
    assert not dialogues["train"] & dialogues["valid"]
    assert sum(data.sizes().values()) == 5531


def test_bad_fold_and_bad_pickle(tmp_path):
    with pytest.raises(ValueError, match="fold must be one of"):
        load_dataset("iemocap", data_dir=DATA_DIR, fold=6)
    broken = tmp_path / "iemocap"
    broken.mkdir()
    (broken / "IEMOCAP_features_raw_4way.pkl").write_bytes((DATA_DIR / iemocap.PICKLE).read_bytes()[:1000])
    with pytest.warns(UserWarning, match="used anyway"):
        with pytest.raises(DataError, match=r"IEMOCAP_features_raw_4way\.pkl: truncated or not a pickle"):
            load_dataset("iemocap", data_dir=tmp_path, verify=False)


def test_context_keeps_dialogue_order():
    data = load_dataset("iemocap", data_dir=DATA_DIR, context=True)
    labels = iemocap.read_iemocap_labels(DATA_DIR)
    test = data.splits["test"]
    assert test.ids == sorted(labels.test_dialogues) and test.positions.shape == (31, 83)
    first = test.ids[0]
    n = len(labels.dialogues[first])
    assert test.positions[0].sum() == n and not test.positions[0, n:].any()
    assert test.emotion4[0, :n].tolist() == [labels.label[u] for u in labels.dialogues[first]]
    assert torch.equal(test.utterance_labels()["emotion4"][:n], test.emotion4[0, :n])
    assert len(test.utterance_labels()["emotion4"]) == 1241
