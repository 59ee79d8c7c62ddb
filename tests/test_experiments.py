"""Multi-seed experiment helpers: long-form results, single-task merging, summaries, ablations, routing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig, build_model
from mmolre.protocols import Arm, ablation_arms, model_arms, routing_table, run_experiment, summarize
from mmolre.protocols.paired import compare_models, score_predictions, split_truth
from mmolre.train import TrainConfig

CONFIG = ModelConfig(dim=8, n_shared=2, shared_ranks=(2,), specific_rank=2, blocks=1)
TRAIN = TrainConfig(epochs=1, batch_size=32, num_threads=1)


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosei", n_train=64, n_valid=32, n_test=32, seq_len=3, dim_scale=0.05, seed=2)


def test_run_models_long_form_and_single_task_merge(dataset):
    experiment = run_experiment(model_arms(["mmolre", "single_task"], CONFIG, TRAIN), dataset, seeds=(1, 2))
    runs = experiment.runs
    assert len(runs) == 2 * 2 * 2  # models x seeds x (valid, test)
    assert len(experiment.results[("single_task", 1)]) == 2 and len(experiment.facts) == 4
    assert set(experiment.history("mmolre")["seed"]) == {1, 2}
    single = runs[runs["model"] == "single_task"]
    assert single[["mae", "emo_wa"]].notna().all().all()  # sentiment from one model, emotions from the other
    assert (single["params"] > runs[runs["model"] == "mmolre"]["params"].iloc[0]).all()
    table = summarize(runs, split="test")
    assert list(table["variant"]) == ["mmolre", "single_task"]
    assert table["seeds"].tolist() == [2, 2] and "±" in table.loc[0, "mae"]


def test_test_predictions_are_kept_per_run_and_score_as_recorded(dataset):
    experiment = run_experiment(model_arms(["mmolre", "single_task"], CONFIG, TRAIN), dataset, seeds=(1, 2))
    assert set(experiment.predictions) == {(m, s) for m in ("mmolre", "single_task") for s in (1, 2)}
    truth = split_truth(dataset)
    test = experiment.runs[experiment.runs["split"] == "test"].set_index(["variant", "seed"])
    for (label, seed), outputs in experiment.predictions.items():
        assert set(outputs) == {"sentiment", "emotion"}  # single-task: both task models' outputs merged
        scores = score_predictions(truth, outputs)
        for metric in ("mae", "acc2_non0", "emo_wa"):
            assert scores[metric] == pytest.approx(test.loc[(label, seed), metric])
    comparison = compare_models(experiment.runs, experiment.predictions, truth, samples=50)
    assert set(comparison.paired["baseline"]) == {"single_task"} and comparison.paired["p_bootstrap"].notna().all()
    assert comparison.ensemble["rows"].tolist() == ["mean over seeds", "seed ensemble"] * 2
    assert "2 paired seeds" in comparison.verdict


def test_sentiment_only_dataset_has_no_emotion_metrics():
    mosi_like = make_synthetic("mosi", n_train=48, n_valid=24, n_test=24, seq_len=3, dim_scale=0.05, seed=2)
    runs = run_experiment(model_arms(["single_task"], CONFIG, TRAIN), mosi_like, seeds=(1,)).runs
    assert not any(c.startswith("emo_") for c in runs.columns)
    assert "tasks: sentiment." in mosi_like.statement()


def test_ablation_grids(dataset):
    assert [a.label for a in ablation_arms("rank", CONFIG, TRAIN)] == ["rank=4", "rank=8"]  # ranks above dim=8 dropped
    assert [a.model for a in ablation_arms("experts", CONFIG, TRAIN)] == [
        "mmolre",
        "mmolre_no_shared",
        "mmolre_no_specific",
    ]
    with pytest.raises(ValueError, match="unknown ablation"):
        ablation_arms("depth", CONFIG, TRAIN)
    arms = ablation_arms("emotion_weight", CONFIG, TRAIN, [0.5, 2.0])
    assert [a.train_config.emotion_weight for a in arms] == [0.5, 2.0]
    experiment = run_experiment(arms, dataset, seeds=(1,))
    runs = experiment.runs
    assert runs["variant"].unique().tolist() == ["emotion_weight=0.5", "emotion_weight=2.0"]
    with pytest.raises(ValueError, match="selection criteria do not compare.*'emotion_weight': 0.5"):
        experiment.best_on_valid()  # each arm's criterion weighs the tasks differently
    assert list(runs.columns[:3]) == ["ablation", "model", "variant"] and (runs["ablation"] == "emotion_weight").all()


def test_best_on_valid_needs_arms_whose_criteria_compare(dataset):
    same = run_experiment(model_arms(["mmolre", "single_task"], CONFIG, TRAIN), dataset, seeds=(1, 2))
    assert same.best_on_valid() in {("mmolre", 1), ("mmolre", 2)}  # single-task arms are left out
    arms = [
        Arm("l1", "mmolre", CONFIG, TRAIN),
        Arm("mse", "mmolre", CONFIG, dataclasses.replace(TRAIN, sentiment_loss="mse")),
    ]
    with pytest.raises(ValueError, match="differ in sentiment_loss.*'mse'"):
        run_experiment(arms, dataset, seeds=(1,)).best_on_valid()


def test_routing_table_rows_sum_to_one(dataset):
    torch.manual_seed(0)
    model = build_model("mmolre", dataset.dims, ("sentiment", "emotion"), CONFIG)
    routing = routing_table(model, dataset)
    assert set(routing["router"]) == {f"{m}/block1/{t}" for m in dataset.modalities for t in ("sentiment", "emotion")}
    assert routing.groupby("router")["weight"].sum().to_numpy() == pytest.approx(1.0, abs=1e-5)
    assert routing_table(build_model("hard_sharing", dataset.dims, ("sentiment",), CONFIG), dataset)[
        "weight"
    ].sum() == pytest.approx(3.0)
