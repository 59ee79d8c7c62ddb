"""MOSEI transcript matching uses (video, start time) only: never the sentiment label."""

from __future__ import annotations

import pandas as pd
import pytest

from mmolre.data.mosei import match_transcripts

TRANSCRIPTS = pd.DataFrame(
    {
        "video_id": ["v1", "v1", "v1", "v2"],
        "start": [10.0, 11.0, 20.0, 5.0],
        "text": ["near", "same label but farther", "far", "other video"],
        "label": [-1.0, 2.0, 2.0, 2.0],
    }
)


def test_nearest_start_wins_over_an_equal_label():
    segments = pd.DataFrame({"video": ["v1"], "start": [10.2], "sentiment": [2.0]})
    texts, kinds = match_transcripts(segments, TRANSCRIPTS)
    assert texts == ["near"] and kinds == ["within"]


def test_loose_and_none_and_other_videos():
    segments = pd.DataFrame({"video": ["v1", "v1", "v2", "v3"], "start": [15.0, 17.5, 30.0, 10.0]})
    texts, kinds = match_transcripts(segments, TRANSCRIPTS, tolerance=1.5, loose_tolerance=3.0)
    # 15.0: nearest is 11.0 (4 s) -> none; 17.5: nearest is 20.0 (2.5 s) -> loose; v2 too far; v3 has no transcript
    assert kinds == ["none", "loose", "none", "none"]
    assert texts == ["", "far", "", ""]


def test_labels_are_not_needed_and_do_not_matter():
    segments = pd.DataFrame({"video": ["v1", "v1", "v2"], "start": [10.4, 19.0, 5.5]})
    without = match_transcripts(segments, TRANSCRIPTS)
    for sentiment in ([2.0, 2.0, 2.0], [-1.0, -3.0, 0.0]):
        assert match_transcripts(segments.assign(sentiment=sentiment), TRANSCRIPTS) == without
    assert without == (["near", "far", "other video"], ["within", "within", "within"])


def test_tie_goes_to_the_first_listed_transcript():
    segments = pd.DataFrame({"video": ["v1"], "start": [10.5]})
    assert match_transcripts(segments, TRANSCRIPTS)[0] == ["near"]


def test_tolerances_are_checked():
    with pytest.raises(ValueError, match="tolerance"):
        match_transcripts(pd.DataFrame({"video": [], "start": []}), TRANSCRIPTS, tolerance=2.0, loose_tolerance=1.0)
