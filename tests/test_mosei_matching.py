"""MOSEI transcripts are paired with segments on (video, time) only, never on the sentiment label."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmolre.data import mosei
from mmolre.data.mosei import nearest_transcripts, pair_transcripts, pairing_report
from mmolre.paths import PROJECT_ROOT

TRANSCRIPTS = pd.DataFrame(
    {
        "video_id": ["v1", "v1", "v1", "v2"],
        "start": [10.0, 11.0, 20.0, 5.0],
        "text": ["near", "same label but farther", "far", "other video"],
        "label": [-1.0, 2.0, 2.0, 2.0],
    }
)


def _segments(videos: list[str], starts: list[float], ends: list[float] | None = None) -> pd.DataFrame:
    ends = [s + 1.0 for s in starts] if ends is None else ends
    return pd.DataFrame({"video": videos, "start": starts, "end": ends})


def test_nearest_start_wins_over_an_equal_label():
    segments = _segments(["v1"], [10.2]).assign(sentiment=[2.0])
    pairing = nearest_transcripts(segments, TRANSCRIPTS)
    assert pairing.texts(TRANSCRIPTS) == ["near"] and pairing.kinds.tolist() == ["within"]


def test_loose_and_none_and_other_videos():
    segments = _segments(["v1", "v1", "v2", "v3"], [15.0, 17.5, 30.0, 10.0])
    pairing = nearest_transcripts(segments, TRANSCRIPTS, tolerance=1.5, loose_tolerance=3.0)
    # 15.0: nearest is 11.0 (4 s) -> none; 17.5: nearest is 20.0 (2.5 s) -> loose; v2 too far; v3 has no transcript
    assert pairing.kinds.tolist() == ["none", "loose", "none", "none"]
    assert pairing.texts(TRANSCRIPTS) == ["", "far", "", ""] and pairing.rows.tolist() == [-1, 2, -1, -1]


def test_tie_goes_to_the_first_listed_transcript():
    assert nearest_transcripts(_segments(["v1"], [10.5]), TRANSCRIPTS).texts(TRANSCRIPTS) == ["near"]


def test_tolerances_are_checked():
    with pytest.raises(ValueError, match="tolerance"):
        nearest_transcripts(_segments([], []), TRANSCRIPTS, tolerance=2.0, loose_tolerance=1.0)


def test_equal_counts_pair_in_time_order_despite_an_offset():
    # v1 has 3 transcripts and 3 segments whose clock runs 19 s behind: nearest start would pair none of them
    segments = _segments(["v1", "v1", "v1", "v2"], [1.0, -9.0, -8.0, 5.2])
    pairing = pair_transcripts(segments, TRANSCRIPTS)
    assert pairing.texts(TRANSCRIPTS) == ["far", "near", "same label but farther", "other video"]
    assert pairing.kinds.tolist() == ["in_order"] * 4
    assert nearest_transcripts(segments, TRANSCRIPTS).kinds.tolist() == ["none", "none", "none", "within"]


def test_equal_starts_are_ordered_by_end():
    segments = _segments(["v1", "v1", "v1"], [0.0, 0.0, 5.0], ends=[6.0, 0.8, 9.0])
    assert pair_transcripts(segments, TRANSCRIPTS).texts(TRANSCRIPTS) == ["same label but farther", "near", "far"]


def test_different_counts_fall_back_to_the_nearest_start():
    segments = _segments(["v1", "v1"], [19.0, 10.4])
    pairing = pair_transcripts(segments, TRANSCRIPTS)
    assert pairing.texts(TRANSCRIPTS) == ["far", "near"] and pairing.kinds.tolist() == ["within", "within"]


def test_labels_are_not_needed_and_do_not_matter():
    segments = _segments(["v1", "v1", "v1", "v2", "v2"], [3.0, 4.0, 12.0, 5.5, 9.0])
    without = pair_transcripts(segments, TRANSCRIPTS)
    for sentiment in ([2.0, 2.0, 2.0, 2.0, 2.0], [-1.0, -3.0, 0.0, 1.0, 3.0]):
        labelled = pair_transcripts(segments.assign(sentiment=sentiment), TRANSCRIPTS)
        assert labelled.rows.tolist() == without.rows.tolist()
    assert without.texts(TRANSCRIPTS) == ["near", "same label but farther", "far", "other video", ""]


def test_report_counts_kinds_changes_and_segments_without_text():
    # v1 in time order (one segment was the nearest-start match already), v2 by nearest start, v3 without transcript
    segments = _segments(["v1", "v1", "v1", "v2", "v2", "v3"], [10.0, 30.0, 40.0, 5.5, 9.0, 1.0])
    report = pairing_report(segments, TRANSCRIPTS)
    assert report == {"in_order": 3, "within": 1, "loose": 0, "none": 2, "changed": 2, "without_text": 2}


def _data_dir() -> Path | None:
    for candidate in (os.environ.get("MMOLRE_DATA_DIR"), PROJECT_ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mosei").is_dir():
            return Path(candidate)
    return None


DATA_DIR = _data_dir()


@pytest.mark.skipif(DATA_DIR is None, reason="no real data: set MMOLRE_DATA_DIR or provide ../shared/data")
def test_real_pairs_agree_with_the_sentiment_they_never_saw():
    labels, transcripts = mosei.read_labels(DATA_DIR), mosei.read_transcripts(DATA_DIR)
    in_order, agreeing, reports = {}, {}, {}
    for split in ("train", "valid", "test"):
        segments = mosei.read_segments(split, labels, DATA_DIR)
        pairing = pair_transcripts(segments, transcripts)
        reports[split] = pairing_report(segments, transcripts)
        ordered = pairing.kinds == "in_order"
        truth = segments["sentiment"].to_numpy()[ordered]
        paired = transcripts["label"].to_numpy()[pairing.rows[ordered]]
        in_order[split], agreeing[split] = int(ordered.sum()), int(np.isclose(truth, paired, atol=1e-4).sum())
    assert in_order == {"train": 16249, "valid": 1861, "test": 4653}
    assert agreeing == in_order
    # measured on the shared files: nearest start alone left 263 test segments without text and gave 71 another's
    assert reports["test"] == {"in_order": 4653, "within": 0, "loose": 0, "none": 9, "changed": 325, "without_text": 9}
    assert {split: r["without_text"] for split, r in reports.items()} == {"train": 49, "valid": 10, "test": 9}
