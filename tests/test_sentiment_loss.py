"""The sentiment loss per run (L1, ours; MSE, the official MCULoRA code's) and checkpoints written before a
TrainConfig field existed."""

from __future__ import annotations

import json

import pytest
import torch

from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig, build_model
from mmolre.train import TrainConfig, set_seed, train_model
from mmolre.train.checkpoints import SIDECAR, CheckpointError
from mmolre.train.evaluation import constant_predictions, reference_losses, task_losses

TINY = dict(dim=8, n_shared=2, shared_ranks=(2, 2), specific_rank=2, blocks=1)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosi", n_train=64, n_valid=32, n_test=32, seq_len=2, dim_scale=0.05, seed=3)


def _model(dataset):
    set_seed(7)
    return build_model("mmolre", dataset.dims, ("sentiment",), ModelConfig(**TINY))


def test_mse_is_the_mean_squared_error_and_l1_the_default() -> None:
    outputs, batch = {"sentiment": torch.tensor([0.0, 2.0, -1.0])}, {"sentiment": torch.tensor([1.0, 0.0, -1.0])}
    assert float(task_losses(outputs, batch, ("sentiment",))["sentiment"]) == pytest.approx(1.0)  # (1 + 2 + 0) / 3
    mse = task_losses(outputs, batch, ("sentiment",), sentiment="mse")["sentiment"]
    assert float(mse) == pytest.approx(5.0 / 3.0)  # (1 + 4 + 0) / 3, MaskedMSELoss over the real utterances
    assert TrainConfig().sentiment_loss == "l1"
    with pytest.raises(ValueError, match="sentiment_loss must be one of"):
        TrainConfig(sentiment_loss="huber")
    with pytest.raises(ValueError, match="sentiment_loss"):
        TrainConfig.from_dict({"sentiment_loss": "L2"})


def test_the_best_constant_follows_the_loss(dataset) -> None:
    labels = dataset.splits["train"].sentiment
    n = len(dataset.splits["valid"])
    median = constant_predictions(dataset, ("sentiment",), None, n)["sentiment"]
    mean = constant_predictions(dataset, ("sentiment",), None, n, "mse")["sentiment"]
    assert median[0] == pytest.approx(float(labels.median())) and mean[0] == pytest.approx(float(labels.mean()))
    truth = dataset.splits["valid"].sentiment
    reference = reference_losses(dataset, "valid", ("sentiment",), None, "mse")["sentiment"]
    assert reference == pytest.approx(float(((truth - labels.mean()) ** 2).mean()), rel=1e-5)


def test_the_loop_trains_and_selects_on_the_chosen_loss(dataset) -> None:
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2, patience=0)
    l1 = train_model(_model(dataset), dataset, config, seed=1)
    mse = train_model(_model(dataset), dataset, config.replace(sentiment_loss="mse"), seed=1)
    assert l1.history["train_loss"].iloc[0] != pytest.approx(mse.history["train_loss"].iloc[0])
    for result, kind in ((l1, "l1"), (mse, "mse")):  # the criterion is the valid loss over its own constant's
        reference = reference_losses(dataset, "valid", ("sentiment",), None, kind)["sentiment"]
        history = result.history
        assert history["criterion"].tolist() == pytest.approx((history["valid_sentiment_loss"] / reference).tolist())


def test_a_checkpoint_without_a_newer_field_resumes_as_its_default(dataset, tmp_path) -> None:
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2, patience=0)
    train_model(_model(dataset), dataset, config.replace(epochs=1), seed=1, checkpoint_dir=tmp_path)
    sidecar = json.loads((tmp_path / SIDECAR).read_text())
    del sidecar["train_config"]["sentiment_loss"]  # as written before the field existed
    (tmp_path / SIDECAR).write_text(json.dumps(sidecar))
    resumed = train_model(_model(dataset), dataset, config, seed=1, checkpoint_dir=tmp_path, resume=True)
    assert resumed.epochs_run == 2
    with pytest.raises(CheckpointError, match="train_config"):
        mse = config.replace(sentiment_loss="mse")
        train_model(_model(dataset), dataset, mse, seed=1, checkpoint_dir=tmp_path, resume=True)
