"""Run records: written by every finished run, restored instead of training, refused when edited or of another run."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from mmolre.data.synthetic import make_synthetic
from mmolre.exports.card import profile_card
from mmolre.models import ModelConfig
from mmolre.protocols import driver, model_arms, run_experiment
from mmolre.protocols.paired import compare_models, split_truth
from mmolre.train import TrainConfig
from mmolre.train.checkpoints import SIDECAR
from mmolre.train.records import RecordError

CONFIG = ModelConfig(dim=8, n_shared=2, shared_ranks=(2,), specific_rank=2, blocks=1)
TRAIN = TrainConfig(epochs=2, batch_size=32, num_threads=1)
ARMS = ["mmolre", "single_task"]


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosei", n_train=64, n_valid=32, n_test=32, seq_len=3, dim_scale=0.05, seed=2)


@pytest.fixture
def trained(dataset, tmp_path):
    """An experiment trained with checkpoints and records, and the records folder."""
    records = tmp_path / "runs"
    experiment = run_experiment(
        model_arms(ARMS, CONFIG, TRAIN),
        dataset,
        (1, 2),
        checkpoint_root=tmp_path / "ckpt",
        resume=True,
        records=records,
    )
    return experiment, records


def _no_training(*args, **kwargs):
    raise AssertionError("a recorded run was trained or re-evaluated")


def test_every_run_writes_a_record_and_restoring_gives_the_same_results_without_training(
    trained, dataset, tmp_path, monkeypatch
):
    experiment, records = trained
    names = sorted(path.stem for path in records.glob("*.json"))
    assert names == sorted(
        [f"mmolre-sentiment+emotion-seed{s}" for s in (1, 2)]
        + [f"single_task-{task}-seed{s}" for task in ("sentiment", "emotion") for s in (1, 2)]
    )
    assert sorted(path.stem for path in records.glob("*.npz")) == names
    monkeypatch.setattr(driver, "train_model", _no_training)
    restored = run_experiment(model_arms(ARMS, CONFIG, TRAIN), dataset, (1, 2), records=records, from_records=True)
    pd.testing.assert_frame_equal(restored.runs, experiment.runs)
    for key, outputs in experiment.predictions.items():
        assert set(restored.predictions[key]) == set(outputs)
        for task, values in outputs.items():
            np.testing.assert_array_equal(restored.predictions[key][task], values)
    assert restored.facts["train_seconds"].tolist() == pytest.approx(experiment.facts["train_seconds"].tolist())
    assert (restored.facts["train_seconds"] > 0).all()
    pd.testing.assert_frame_equal(restored.history("mmolre"), experiment.history("mmolre"), check_dtype=False)
    assert all(r.model is None for results in restored.results.values() for r in results)
    with pytest.raises(ValueError, match="restored from its record, which keeps no weights"):
        restored.model("mmolre", 1)
    # what notebook 04 does with them: paired comparison and the best run's card
    truth = split_truth(dataset)
    assert compare_models(restored.runs, restored.predictions, truth, samples=20).paired.equals(
        compare_models(experiment.runs, experiment.predictions, truth, samples=20).paired
    )
    assert profile_card(restored, dataset, "p", resume=True) == profile_card(experiment, dataset, "p", resume=True)


def test_without_from_records_runs_are_evaluated_again_and_records_rewritten(trained, dataset, tmp_path):
    experiment, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    path.unlink()
    again = run_experiment(
        model_arms(["mmolre"], CONFIG, TRAIN),
        dataset,
        (1,),
        checkpoint_root=tmp_path / "ckpt",
        resume=True,
        records=records,
    )
    assert again.results[("mmolre", 1)][0].model is not None and path.is_file()
    expected = experiment.runs[(experiment.runs["model"] == "mmolre") & (experiment.runs["seed"] == 1)]
    pd.testing.assert_frame_equal(again.runs, expected.reset_index(drop=True), check_dtype=False)


def _restore(dataset, records, arms=("mmolre",), train=TRAIN):
    return run_experiment(model_arms(list(arms), CONFIG, train), dataset, (1,), records=records, from_records=True)


def test_a_record_of_another_run_is_refused_naming_the_difference(trained, dataset):
    _, records = trained
    with pytest.raises(RecordError, match=r"mmolre-sentiment\+emotion-seed1.json: records another run .*train_config"):
        _restore(dataset, records, train=TrainConfig(epochs=2, batch_size=32, num_threads=1, lr=0.01))
    with pytest.raises(RecordError, match="differs in epochs"):
        _restore(dataset, records, train=TrainConfig(epochs=3, batch_size=32, num_threads=1))


def test_num_threads_may_differ(trained, dataset):
    _, records = trained
    _restore(dataset, records, train=TrainConfig(epochs=2, batch_size=32, num_threads=2))


@pytest.mark.parametrize("damage", ["metric", "predictions", "missing npz", "metric and digest", "not json"])
def test_an_edited_or_damaged_record_is_refused(trained, dataset, damage):
    _, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    arrays = path.with_suffix(".npz")
    payload = json.loads(path.read_text())
    if damage == "metric":
        payload["test_metrics"]["mae"] = 0.01
        path.write_text(json.dumps(payload))
        expected = "differs from its recorded sha256"
    elif damage == "predictions":
        np.savez_compressed(arrays, sentiment=np.zeros(32, np.float32), emotion=np.zeros((32, 6), np.float32))
        expected = "sha256 differs from the one recorded"
    elif damage == "missing npz":
        arrays.unlink()
        expected = "predictions file .* is missing"
    elif damage == "metric and digest":  # a consistent-looking edit: the metrics no longer follow the predictions
        payload["test_metrics"]["mae"] = 0.01
        _rewrite(path, payload)
        expected = "test metrics do not follow from its predictions"
    else:
        path.write_text("{not json")
        expected = "unreadable run record"
    with pytest.raises(RecordError, match=expected):
        _restore(dataset, records)


def _rewrite(path, payload):
    """Write ``payload`` with a matching content digest, as a deliberate forger would."""
    from mmolre.train.records import _content_sha256

    payload["record_sha256"] = _content_sha256(payload)
    path.write_text(json.dumps(payload))


@pytest.mark.parametrize(
    "forgery, expected",
    [
        ({"tasks": ["sentiment"]}, r"records another run \(differs in tasks\)"),
        ({"params": True}, r"not a run record this code wrote \(missing or invalid \['params'\]\)"),
        ({"history": [{"epoch": "one"}]}, "history must be rows of numbers"),
        ({"test_metrics": {"mae": "low"}}, "test_metrics must map names to numbers"),
        ({"valid_metrics": {"mae": 0.5}}, "valid_metrics and test_metrics must have the same names"),
        ({"epochs_run": 3}, "do not fit 2 epochs"),
        ({"best_criterion": 0.001}, "best_criterion is not the criterion of history row"),
        ({"predictions": "../../outside.npz"}, "is missing \\(or not a plain file beside it\\)"),
    ],
)
def test_a_forged_record_is_refused_in_one_line(trained, dataset, forgery, expected):
    _, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    _rewrite(path, {**json.loads(path.read_text()), **forgery})
    with pytest.raises(RecordError, match=expected) as refused:
        _restore(dataset, records)
    assert "\n" not in str(refused.value) and str(path.name) in str(refused.value)


def test_a_record_of_other_load_options_is_refused(trained, dataset):
    _, records = trained
    other = dataclasses.replace(dataset, notes={**dataset.notes, "load_options": {"dataset": "x", "max_tokens": 32}})
    with pytest.raises(RecordError, match=r"differs in load_options"):
        _restore(other, records)


def _forge_arrays(path, write):
    """Replace the record's predictions with what ``write(npz_path)`` writes, with matching digests."""
    from mmolre.files import file_sha256

    arrays = path.with_suffix(".npz")
    write(arrays)
    _rewrite(path, {**json.loads(path.read_text()), "predictions_sha256": file_sha256(arrays)})


