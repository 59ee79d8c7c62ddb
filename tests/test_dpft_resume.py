"""A resumed incomplete-modality run continues its DPFT sampler where it stopped and ends as the uninterrupted one."""

from __future__ import annotations

import dataclasses
import json
from functools import partial

import pandas as pd
import pytest
import torch

from mmolre.data import load_dataset
from mmolre.models import MCULoRAConfig
from mmolre.protocols.driver import Arm, run_experiment
from mmolre.protocols.incomplete_runs import IncompleteConfig, run_incomplete
from mmolre.protocols.sampler_state import SAMPLER_FILE, save_sampler_state
from mmolre.protocols.samplers import SAMPLERS, make_sampler
from mmolre.train import TrainConfig
from mmolre.train.checkpoints import CheckpointError

MODALITIES = ("text", "audio", "vision")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def tri():
    dims = {"text": 6, "audio": 4, "vision": 5}
    return load_dataset("synthetic", card="mosi", n_train=64, n_valid=24, n_test=24, seq_len=2, dims=dims, seed=3)


def _config(epochs: int) -> IncompleteConfig:
    return IncompleteConfig(
        model=MCULoRAConfig(hidden=8, depth=1),
        train=TrainConfig(epochs=epochs, batch_size=16, patience=0),
        rates=(0.0,),
        sampler_options={"dpft_js": {"step": 0.05}},
    )


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_every_sampler_state_round_trips_through_json(kind: str) -> None:
    sampler = make_sampler(kind, MODALITIES)
    sampler.probabilities = torch.tensor([0.1, 0.2, 0.1, 0.2, 0.1, 0.2, 0.1], dtype=torch.float64)
    sampler._record()
    saved = json.loads(json.dumps(sampler.state_dict()))
    fresh = make_sampler(kind, MODALITIES)
    fresh.load_state_dict(saved)
    assert torch.equal(fresh.probabilities, sampler.probabilities)
    pd.testing.assert_frame_equal(fresh.history, sampler.history)
    with pytest.raises(ValueError, match="does not fit"):
        make_sampler(kind, ("text", "audio")).load_state_dict(saved)


def test_an_interrupted_dpft_run_resumes_with_its_sampler(tri, tmp_path) -> None:
    methods = ["mculora_js", "mculora_acc"]
    full = run_incomplete(methods, tri, _config(4), seeds=(1,), checkpoint_root=tmp_path / "full")
    part = tmp_path / "part"
    run_incomplete(methods, tri, _config(2), seeds=(1,), checkpoint_root=part)  # stopped after epoch 2
    resumed = run_incomplete(methods, tri, _config(4), seeds=(1,), checkpoint_root=part)
    moved = full.sampling[full.sampling["epoch"] == 4][["t", "a", "v"]].to_numpy()
    assert abs(moved - 1 / 7).max() > 1e-3  # the probabilities did move, so the comparison means something
    pd.testing.assert_frame_equal(resumed.sampling, full.sampling)
    pd.testing.assert_frame_equal(resumed.conditions, full.conditions)


def test_a_sampler_state_saved_before_its_checkpoint_is_skipped(tri, tmp_path) -> None:
    full = run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path / "full")
    run_incomplete(["mculora_js"], tri, _config(2), seeds=(1,), checkpoint_root=tmp_path)
    folder = next(p for p in tmp_path.iterdir() if p.name.startswith("mculora_js"))
    stray = make_sampler("dpft_js", MODALITIES, step=0.05)
    stray.p = {"text": 0.41, "audio": 0.59, "vision": 0.41}
    save_sampler_state(stray, folder, 3)  # epoch 3 updated its sampler, then stopped before its checkpoint
    assert [e["epoch"] for e in json.loads((folder / SAMPLER_FILE).read_text())["epochs"]] == [2, 3]
    resumed = run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path)
    pd.testing.assert_frame_equal(resumed.sampling, full.sampling)
    (folder / SAMPLER_FILE).unlink()
    with pytest.raises(CheckpointError, match="no sampler state"):
        run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path)


def _with_options(epochs: int, options: dict[str, dict[str, object]]) -> IncompleteConfig:
    return dataclasses.replace(_config(epochs), sampler_options=options)


def test_resuming_with_changed_sampler_options_is_refused(tri, tmp_path) -> None:
    run_incomplete(["mculora_js"], tri, _config(2), seeds=(1,), checkpoint_root=tmp_path)
    folder = next(p for p in tmp_path.iterdir() if p.name.startswith("mculora_js"))
    saved = json.loads((folder / SAMPLER_FILE).read_text())["sampler"]
    assert saved == {"kind": "ModalityJSSampler", "options": {"step": 0.05, "clip": [0.4, 0.6], "batch_size": 512}}
    changed = {
        "step": {"dpft_js": {"step": 0.1}},
        "clip": {"dpft_js": {"step": 0.05, "clip": [0.45, 0.55]}},
    }
    for name, options in changed.items():
        with pytest.raises(CheckpointError, match=rf"sampler\.json: .*option '{name}': saved "):
            run_incomplete(["mculora_js"], tri, _with_options(3, options), seeds=(1,), checkpoint_root=tmp_path)
    full = run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path / "full")
    resumed = run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path)
    pd.testing.assert_frame_equal(resumed.sampling, full.sampling)  # the same options still resume


def test_resuming_an_arm_with_another_kind_of_sampler_is_refused(tri, tmp_path) -> None:
    config = _config(2)

    def arm(kind: str, epochs: int) -> Arm:
        train = dataclasses.replace(config.train, epochs=epochs)
        return Arm("sampled", "mculora", config.model, train, partial(make_sampler, kind))

    run_experiment([arm("uniform", 2)], tri, seeds=(1,), checkpoint_root=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match=r"sampler\.json: .*saved by 'UniformSampler', this run has 'Accura"):
        run_experiment([arm("dpft_acc", 3)], tri, seeds=(1,), checkpoint_root=tmp_path, resume=True)


def test_a_sampler_state_saved_before_the_sampler_was_recorded_still_resumes(tri, tmp_path) -> None:
    full = run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path / "full")
    run_incomplete(["mculora_js"], tri, _config(2), seeds=(1,), checkpoint_root=tmp_path)
    folder = next(p for p in tmp_path.iterdir() if p.name.startswith("mculora_js"))
    saved = json.loads((folder / SAMPLER_FILE).read_text())
    (folder / SAMPLER_FILE).write_text(json.dumps({"epochs": saved["epochs"]}) + "\n")  # the earlier format
    resumed = run_incomplete(["mculora_js"], tri, _config(3), seeds=(1,), checkpoint_root=tmp_path)
    pd.testing.assert_frame_equal(resumed.sampling, full.sampling)
    assert json.loads((folder / SAMPLER_FILE).read_text())["sampler"] == saved["sampler"]  # recorded from now on


def test_saving_another_samplers_state_drops_the_old_entries(tmp_path) -> None:
    save_sampler_state(make_sampler("dpft_js", MODALITIES, step=0.05), tmp_path, 1)
    save_sampler_state(make_sampler("dpft_js", MODALITIES, step=0.1), tmp_path, 2)
    saved = json.loads((tmp_path / SAMPLER_FILE).read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [2] and saved["sampler"]["options"]["step"] == 0.1
