"""Training loop: valid-only model selection, checkpoints, resume, config checking."""

from __future__ import annotations

import json

import pytest
import torch

from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig, build_model
from mmolre.train import CheckpointError, TrainConfig, evaluate, load_checkpoint, set_seed, train_model
from mmolre.train.evaluation import emotion_pos_weight

TINY = dict(dim=8, n_shared=2, shared_ranks=(2, 2), specific_rank=2, blocks=1)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosei", n_train=96, n_valid=48, n_test=48, seq_len=4, dim_scale=0.05, seed=3)


def _model(dataset, name: str = "mmolre", **overrides):
    set_seed(7)
    return build_model(name, dataset.dims, ("sentiment", "emotion"), ModelConfig(**{**TINY, **overrides}))


def _config(**changes) -> TrainConfig:
    return TrainConfig(**{"epochs": 6, "batch_size": 32, "lr": 2e-2, "patience": 0, **changes})


def test_selected_epoch_is_the_best_valid_one(dataset):
    result = train_model(_model(dataset), dataset, _config(), seed=11)
    history = result.history
    assert len(history) == 6
    assert result.best_epoch < 6, "the fixture should overfit, so that best != last epoch"
    assert result.best_epoch == int(history.loc[history["criterion"].idxmin(), "epoch"])
    assert result.best_criterion == pytest.approx(history["criterion"].min())
    # the returned model carries the selected weights: re-evaluating valid reproduces that epoch's metrics
    again = evaluate(result.model, dataset, "valid")
    assert again["mae"] == pytest.approx(result.valid_metrics["mae"], abs=1e-6)
    assert {"mae", "acc2_has0", "emo_wa", "emo_f1", "emo_wa_happy"} <= set(result.test_metrics)
    assert set(result.valid_metrics) == set(result.test_metrics), "losses and criterion live in the history"


def test_early_stopping_stops_after_patience(dataset):
    result = train_model(_model(dataset), dataset, _config(epochs=40, patience=2, lr=5e-2), seed=11)
    assert result.epochs_run < 40
    assert result.epochs_run - result.best_epoch == 2


def test_test_split_never_drives_selection(dataset):
    """Corrupting every test label changes neither the selected epoch nor the valid curve."""
    clean = train_model(_model(dataset), dataset, _config(), seed=11)
    corrupted = make_synthetic("mosei", n_train=96, n_valid=48, n_test=48, seq_len=4, dim_scale=0.05, seed=3)
    test = corrupted.splits["test"]
    test.sentiment = -test.sentiment
    test.emotions = 3.0 - test.emotions
    dirty = train_model(_model(corrupted), corrupted, _config(), seed=11)
    assert dirty.best_epoch == clean.best_epoch
    assert dirty.history["criterion"].tolist() == pytest.approx(clean.history["criterion"].tolist())
    assert dirty.test_metrics["mae"] != pytest.approx(clean.test_metrics["mae"])


def test_resume_matches_uninterrupted_run(dataset, tmp_path):
    full = train_model(_model(dataset), dataset, _config(epochs=5), seed=5, checkpoint_dir=tmp_path / "full")
    part = tmp_path / "part"
    train_model(_model(dataset), dataset, _config(epochs=2), seed=5, checkpoint_dir=part)
    assert json.loads((part / "checkpoint.json").read_text())["epoch"] == 2
    resumed = train_model(_model(dataset), dataset, _config(epochs=5), seed=5, checkpoint_dir=part, resume=True)
    assert resumed.history["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert resumed.best_epoch == full.best_epoch
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # the saved last/best weights load back into a fresh model
    fresh = _model(dataset)
    sidecar = load_checkpoint(fresh, tmp_path / "full", "best", dataset=dataset)
    assert sidecar["best_epoch"] == full.best_epoch and sidecar["seed"] == 5
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key


def test_resume_refuses_a_mismatched_checkpoint(dataset, tmp_path):
    train_model(_model(dataset), dataset, _config(epochs=1), seed=5, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="seed"):
        train_model(_model(dataset), dataset, _config(epochs=2), seed=6, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="train_config"):
        train_model(_model(dataset), dataset, _config(epochs=2, lr=1e-2), seed=5, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="model"):
        train_model(_model(dataset, dim=12), dataset, _config(epochs=2), seed=5, checkpoint_dir=tmp_path, resume=True)
    other = make_synthetic("mosei", n_train=96, n_valid=48, n_test=48, seq_len=4, dim_scale=0.05, seed=4)
    with pytest.raises(CheckpointError, match="data"):
        train_model(_model(other), other, _config(epochs=2), seed=5, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(_model(dataset, dim=12), tmp_path)


def test_train_config_refuses_unknown_keys():
    assert TrainConfig.from_dict({"epochs": 3, "lr": 0.01}).epochs == 3
    with pytest.raises(ValueError, match="unknown field.*'epoch'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0.0)


def test_mask_override_and_sentiment_only_models(dataset):
    set_seed(7)
    model = build_model("mmolre", dataset.dims, ("sentiment",), ModelConfig(**TINY))
    result = train_model(model, dataset, _config(epochs=1), seed=1)
    assert result.tasks == ("sentiment",)
    assert not any(key.startswith("emo_") for key in result.test_metrics)
    text_only = evaluate(model, dataset, "test", mask_override=[True, False, False])
    assert text_only["mae"] != pytest.approx(result.test_metrics["mae"])
    assert evaluate(model, dataset, "test", mask_override="t") == text_only
    with pytest.raises(ValueError, match="modality restriction"):
        evaluate(model, dataset, "test", mask_override=[True, False])


def test_emotion_pos_weight_is_negatives_over_positives_on_train(dataset):
    present = (dataset.splits["train"].emotions > 0).float()
    expected = (len(present) - present.sum(0)) / present.sum(0)
    assert torch.allclose(emotion_pos_weight(dataset, _config()), expected)
    assert emotion_pos_weight(dataset, _config(balance_emotions=False)) is None
