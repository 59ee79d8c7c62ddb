"""Multi-seed experiment helpers: long-form results, single-task merging, summaries, ablations, routing."""

from __future__ import annotations

import pytest
import torch

from mmolre.experiments import ablation_variants, modality_statement, routing_table, run_ablation, run_models, summary_table
from mmolre.models import ModelConfig, build_model
from mmolre.synthetic import make_synthetic
from mmolre.training import TrainConfig

CONFIG = ModelConfig(dim=8, n_shared=2, shared_ranks=(2,), specific_rank=2, blocks=1)
TRAIN = TrainConfig(epochs=1, batch_size=32, num_threads=1)


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosei", n_train=64, n_valid=32, n_test=32, seq_len=3, dim_scale=0.05, seed=2)


def test_run_models_long_form_and_single_task_merge(dataset):
    runs = run_models(["mmolre", "single_task"], dataset, CONFIG, TRAIN, seeds=(1, 2))
    assert len(runs) == 2 * 2 * 2  # models x seeds x (valid, test)
    single = runs[runs["model"] == "single_task"]
    assert single[["mae", "emo_wa"]].notna().all().all()  # sentiment from one model, emotions from the other
    assert (single["params"] > runs[runs["model"] == "mmolre"]["params"].iloc[0]).all()
    table = summary_table(runs)
    assert list(table["variant"]) == ["mmolre", "single_task"]
    assert table["seeds"].tolist() == [2, 2] and "±" in table.loc[0, "mae"]


def test_sentiment_only_dataset_has_no_emotion_metrics():
    mosi_like = make_synthetic("mosi", n_train=48, n_valid=24, n_test=24, seq_len=3, dim_scale=0.05, seed=2)
    runs = run_models(["single_task"], mosi_like, CONFIG, TRAIN, seeds=(1,))
    assert not any(c.startswith("emo_") for c in runs.columns)
    assert "tasks: sentiment." in modality_statement(mosi_like)


def test_ablation_grids(dataset):
    assert [v[0] for v in ablation_variants("rank", CONFIG)] == ["rank=4", "rank=8"]  # ranks above dim=8 dropped
    assert [v[1] for v in ablation_variants("experts", CONFIG)] == ["mmolre", "mmolre_no_shared", "mmolre_no_specific"]
    with pytest.raises(ValueError, match="unknown ablation"):
        ablation_variants("depth", CONFIG)
    runs = run_ablation(ablation_variants("emotion_weight", CONFIG, [0.5, 2.0]), dataset, CONFIG, TRAIN, seeds=(1,), ablation="w")
    assert runs["variant"].unique().tolist() == ["emotion_weight=0.5", "emotion_weight=2.0"]
    assert (runs["ablation"] == "w").all()


def test_routing_table_rows_sum_to_one(dataset):
    torch.manual_seed(0)
    model = build_model("mmolre", dataset.dims, ("sentiment", "emotion"), CONFIG)
    routing = routing_table(model, dataset)
    assert set(routing["router"]) == {f"{m}/block1/{t}" for m in dataset.modalities for t in ("sentiment", "emotion")}
    assert routing.groupby("router")["weight"].sum().to_numpy() == pytest.approx(1.0, abs=1e-5)
    assert routing_table(build_model("hard_sharing", dataset.dims, ("sentiment",), CONFIG), dataset)["weight"].sum() == pytest.approx(3.0)
