"""Family 2 of issue 15: malformed data files (as loaded with verification off, or files without a recorded digest)
end in one DataError naming the file and the item (video, segment, dialogue, utterance, split, sample), and no id
in a label file can make a loader read outside the data folder.

Each test starts from a tiny valid file (checked to load) and makes one edit.
"""

from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmolre.data import DataError, load_dataset
from mmolre.data.iemocap import parse_iemocap_pickle
from mmolre.data.mmsa import load_mmsa
from mmolre.data.mosi import read_mosi_labels
from mmolre.data.sources import check_numeric

LIMIT = 400
VIDEOS = {"va": ["va_1", "va_2"], "vb": ["vb_1"], "vc": ["vc_1", "vc_2"]}


def mosi_items() -> list[object]:
    """A valid label pickle in the GCNet MOSI/MOSEI layout: train va, valid vb, test vc."""
    return [
        {v: list(segs) for v, segs in VIDEOS.items()},
        {v: [np.float64(0.5 * i - 1) for i, _ in enumerate(segs)] for v, segs in VIDEOS.items()},
        {v: [""] * len(segs) for v, segs in VIDEOS.items()},
        {v: np.array([f"text of {s}" for s in segs]) for v, segs in VIDEOS.items()},
        {"va"},
        {"vb"},
        {"vc"},
    ]


def iemocap_items() -> list[object]:
    """A valid four-class label pickle: one dialogue of session 1 (train) and one of session 5 (test)."""
    dialogues = {"Ses01F_a": ["Ses01F_a_F000", "Ses01F_a_M001"], "Ses05M_b": ["Ses05M_b_F000"]}
    return [
        dialogues,
        {"Ses01F_a": [0, 3], "Ses05M_b": [2]},
        {"Ses01F_a": ["F", "M"], "Ses05M_b": ["F"]},
        {"Ses01F_a": ["hello", "there"], "Ses05M_b": ["bye"]},
        {"Ses01F_a"},
        {"Ses05M_b"},
    ]


def _write(path: Path, value: object) -> Path:
    path.write_bytes(pickle.dumps(value, protocol=2))
    return path


def _refused(call, *fragments: str) -> str:
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and len(message) < LIMIT, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def _edit_mosi(change: str) -> list[object]:
    items = mosi_items()
    if change == "sentiment 7":
        items[1]["va"][1] = 7.0
    elif change == "sentiment NaN":
        items[1]["va"][1] = float("nan")
    elif change == "sentiment text":
        items[1]["va"][1] = "abc"
    elif change == "sentiment bool":
        items[1]["va"][1] = True
    elif change == "lone surrogate":
        items[3]["va"] = ["fine", "bad \ud800 text"]
    elif change == "transcript None":
        items[3]["va"] = ["fine", None]
    elif change == "segment id number":
        items[0]["va"][1] = 7
    elif change == "segment twice":
        items[0]["vb"] = ["va_1"]
    elif change == "video id number":
        items[0][5] = items[0].pop("vb")
    elif change == "huge unknown fold id":
        items[6] = {"vc", "x" * 1_000_000}
    elif change == "nested fold list":
        nested: list = []
        for _ in range(90):  # deep, yet within what the unpickler accepts
            nested = [nested]
        items[6] = ["vc", nested]
    return items


MOSI_CASES = {
    "sentiment 7": "item [1] video 'va' has sentiments outside [-3, 3]: segment 'va_2' has 7.0",
    "sentiment NaN": "item [1] video 'va' has NaN or infinite sentiments: segment 'va_2' has nan",
    "sentiment text": "item [1] video 'va' has non-numeric sentiments: segment 'va_2' has 'abc'",
    "sentiment bool": "item [1] video 'va' has non-numeric sentiments: segment 'va_2' has True",
    "lone surrogate": "segment 'va_2': transcript (item [3]) is not valid Unicode",
    "transcript None": "segment 'va_2': transcript (item [3]) is not text",
    "segment id number": "segment id that is not text: 7",
    "segment twice": "segment 'va_1' is listed under video",
    "video id number": "video id that is not text: 5",
    "huge unknown fold id": "item [6] (test fold) lists video(s) ['xxxx",
    "nested fold list": "item [6] (test fold) must be a collection of video ids",
}


