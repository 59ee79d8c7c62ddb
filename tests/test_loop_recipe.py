"""The training recipe: the normalised selection criterion, length-bucketed batches and bf16 autocast on CPU."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch

from mmolre.data.dataset import BUCKET_POOL, DataError, MultimodalDataset, length_batches
from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig, build_model
from mmolre.models.base import to_model
from mmolre.train import TrainConfig, load_checkpoint, set_seed, train_model
from mmolre.train.evaluation import (
    constant_predictions,
    emotion_pos_weight,
    reference_losses,
    selection_criterion,
    split_losses,
    task_losses,
)
from mmolre.train.optim import Precision

TINY = dict(dim=8, n_shared=2, shared_ranks=(2, 2), specific_rank=2, blocks=1)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def dataset() -> MultimodalDataset:
    return make_synthetic("mosei", n_train=96, n_valid=48, n_test=48, seq_len=4, dim_scale=0.05, seed=3)


@pytest.fixture(scope="module")
def padded() -> MultimodalDataset:
    """The synthetic dataset with text padded to 12 steps and real lengths 1..12 per row."""
    data = make_synthetic("mosei", n_train=200, n_valid=40, n_test=40, seq_len=12, dim_scale=0.05, seed=3)
    rng = np.random.default_rng(0)
    splits = {
        name: dataclasses.replace(split, lengths={"text": torch.from_numpy(rng.integers(1, 13, len(split)))})
        for name, split in data.splits.items()
    }
    return dataclasses.replace(data, splits=splits)


def _model(dataset: MultimodalDataset, tasks=("sentiment", "emotion")):
    set_seed(7)
    return build_model("mmolre", dataset.dims, tasks, ModelConfig(**TINY))


def _config(**changes) -> TrainConfig:
    return TrainConfig(**{"epochs": 4, "batch_size": 32, "lr": 2e-2, "patience": 0, **changes})


# --- selection criterion ------------------------------------------------------------------------------------------


def test_a_constant_predictor_scores_one_and_is_the_best_constant(dataset):
    tasks = ("sentiment", "emotion")
    pos_weight = emotion_pos_weight(dataset, _config())
    reference = reference_losses(dataset, "valid", tasks, pos_weight)
    constants = constant_predictions(dataset, tasks, pos_weight, len(dataset.splits["valid"]))
    losses = split_losses(constants, dataset, "valid", tasks, pos_weight)
    assert selection_criterion(losses, reference, _config()) == pytest.approx(1.0)
    # fitted on train, the constants are optimal there: any shifted constant has a higher train loss
    n = len(dataset.splits["train"])
    best = split_losses(constant_predictions(dataset, tasks, pos_weight, n), dataset, "train", tasks, pos_weight)
    for shift in (-0.2, 0.2):
        shifted = {task: values + shift for task, values in constant_predictions(dataset, tasks, pos_weight, n).items()}
        worse = split_losses(shifted, dataset, "train", tasks, pos_weight)
        assert all(worse[task] > best[task] for task in tasks), (shift, worse, best)


def test_normalised_and_summed_losses_pick_different_epochs():
    """Emotion BCE on a larger scale than sentiment L1: the sum follows the emotion loss, the criterion both."""
    reference = {"sentiment": 1.0, "emotion": 4.0}
    epochs = {1: {"sentiment": 0.60, "emotion": 4.2}, 2: {"sentiment": 0.95, "emotion": 3.6}}
    summed = min(epochs, key=lambda e: sum(epochs[e].values()))
    normalised = min(epochs, key=lambda e: selection_criterion(epochs[e], reference, _config()))
    assert (summed, normalised) == (2, 1)
    assert selection_criterion(epochs[1], reference, _config()) == pytest.approx((0.60 + 4.2 / 4.0) / 2)
    weighted = _config(sentiment_weight=3.0, emotion_weight=1.0)
    assert selection_criterion(epochs[1], reference, weighted) == pytest.approx((3 * 0.60 + 4.2 / 4.0) / 4)


def test_the_loop_selects_on_the_criterion(dataset):
    result = train_model(_model(dataset), dataset, _config(epochs=5), seed=11)
    history = result.history
    reference = reference_losses(dataset, "valid", result.tasks, emotion_pos_weight(dataset, _config()))
    expected = (
        history["valid_sentiment_loss"] / reference["sentiment"] + history["valid_emotion_loss"] / reference["emotion"]
    ) / 2
    assert history["criterion"].tolist() == pytest.approx(expected.tolist())
    assert history["valid_loss"].tolist() == pytest.approx(
        (history["valid_sentiment_loss"] + history["valid_emotion_loss"]).tolist()
    )
    assert result.best_epoch == int(history.loc[history["criterion"].idxmin(), "epoch"])


def test_a_single_task_run_selects_on_its_loss(dataset):
    result = train_model(_model(dataset, ("sentiment",)), dataset, _config(epochs=5), seed=11)
    history = result.history
    ratio = history["criterion"] / history["valid_sentiment_loss"]
    assert ratio.tolist() == pytest.approx([ratio.iloc[0]] * len(history))
    assert result.best_epoch == int(history.loc[history["valid_sentiment_loss"].idxmin(), "epoch"])


# --- length-bucketed batches --------------------------------------------------------------------------------------


def _padding(lengths: torch.Tensor, batches: list[list[int]]) -> int:
    """Padded steps in all: each batch is trimmed to its longest row."""
    return sum(len(rows) * int(lengths[rows].max()) - int(lengths[rows].sum()) for rows in batches)


def test_length_batches_cover_every_row_once_deterministically_with_less_padding():
    lengths = torch.from_numpy(np.random.default_rng(1).integers(3, 60, 2 * 16 * BUCKET_POOL + 37))
    batches = length_batches(lengths, 16, seed=5)
    assert sorted(i for rows in batches for i in rows) == list(range(len(lengths)))
    assert len(batches) == math.ceil(len(lengths) / 16)
    assert sum(len(rows) < 16 for rows in batches) == 1
    assert batches == length_batches(lengths, 16, seed=5)
    assert batches != length_batches(lengths, 16, seed=6)
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(5)).tolist()
    random = [order[i : i + 16] for i in range(0, len(order), 16)]
    assert _padding(lengths, batches) < 0.2 * _padding(lengths, random)


def test_bucketed_loader_trims_batches_and_trains(padded):
    loader = padded.loader("train", 16, shuffle=True, seed=3, bucket_by_length=True)
    seen = []
    for batch in loader:
        seen.extend(batch["sentiment"].tolist())
        assert batch["text"].shape[1] == int(batch["text_mask"].sum(1).max())
    assert sorted(seen) == sorted(padded.splits["train"].sentiment.tolist())
    result = train_model(_model(padded), padded, _config(epochs=2, bucket_by_length=True), seed=1)
    assert np.isfinite(result.history["train_loss"]).all()


def test_bucketing_without_padded_sequences_is_refused(dataset):
    with pytest.raises(DataError, match=r"synthetic.*/train: bucket_by_length needs padded sequences"):
        train_model(_model(dataset), dataset, _config(epochs=1, bucket_by_length=True), seed=1)


# --- precision ----------------------------------------------------------------------------------------------------


def test_bf16_autocast_on_cpu_runs_a_step(dataset):
    cpu = torch.device("cpu")
    layer = torch.nn.Linear(4, 2)
    with Precision(cpu, _config(precision="bf16")).autocast():
        assert layer(torch.randn(3, 4)).dtype == torch.bfloat16
    with Precision(cpu, _config()).autocast():
        assert layer(torch.randn(3, 4)).dtype == torch.float32, "fp32 is the CPU default"
    assert not Precision(cpu, _config(precision="bf16")).scaler.is_enabled()
    bf16 = train_model(_model(dataset), dataset, _config(epochs=1, precision="bf16", device="cpu"), seed=1)
    fp32 = train_model(_model(dataset), dataset, _config(epochs=1, device="cpu"), seed=1)
    assert np.isfinite(bf16.history["train_loss"]).all()
    assert bf16.history["train_loss"].iloc[0] != fp32.history["train_loss"].iloc[0]
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")


def test_fp64_trains_and_evaluates_in_float64(dataset, tmp_path):
    fp64 = train_model(
        _model(dataset), dataset, _config(epochs=2, precision="fp64", device="cpu"), seed=1, checkpoint_dir=tmp_path
    )
    assert {p.dtype for p in fp64.model.parameters()} == {torch.float64}
    batch = to_model(next(iter(dataset.loader("train", batch_size=8))), fp64.model)
    losses = task_losses(
        fp64.model(batch).predictions, batch, ("sentiment", "emotion"), emotion_pos_weight(dataset, _config())
    )
    assert {loss.dtype for loss in losses.values()} == {torch.float64}, "every loss in float64, BCE included"
    reloaded = _model(dataset)
    load_checkpoint(reloaded, tmp_path)
    assert {p.dtype for p in reloaded.parameters()} == {torch.float64}, "a float64 checkpoint loads as float64"
    assert np.isfinite(fp64.history["train_loss"]).all() and np.isfinite(fp64.test_metrics["mae"])
    fp32 = train_model(_model(dataset), dataset, _config(epochs=2, device="cpu"), seed=1)
    assert {p.dtype for p in fp32.model.parameters()} == {torch.float32}
    # the same start and draws: close after an epoch, but not bit for bit
    assert fp64.history["train_loss"].iloc[0] == pytest.approx(fp32.history["train_loss"].iloc[0], rel=1e-2)
    assert fp64.history["train_loss"].iloc[0] != fp32.history["train_loss"].iloc[0]


def test_to_model_moves_floats_to_the_model_type_and_keeps_the_rest():
    model = torch.nn.Linear(2, 1).double()
    batch = {"x": torch.ones(3, 2), "ids": torch.arange(3), "mask": torch.ones(3, dtype=torch.bool)}
    moved = to_model(batch, model)
    assert moved["x"].dtype == torch.float64 and moved["ids"].dtype == torch.long and moved["mask"].dtype == torch.bool
    assert to_model(batch, torch.nn.Linear(2, 1))["x"].dtype == torch.float32


@pytest.mark.parametrize(("bf16", "dtype", "scaled"), [(True, torch.bfloat16, False), (False, torch.float16, True)])
def test_auto_precision_on_cuda_is_bf16_or_fp16_with_loss_scaling(monkeypatch, bf16, dtype, scaled):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a CPU-only build disables the CUDA scaler with a warning
        precision = Precision(torch.device("cuda"), _config())
    assert precision.dtype == dtype
    assert precision.scaler.is_enabled() == (scaled and torch.cuda.is_available())
    assert Precision(torch.device("cuda"), _config(precision="fp32")).dtype is None


def test_a_diverged_epoch_is_refused_by_number_before_it_is_checkpointed(dataset, tmp_path):
    model = _model(dataset)
    with torch.no_grad():
        next(p for p in model.parameters() if p.ndim >= 2).fill_(float("nan"))
    diverged = r"epoch 1: valid predictions of \['sentiment', 'emotion'\] contain NaN or inf; the run diverged"
    with pytest.raises(ValueError, match=diverged):
        train_model(model, dataset, _config(epochs=2), seed=1, checkpoint_dir=tmp_path)
    assert not list(tmp_path.iterdir())


# --- modality dropout ---------------------------------------------------------------------------------------------


def test_modality_dropout_drops_at_its_rate_zeroes_what_it_drops_and_never_empties_a_sample():
    from mmolre.modalities import drop_modalities, presence_mask

    n = 4000
    batch = {"mask": presence_mask(n, ("text", "audio")), "text": torch.ones(n, 3, 2), "audio": torch.ones(n, 3, 2)}
    out = drop_modalities(batch, 0.3, torch.Generator().manual_seed(0))
    mask = out["mask"]
    assert mask.any(dim=1).all() and not mask[:, 2].any()  # nobody empty, vision never appears
    kept_alone = mask[:, :2].sum(dim=1) == 1
    assert abs(float(kept_alone.float().mean()) - 2 * 0.3 * 0.7) < 0.03  # exactly one of two dropped
    assert abs(float(mask[:, :2].float().mean()) - (0.7 + 0.3 * 0.3)) < 0.03  # both-dropped draws keep both
    assert torch.equal(out["audio"][:, 0, 0].bool(), mask[:, 1]) and torch.equal(
        out["text"][:, 0, 0].bool(), mask[:, 0]
    )
    assert torch.equal(batch["mask"], presence_mask(n, ("text", "audio")))  # the input batch is left as it was


def test_modality_dropout_changes_training_only_and_is_checked(dataset):
    plain = train_model(_model(dataset), dataset, _config(epochs=2), seed=1)
    dropped = train_model(_model(dataset), dataset, _config(epochs=2, modality_dropout=0.5), seed=1)
    assert plain.history["train_loss"].tolist() != dropped.history["train_loss"].tolist()
    again = train_model(_model(dataset), dataset, _config(epochs=2, modality_dropout=0.5), seed=1)
    assert again.history["train_loss"].tolist() == dropped.history["train_loss"].tolist()
    with pytest.raises(ValueError, match="modality_dropout"):
        TrainConfig(modality_dropout=1.0)
