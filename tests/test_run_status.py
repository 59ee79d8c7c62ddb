"""``python -m mmolre record --status``: where each run of a resuming section stands, read from files only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mmolre.cli import main
from mmolre.protocols.run_status import status_summary
from mmolre.section_runs import status_from_params
from mmolre.train.distributed import ENV_VARS

PARAMS = """\
profile: status_tiny
common:
  dataset: synthetic
  dataset_options: {n_train: 45, n_valid: 16, n_test: 16, seq_len: 4, dim_scale: 0.1}
  seeds: [1111, 1112]
  epochs: 1
  resume: true
  model_config: {dim: 8, n_shared: 2, shared_ranks: [2, 4], specific_rank: 2, router_noise: 0.0, learned_noise: false,
    dropout: 0.0}
  train_config: {batch_size: 16, aux_weight: 0.0, num_threads: 1, device: cpu}
04_baselines:
  models: [linear_head, single_task]
"""


@pytest.fixture
def params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "tiny.yaml"
    path.write_text(PARAMS, encoding="utf-8")
    return path


def _states(params: Path) -> dict[tuple[str, int, str], str]:
    frame, _ = status_from_params(params)
    return {(row.model, row.seed, row.tasks): row.state for row in frame.itertuples()}


def test_status_follows_runs_from_not_started_to_recorded_and_names_what_is_wrong(
    params: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame, summary = status_from_params(params)
    assert len(frame) == 6 and set(frame["state"]) == {"not started"}  # single-task: one model per task
    assert summary == "0 of 6 models recorded; 6 epochs left to train."
    started = tmp_path / "cache" / "runs" / "status_tiny" / "models" / "linear_head-sentiment+emotion-seed1112"
    started.mkdir(parents=True)  # what a run has while its first epoch trains
    assert _states(params)[("linear_head", 1112, "sentiment+emotion")] == "started, no epoch finished"
    assert main(["record", "-f", str(params), "--model", "single_task", "--seed", "1111"]) == 0
    capsys.readouterr()
    frame, summary = status_from_params(params)
    recorded = frame[frame["state"] == "recorded"]
    assert sorted(recorded["tasks"]) == ["emotion", "sentiment"] and set(recorded["seed"]) == {1111}
    assert recorded["train_seconds"].gt(0).all() and recorded["mae"].notna().sum() == 1
    assert summary.startswith("2 of 6 models recorded; 4 epochs left to train, about ")
    assert " min per epoch timed." in summary

    runs = tmp_path / "reports" / "status_tiny" / "runs" / "models"
    (runs / "single_task-emotion-seed1111.json").unlink()  # its finished checkpoint stays in the cache
    assert _states(params)[("single_task", 1111, "emotion")] == "trained, not recorded"
    record = runs / "single_task-sentiment-seed1111.json"
    payload = json.loads(record.read_text())
    record.write_text(json.dumps({**payload, "best_epoch": 1, "params": 1}))  # edited without its sha256
    assert _states(params)[("single_task", 1111, "sentiment")].startswith("unreadable record: ")

    other = params.read_text().replace("batch_size: 16", "batch_size: 8")  # the files are now of another run
    params.write_text(other)
    states = _states(params)
    assert states[("single_task", 1111, "emotion")] == "checkpoint of another run (differs in train_config)"
    assert states[("linear_head", 1111, "sentiment+emotion")] == "not started"

    assert main(["record", "-f", str(params), "--status"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["model", "seed", "tasks", "state", "epochs_done", "epochs", "train_seconds"]
    assert re.search(r"\nsingle_task +1111 +emotion +checkpoint of another run \(differs in train_config\) +1 *\n", out)
    assert re.search(r"\nsingle_task +1111 +sentiment +unreadable record: the record differs from its recorded", out)
    assert out.splitlines()[-1] == "0 of 6 models recorded; 6 epochs left to train."  # nothing of this run is timed


def test_a_recorded_run_of_another_configuration_is_not_counted(params: Path) -> None:
    assert main(["record", "-f", str(params), "--model", "linear_head", "--seed", "1112"]) == 0
    assert _states(params)[("linear_head", 1112, "sentiment+emotion")] == "recorded"
    params.write_text(params.read_text().replace("specific_rank: 2", "specific_rank: 3"))
    state = _states(params)[("linear_head", 1112, "sentiment+emotion")]
    assert state.startswith("record of another run (differs in ")


def test_status_and_a_missing_model_or_seed_are_clear_errors(params: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "-f", str(params), "--model", "linear_head"]) == 1
    assert "error: record: give --model and --seed (or --status)" in capsys.readouterr().err
    params.write_text(params.read_text().replace("  resume: true\n", ""))
    assert main(["record", "-f", str(params), "--status"]) == 1
    assert "this profile does not resume" in capsys.readouterr().err


def test_a_run_that_stopped_early_has_no_epochs_left_and_times_only_the_epochs_it_trained() -> None:
    frame = pd.DataFrame(
        {
            "state": ["recorded", "trained, not recorded", "part-trained", "not started", "record of another run"],
            "epochs_done": [1, 2, 1, 0, None],
            "epochs": [3, 3, 3, 3, 3],
            "train_seconds": [600.0, 1200.0, 600.0, 0.0, None],
        }
    )
    assert status_summary(frame) == (
        "1 of 5 models recorded; 8 epochs left to train, about 1.4 h of one process at the 10 min per epoch timed."
    )