def test_valid_fixtures_load(tmp_path):
    labels = read_mosi_labels(path=_write(tmp_path / "mosi.pkl", mosi_items()))
    assert labels.folds == {"train": ["va_1", "va_2"], "valid": ["vb_1"], "test": ["vc_1", "vc_2"]}
    iemocap = parse_iemocap_pickle(_write(tmp_path / "iemocap.pkl", iemocap_items()))
    assert iemocap.label == {"Ses01F_a_F000": 0, "Ses01F_a_M001": 3, "Ses05M_b_F000": 2}


@pytest.mark.parametrize("change", sorted(MOSI_CASES))
def test_mosi_layout_pickle_names_file_video_and_segment(tmp_path, change):
    path = _write(tmp_path / "labels.pkl", _edit_mosi(change))
    _refused(lambda: read_mosi_labels(path=path), "labels.pkl: ", MOSI_CASES[change])


IEMOCAP_CASES = {
    "class text": (lambda items: items[1]["Ses01F_a"].__setitem__(1, "abc"), "class 'abc' is not an integer"),
    "class None": (lambda items: items[1]["Ses01F_a"].__setitem__(1, None), "class None is not an integer"),
    "class float": (lambda items: items[1]["Ses01F_a"].__setitem__(1, 1.5), "class 1.5 is not an integer"),
    "class 7": (lambda items: items[1]["Ses01F_a"].__setitem__(1, 7), "class 7, expected 0..3"),
    "speaker": (lambda items: items[2]["Ses01F_a"].__setitem__(1, "X"), "speaker 'X'"),
    "transcript surrogate": (lambda items: items[3]["Ses01F_a"].__setitem__(1, "\udcff"), "not valid Unicode"),
    "train not a list": (lambda items: items.__setitem__(4, 5), "train dialogues (item [4])"),
    "train of lists": (lambda items: items.__setitem__(4, [["Ses01F_a"]]), "train dialogues (item [4])"),
    "dialogue id number": (lambda items: items[0].__setitem__(3, ["u"]), "dialogue id is not text: 3"),
    "utterances not a list": (lambda items: items[0].__setitem__("Ses01F_a", 2), "dialogue Ses01F_a needs lists"),
    "utterance repeated": (
        lambda items: items[0].__setitem__("Ses05M_b", ["Ses01F_a_F000"]),
        "'Ses01F_a_F000' is repeated",
    ),
    "dialogue in both splits": (lambda items: items[5].add("Ses01F_a"), "own split is not sessions"),
}


@pytest.mark.parametrize("change", sorted(IEMOCAP_CASES))
def test_iemocap_pickle_names_file_dialogue_and_utterance(tmp_path, change):
    items = iemocap_items()
    edit, fragment = IEMOCAP_CASES[change]
    edit(items)
    path = _write(tmp_path / "iemocap.pkl", items)
    _refused(lambda: parse_iemocap_pickle(path), "iemocap.pkl: ", fragment)


def _mmsa(n: int = 4) -> dict[str, dict[str, object]]:
    rng = np.random.default_rng(0)
    part = {
        "text": rng.standard_normal((n, 3, 5)),
        "audio": rng.standard_normal((n, 2, 4)),
        "vision": rng.standard_normal((n, 2, 6)),
        "regression_labels": np.linspace(-2, 2, n),
        "id": [f"clip_{i}" for i in range(n)],
    }
    return {split: copy.deepcopy(part) for split in ("train", "valid", "test")}


MMSA_CASES = {
    "label NaN": (("valid", "regression_labels", np.array([0.0, np.nan, 1.0, 1.0])), "valid/regression_labels"),
    "label 7": (("test", "regression_labels", np.array([0.0, 1.0, 7.0, 1.0])), "sample 2 is 7.0"),
    "label text": (("train", "regression_labels", np.array(["a", "b", "c", "d"])), "train/regression_labels"),
    "emotions NaN": (("train", "emotion_labels", np.full((4, 6), np.nan)), "emotion_labels are NaN"),
    "id scalar": (("train", "id", 5), "train/id must list one id per sample"),
    "id short": (("train", "id", ["a"]), "train/id must list one id per sample"),
    "id surrogate": (("train", "id", ["a", "b", "\ud800", "d"]), "train/id[2] is not valid Unicode"),
    "audio text": (("train", "audio", "not an array"), "train/audio is not a numeric array"),
}


