"""Progress lines of long loops: only under the runner, throttled, never changing what the loop sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmolre import progress as progress_module
from mmolre.progress import PROGRESS_ENV, tracked


def test_tracked_reports_share_and_time_left_only_under_the_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter(float(t) for t in range(0, 1000, 30))  # every item takes 30 s
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    log = tmp_path / "progress.log"
    monkeypatch.setenv(PROGRESS_ENV, str(log))
    assert list(tracked(range(4), "epoch 1/2", 4)) == [0, 1, 2, 3]
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "epoch 1/2: 25% (1/4), about 90 s left",
        "epoch 1/2: 50% (2/4), about 60 s left",
        "epoch 1/2: 75% (3/4), about 30 s left",
    ]
    monkeypatch.delenv(PROGRESS_ENV)
    assert list(tracked(iter("ab"), "quiet", 2)) == ["a", "b"]
    assert log.read_text(encoding="utf-8").splitlines() == lines