@pytest.mark.parametrize(
    "write, expected",
    [
        (lambda f: f.write_bytes(b"PK\x03\x04 not a zip"), "unreadable predictions"),
        (
            lambda f: np.savez_compressed(f, sentiment=np.zeros(32, np.float32), emotion=np.zeros(32, np.float32)),
            "do not fit the test labels",
        ),
        (
            lambda f: np.savez_compressed(
                f, sentiment=np.zeros(32, np.float32), emotion=np.zeros((32, 6), np.float32), extra=np.zeros(32)
            ),
            r"not one array per task \['sentiment', 'emotion'\]",
        ),
        (lambda f: np.savez_compressed(f, sentiment=np.float32(0), emotion=np.zeros((32, 6), np.float32)), "per task"),
    ],
)
def test_forged_predictions_are_refused_in_one_line(trained, dataset, write, expected):
    _, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    _forge_arrays(path, write)
    with pytest.raises(RecordError, match=expected) as refused:
        _restore(dataset, records)
    assert "\n" not in str(refused.value) and ".npz" in str(refused.value)


@pytest.mark.parametrize("values", [np.array(["a"] * 32), np.full(32, np.nan, np.float32)])
def test_predictions_must_be_finite_numbers(trained, dataset, values):
    _, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    _forge_arrays(path, lambda f: np.savez_compressed(f, sentiment=values, emotion=np.zeros((32, 6), np.float32)))
    with pytest.raises(RecordError, match="predictions must be finite floating-point arrays"):
        _restore(dataset, records)


