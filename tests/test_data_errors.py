"""Bad real-data files end in a DataError naming the file and the problem (small generated fixtures, no real data).

The fixtures imitate the real file names, so they are loaded with sha256 verification off (``verify=False``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import mmolre.data.mosei as mosei
from mmolre.data import DataError, load_dataset
from mmolre.data.text_encoder import TextFeatures
from mmolre.emotions import EMOTIONS

pytestmark = pytest.mark.filterwarnings("ignore:.*used anyway because verification is off:UserWarning")

# official folds: 3 train videos, 1 valid, 2 test; the bc-LSTM own split: v1-v4 train, v5-v6 test
VIDEOS = {f"v{i}": [f"v{i}_{j}" for j in range(1, 4)] for i in range(1, 7)}
FOLDS = ({"v1", "v2", "v3"}, {"v4"}, {"v5", "v6"})
OWN = {"train": ["v1", "v2", "v3", "v4"], "test": ["v5", "v6"]}
WIDTH = {"text": 100, "audio": 73, "video": 100}


def _sentiment(segment: str) -> float:
    video, number = segment[1:].split("_")
    return round((int(video) * 3 + int(number)) % 13 / 2 - 3, 1)


def mosi_items() -> list[object]:
    """A MOSI pickle in the GCNet layout (list of 7 items), see /work/shared/README.md."""
    return [
        {vid: list(segs) for vid, segs in VIDEOS.items()},
        {vid: [np.float64(_sentiment(s)) for s in segs] for vid, segs in VIDEOS.items()},
        {vid: [""] * len(segs) for vid, segs in VIDEOS.items()},
        {vid: np.array([f"TEXT OF {s}" for s in segs]) for vid, segs in VIDEOS.items()},
        *(set(fold) for fold in FOLDS),
    ]


def _csv(path: Path, rows: list[list[object]]) -> None:
    path.write_text("".join(",".join(f'"{value}"' for value in row) + "\n" for row in rows))


def write_mosi(root: Path, items: list[object] | None = None) -> Path:
    """The MOSI pickle and the bc-LSTM CSVs under ``root/mosi``; returns ``root``."""
    folder = root / "mosi" / "bclstm"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "mosi" / "CMUMOSI_features_raw_2way.pkl").write_bytes(pickle.dumps(items or mosi_items()))
    segments = [s for segs in VIDEOS.values() for s in segs]
    _csv(
        folder / "transcripts.csv",
        [[s, f"TEXT OF {s}", int(s[1]), int(_sentiment(s) >= 0)] for s in segments],
    )
    rng = np.random.default_rng(0)
    for part, videos in OWN.items():
        rows = [segments.index(s) for vid in videos for s in VIDEOS[vid]]
        _csv(folder / f"text_{part}.csv", [[row, *rng.standard_normal(3).round(4)] for row in rows])
        labels = [int(_sentiment(segments[row]) >= 0) for row in rows]
        for name, width in WIDTH.items():
            _csv(folder / f"{name}_{part}0.csv", [[*rng.standard_normal(width).round(4), y] for y in labels])
    return root


def edit_cell(path: Path, line: int, column: int, value: str) -> None:
    """Replace one cell (1-based line, 0-based column) of a CSV file."""
    lines = path.read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_fixtures_load_cleanly(tmp_path, monkeypatch):
    """The unedited fixtures load, so every failure below comes from the one edit each test makes."""
    data = load_dataset("mosi_bclstm", data_dir=write_mosi(tmp_path), verify=False, valid_fraction=0.25)
    assert sum(data.sizes().values()) == 18 and data.dims == {"text": 100, "audio": 73, "vision": 100}
    monkeypatch.setattr(
        mosei, "text_features", lambda texts, *_: TextFeatures(np.zeros((len(texts), 1, 4), np.float32), None, None)
    )
    assert load_dataset("mosei", data_dir=write_mosei(tmp_path), verify=False).sizes() == {
        "train": 3,
        "valid": 2,
        "test": 2,
    }


# 1. transcripts.csv without its id column


def test_transcripts_without_id_column_names_transcripts(tmp_path):
    root = write_mosi(tmp_path)
    path = root / "mosi" / "bclstm" / "transcripts.csv"
    path.write_text("".join(line.split(",", 1)[1] + "\n" for line in path.read_text().splitlines()))
    with pytest.raises(
        DataError, match=r"transcripts\.csv: 3 columns, expected 4 \(segment id, text, video index, binary label\)"
    ):
        load_dataset("mosi_bclstm", data_dir=root, verify=False)


def test_transcripts_with_wrong_ids_blames_transcripts_not_text_file(tmp_path):
    root = write_mosi(tmp_path)
    path = root / "mosi" / "bclstm" / "transcripts.csv"
    path.write_text(path.read_text().replace('"v1_', '"x1_'))
    with pytest.raises(DataError, match=r"^mosi/bclstm/transcripts\.csv: column 0 should hold segment ids.*'x1_1'"):
        load_dataset("mosi_bclstm", data_dir=root, verify=False)


# 2. an inf cell in a bc-LSTM CSV


@pytest.mark.parametrize("value", ['"inf"', '"-inf"', "Infinity"])
def test_inf_in_bclstm_csv_names_file_line_and_column(tmp_path, value):
    root = write_mosi(tmp_path)
    edit_cell(root / "mosi" / "bclstm" / "audio_test0.csv", line=4, column=7, value=value)
    with pytest.raises(DataError, match=r"audio_test0\.csv: column 7 is infinite at line 4$"):
        load_dataset("mosi_bclstm", data_dir=root, verify=False)


def test_non_numeric_and_empty_bclstm_cells(tmp_path):
    root = write_mosi(tmp_path)
    path = root / "mosi" / "bclstm" / "video_train0.csv"
    edit_cell(path, line=2, column=0, value='"high"')
    with pytest.raises(DataError, match=r"video_train0\.csv: column 0 is not a number at line 2, e.g. 'high'"):
        load_dataset("mosi_bclstm", data_dir=root, verify=False)
    edit_cell(path, line=2, column=0, value='""')
    edit_cell(path, line=5, column=0, value="")
    with pytest.raises(DataError, match=r"video_train0\.csv: column 0 is empty or NaN at lines 2, 5 \(2 rows\)"):
        load_dataset("mosi_bclstm", data_dir=root, verify=False)


# 3. and 4. NaN / non-numeric cells in the MOSEI label files


MOSEI_FOLDS = {"train": ["a", "a", "b"], "valid": ["c", "c"], "test": ["d", "e"]}


def write_mosei(root: Path) -> Path:
    """The three fold pickles, the 7-d label CSV and the transcript CSV under ``root/mosei``; returns ``root``."""
    folder = root / "mosei"
    folder.mkdir(parents=True, exist_ok=True)
    labels = ["id,link,segment_id,start,end,sentiment," + ",".join(EMOTIONS)]
    texts = ["video_id,clip_id,text,label,mode"]
    for split, videos in MOSEI_FOLDS.items():
        entries = {}
        for index, video in enumerate(videos):
            start, end = 10.0 * index + 1.5, 10.0 * index + 8.25
            entries[index] = [f"{video}[{index}]", start, end]
            sentiment = round(index - 0.5, 1)
            labels.append(f"{video},link,{index},{start},{end},{sentiment}," + ",".join(["0.5"] * len(EMOTIONS)))
            texts.append(f"{video},{str(start).replace('.', '_')},words of {video},{sentiment},{split}")
        (folder / f"umons_d_{split}.pkl").write_bytes(pickle.dumps(entries))
    (folder / "mosei_labels_7d.csv").write_text("\n".join(labels) + "\n")
    (folder / "mosei_text_label.csv").write_text("\n".join(texts) + "\n")
    return root


def test_nan_in_mosei_emotion_names_file_column_and_rows(tmp_path):
    root = write_mosei(tmp_path)
    path = root / "mosei" / "mosei_labels_7d.csv"
    sad = 6 + EMOTIONS.index("sad")
    edit_cell(path, line=3, column=sad, value="")
    edit_cell(path, line=6, column=sad, value="NaN")
    with pytest.raises(DataError, match=r"mosei_labels_7d\.csv: column 'sad' is empty or NaN at lines 3, 6 \(2 rows\)"):
        load_dataset("mosei", data_dir=root, verify=False)


@pytest.mark.parametrize(
    ("file", "column", "index"),
    [
        ("mosei_labels_7d.csv", "fear", 11),
        ("mosei_labels_7d.csv", "sentiment", 5),
        ("mosei_text_label.csv", "label", 3),
    ],
)
def test_non_numeric_mosei_cell_names_file_column_and_row(tmp_path, file, column, index):
    root = write_mosei(tmp_path)
    edit_cell(root / "mosei" / file, line=4, column=index, value="high")
    with pytest.raises(DataError, match=rf"{file}: column '{column}' is not a number at line 4, e.g. 'high'"):
        load_dataset("mosei", data_dir=root, verify=False)


def test_inf_in_mosei_start_column(tmp_path):
    root = write_mosei(tmp_path)
    edit_cell(root / "mosei" / "mosei_labels_7d.csv", line=2, column=3, value="inf")
    with pytest.raises(DataError, match=r"mosei_labels_7d\.csv: column 'start' is infinite at line 2$"):
        load_dataset("mosei", data_dir=root, verify=False)


# 5. a MOSI pickle with wrong item types, a video missing from the labels, or an unknown video in a fold


def _broken(change) -> list[object]:
    items = mosi_items()
    change(items)
    return items


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda items: items.pop(), r"expected a list of 7 items, got a list of 6 items"),
        (
            lambda items: items.__setitem__(0, list(VIDEOS)),
            r"item \[0\] must be a dict video id -> segment ids, got list",
        ),
        (
            lambda items: items[1].__setitem__("v2", 1.5),
            r"item \[1\] must map each video to a list of sentiments.*'v2'",
        ),
        (lambda items: items[1].pop("v3"), r"video\(s\) \['v3'\] of item \[0\] have no entry in item \[1\]"),
        (lambda items: items[3].pop("v5"), r"video\(s\) \['v5'\] of item \[0\] have no entry in item \[3\]"),
        (lambda items: items[1]["v1"].__setitem__(0, "positive"), r"item \[1\] video 'v1' has non-numeric sentiments"),
        (lambda items: items[1]["v1"].__setitem__(0, float("nan")), r"item \[1\] video 'v1' has NaN or infinite"),
        (
            lambda items: items[6].add("zz"),
            r"item \[6\] \(test fold\) lists video\(s\) \['zz'\] absent from item \[0\]",
        ),
        (lambda items: items.__setitem__(4, "v1"), r"item \[4\] \(train fold\) must be a collection of video ids"),
        (lambda items: items[6].add("v4"), r"video\(s\) \['v4'\] are in both the valid and the test fold"),
    ],
)
def test_malformed_mosi_pickle_names_file_and_item(tmp_path, change, message):
    root = write_mosi(tmp_path, _broken(change))
    with pytest.raises(DataError, match=r"CMUMOSI_features_raw_2way\.pkl: " + message):
        load_dataset("mosi_bclstm", data_dir=root, verify=False)


# 6. an empty validation fold


def test_empty_validation_fold_is_named(tmp_path):
    root = write_mosi(tmp_path, _broken(lambda items: items.__setitem__(5, set())))
    message = r"CMUMOSI_features_raw_2way\.pkl: item \[5\] \(valid fold\) has no segments"
    with pytest.raises(DataError, match=message):
        load_dataset("mosi", data_dir=root, verify=False)
    emptied = _broken(lambda items: items[0].__setitem__("v4", []))
    for index in (1, 3):
        emptied[index]["v4"] = []
    with pytest.raises(DataError, match=message):
        load_dataset("mosi", data_dir=write_mosi(tmp_path, emptied), verify=False)