@pytest.mark.parametrize("change", sorted(MMSA_CASES))
def test_mmsa_pickle_names_file_split_and_sample(tmp_path, change):
    assert load_mmsa(_write(tmp_path / "ok.pkl", _mmsa())).sizes() == {"train": 4, "valid": 4, "test": 4}
    (split, field, value), fragment = MMSA_CASES[change]
    content = _mmsa()
    content[split][field] = value
    path = _write(tmp_path / "aligned.pkl", content)
    _refused(lambda: load_mmsa(path), "aligned.pkl: ", fragment)


@pytest.fixture
def official_root(tmp_path) -> Path:
    """A tiny official-layout MOSEI folder (its label pickle has no recorded digest): text features per segment."""
    root = tmp_path / "data" / "CMUMOSEI"
    (root / "features" / "T").mkdir(parents=True)
    _write(root / "CMUMOSEI_features_raw_2way.pkl", mosi_items())
    for segs in VIDEOS.values():
        for segment in segs:
            np.save(root / "features" / "T" / f"{segment}.npy", np.ones(3, np.float32))
    return root


def _official(root: Path, features: dict[str, str] | None = None):
    return lambda: load_dataset("official", data_dir=root, dataset="mosei", features=features or {"text": "T"})


def test_official_layout_loads(official_root):
    assert _official(official_root)().sizes() == {"train": 2, "valid": 1, "test": 2}


@pytest.mark.parametrize("hostile", ["../../../outside/secret", "/etc/passwd", "..", "a\\b", "a\x00b"])
def test_official_utterance_ids_cannot_leave_the_data_folder(official_root, hostile):
    outside = official_root.parent.parent / "outside"
    outside.mkdir(exist_ok=True)
    np.save(outside / "secret.npy", np.full(3, 42.0, np.float32))
    items = mosi_items()
    items[0]["va"][1] = hostile
    items[1]["va"][1] = 0.5
    _write(official_root / "CMUMOSEI_features_raw_2way.pkl", items)
    _refused(_official(official_root), "CMUMOSEI_features_raw_2way.pkl: utterance id must be a plain file name")


def test_official_feature_folder_name_cannot_leave_the_data_folder(official_root):
    _refused(_official(official_root, {"text": "../CMUMOSEI/features/T"}), "feature folder name")


def test_official_links_out_of_the_data_folder_are_refused(official_root, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.save(elsewhere / "frame.npy", np.ones(3, np.float32))
    (official_root / "features" / "T" / "va_1.npy").unlink()
    os.symlink(elsewhere / "frame.npy", official_root / "features" / "T" / "va_1.npy")
    _refused(_official(official_root), "va_1.npy resolves to", "outside the data folder")
    (official_root / "features" / "T" / "va_1.npy").unlink()
    os.symlink(elsewhere, official_root / "features" / "T" / "va_1")
    _refused(_official(official_root), "outside the data folder")


def test_official_npy_header_promising_more_than_the_file_is_refused(official_root):
    path = official_root / "features" / "T" / "vb_1.npy"
    path.write_bytes(path.read_bytes().replace(b"'shape': (3,)", b"'shape': (1000000000000,)"))
    _refused(_official(official_root), "vb_1.npy: not a readable .npy array")


def test_label_columns_outside_their_range_name_file_column_and_line(tmp_path):
    frame = pd.DataFrame({"sentiment": [0.5, 7.0, -1.0], "happy": [0.0, 1.0, -0.5]})
    path = tmp_path / "labels.csv"
    _refused(
        lambda: check_numeric(frame, path, ["sentiment"], first_line=2, ranges={"sentiment": (-3.0, 3.0)}),
        "labels.csv: column 'sentiment' is outside [-3, 3] at line 3, e.g. 7",
    )
    _refused(
        lambda: check_numeric(frame, path, ["happy"], first_line=2, ranges={"happy": (0.0, 3.0)}),
        "column 'happy' is outside [0, 3] at line 4",
    )
    check_numeric(frame, path, ["sentiment"], first_line=2)  # no range given: only finiteness is checked
