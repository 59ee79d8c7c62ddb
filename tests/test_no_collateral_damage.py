"""What the project writes or cleans up never touches what it did not write, and names are whole-string checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mmolre as mm
from mmolre.data.registry import register_dataset
from mmolre.data.sources import Source
from mmolre.paths import check_profile
from mmolre.protocols.paired import add_bootstrap


def test_checkpointing_removes_only_its_own_epoch_files(tmp_path: Path) -> None:
    data = mm.load_dataset("synthetic", n_train=16, n_valid=8, n_test=8, seq_len=2)
    folder = tmp_path / "run"
    folder.mkdir()
    mine = [folder / "my-experiment.txt", folder / "run-eval.csv", folder / "last-e0001.safetensors.bak"]
    for path in mine:
        path.write_text("kept")
    model = mm.build_model("linear_head", data.dims, data.tasks, mm.ModelConfig(dim=8))
    mm.train_model(model, data, mm.TrainConfig(epochs=3, batch_size=8), seed=1, checkpoint_dir=folder)
    assert all(path.read_text() == "kept" for path in mine)
    assert not (folder / "last-e0001.safetensors").exists() and (folder / "last-e0003.safetensors").exists()


@pytest.mark.parametrize("name", ["default\n", "ok\n\n", "a" * 65])
def test_profile_names_are_checked_whole(name: str) -> None:
    with pytest.raises(ValueError):
        check_profile(name)


@pytest.mark.parametrize("relative", ["../outside.csv", "/etc/passwd", "a/../../b", "", "a\\..\\b"])
def test_registered_dataset_files_stay_inside_the_data_folder(relative: str) -> None:
    source = Source("owner/repo", "0" * 40, "x.csv", "0" * 64)
    with pytest.raises(ValueError, match="must be a path inside the data folder"):
        register_dataset("collateral_check", lambda data_dir=None: None, files={relative: source})


def test_bootstrap_leaves_a_metric_undefined_on_every_resample_as_nan() -> None:
    truth = {"sentiment": np.linspace(-2, 2, 12)}
    constant = {"sentiment": np.zeros(12)}  # Corr of a constant prediction is undefined on every resample
    predictions = {("a", 1): constant, ("a", 2): constant, ("b", 1): truth, ("b", 2): truth}
    table = pd.DataFrame({"reference": ["a"], "baseline": ["b"], "metric": ["corr"]})
    result = add_bootstrap(table, predictions, truth, samples=50, seed=0)
    assert result["p_bootstrap"].isna().all()