def test_a_linked_or_folder_record_is_refused(trained, dataset, tmp_path):
    _, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    outside = tmp_path / "elsewhere.json"
    path.rename(outside)
    path.symlink_to(outside)
    with pytest.raises(RecordError, match="must be a plain file"):
        _restore(dataset, records)
    path.unlink()
    path.mkdir()
    with pytest.raises(RecordError, match="must be a plain file"):
        _restore(dataset, records)
    linked = tmp_path / "linked"
    linked.symlink_to(records)
    with pytest.raises(RecordError, match="records folder must be a plain folder"):
        _restore(dataset, linked)


def test_a_train_config_field_added_later_counts_as_its_default(trained, dataset):
    _, records = trained
    path = records / "mmolre-sentiment+emotion-seed1.json"
    payload = json.loads(path.read_text())
    del payload["train_config"]["grad_clip"]  # as if written before the field existed
    _rewrite(path, payload)
    _restore(dataset, records)


def test_arms_with_evaluators_write_no_record(dataset, tmp_path):
    run_experiment(
        model_arms(["mmolre"], CONFIG, TRAIN),
        dataset,
        (1,),
        evaluators={"n": lambda m, d: pd.DataFrame()},
        records=tmp_path / "runs",
    )
    assert not (tmp_path / "runs").exists()


def test_train_seconds_add_up_over_sittings_and_are_nan_for_older_checkpoints(dataset, tmp_path):
    one = TrainConfig(epochs=1, batch_size=32, num_threads=1)
    first = run_experiment(model_arms(["mmolre"], CONFIG, one), dataset, (1,), checkpoint_root=tmp_path, resume=True)
    sidecar = tmp_path / "mmolre-sentiment+emotion-seed1" / SIDECAR
    assert json.loads(sidecar.read_text())["train_seconds"] == pytest.approx(first.facts["train_seconds"][0])
    second = run_experiment(model_arms(["mmolre"], CONFIG, TRAIN), dataset, (1,), checkpoint_root=tmp_path, resume=True)
    assert second.facts["train_seconds"][0] > first.facts["train_seconds"][0]
    assert json.loads(sidecar.read_text())["train_seconds"] == pytest.approx(second.facts["train_seconds"][0])
    payload = json.loads(sidecar.read_text())
    del payload["train_seconds"]  # as written before the field existed (not part of the checked progress)
    sidecar.write_text(json.dumps(payload))
    again = run_experiment(model_arms(["mmolre"], CONFIG, TRAIN), dataset, (1,), checkpoint_root=tmp_path, resume=True)
    assert math.isnan(again.facts["train_seconds"][0])
