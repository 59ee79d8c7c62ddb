"""IEMOCAP's leave-one-session-out folds through the incomplete-modality protocol, and the per-class view (recall per
class, confusion counts) of four-class results; the text encoder is replaced to stay fast."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import mmolre.data.iemocap as iemocap
from mmolre.data.text_encoder import TextFeatures
from mmolre.emotions import EMOTION4_CLASSES
from mmolre.metrics import class_recall, confusion_counts
from mmolre.models import MCULoRAConfig
from mmolre.paths import PROJECT_ROOT
from mmolre.protocols.classes import pooled_confusion, recall_per_class
from mmolre.protocols.folds import fold_loader, fold_matrix, run_folds, summarize_runs
from mmolre.protocols.incomplete import summarize_conditions
from mmolre.protocols.incomplete_runs import IncompleteConfig
from mmolre.report import plots
from mmolre.train import TrainConfig

DATA_DIR = next(
    (
        Path(c)
        for c in (os.environ.get("MMOLRE_DATA_DIR"), PROJECT_ROOT.parent / "shared" / "data")
        if c and (Path(c) / iemocap.PICKLE).is_file()
    ),
    None,
)
needs_iemocap = pytest.mark.skipif(DATA_DIR is None, reason="no IEMOCAP pickle: set MMOLRE_DATA_DIR")


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch):
    """Two text features per utterance (transcript length and a constant)."""
    monkeypatch.setattr(
        iemocap,
        "text_features",
        lambda texts, *_: TextFeatures(np.array([[[len(t) / 50, 1.0]] for t in texts], dtype=np.float32), None, None),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_class_recall_from_confusion_counts() -> None:
    truth = [0, 0, 1, 1, 2, 3]
    counts = confusion_counts(truth, np.eye(4)[[0, 1, 1, 1, 2, 0]])
    assert class_recall(counts).tolist() == [0.5, 1.0, 1.0, 0.0]
    assert np.isnan(class_recall(np.array([[1, 0], [0, 0]]))[1])
    with pytest.raises(ValueError, match="square"):
        class_recall(np.zeros((2, 3)))


@needs_iemocap
def test_folds_stack_runs_and_give_per_class_results(tmp_path) -> None:
    load = fold_loader("iemocap", DATA_DIR, {"fold": 5})
    config = IncompleteConfig(
        model=MCULoRAConfig(hidden=8, depth=1),
        train=TrainConfig(epochs=1, batch_size=256, patience=0),
        rates=(0.0,),
    )
    results = run_folds(["mculora_js", "full_only"], load, [1, 2], config, seeds=(1,), checkpoint_root=tmp_path)
    assert set(results.conditions["fold"]) == {1, 2} and list(results.conditions.columns[:3]) == [
        "method",
        "rank",
        "fold",
    ]
    assert {key[0] for key in results.predictions} == {
        f"{m}/fold{k}" for m in ("mculora_js-r4", "full_only-r0") for k in (1, 2)
    }
    assert {p.name for p in tmp_path.iterdir()} == {"fold1", "fold2"}
    # every run's confusion counts cover its fold's whole test session, and its recalls follow from them
    totals = results.classes.groupby(["method", "fold", "seed"])["count"].sum()
    assert totals.xs(1, level="fold").tolist() == [load(1).sizes()["test"]] * 2
    recall = recall_per_class(results.classes)
    assert len(recall) == 2 * 2 * len(EMOTION4_CLASSES) and set(recall["class"]) == set(EMOTION4_CLASSES)
    run = results.classes[(results.classes["method"] == "full_only") & (results.classes["fold"] == 2)]
    matrix = run.pivot(index="true", columns="predicted", values="count").loc[
        list(EMOTION4_CLASSES), list(EMOTION4_CLASSES)
    ]
    mine = recall[(recall["method"] == "full_only") & (recall["fold"] == 2)].set_index("class")["recall"]
    np.testing.assert_allclose(mine[list(EMOTION4_CLASSES)].to_numpy(), class_recall(matrix.to_numpy()))
    pooled = pooled_confusion(results.classes, "mculora_js")
    assert pooled.to_numpy().sum() == load(1).sizes()["test"] + load(2).sizes()["test"]
    ax = plots.plot_confusion_matrix(pooled, title="pooled").axes[0]  # the figure is drawn from the pooled counts
    assert ax.get_xlabel() == "predicted class" and [t.get_text() for t in ax.get_xticklabels()] == list(pooled.columns)
    assert [int(t.get_text().split("(")[1].rstrip(")")) for t in ax.texts] == pooled.to_numpy().ravel().tolist()
    # the t row: mean over folds and seeds (two runs each: two folds of one seed), and per fold
    summary = summarize_runs(results.conditions).set_index(["method", "condition"])
    assert summary.loc[(slice(None), "t"), ["folds", "seeds", "runs"]].values.tolist() == [[2, 1, 2], [2, 1, 2]]
    folds = fold_matrix(results.conditions, "wa", "t")
    assert list(folds.columns) == ["fold 1", "fold 2", "mean", "std"]
    t = results.conditions[results.conditions["condition"] == "t"]
    expected = t[t["method"] == "full_only"].groupby("fold")["wa"].mean()
    assert folds.loc["full_only", "mean"] == pytest.approx(expected.mean())
    assert folds.loc["full_only", "std"] == pytest.approx(expected.std(ddof=1))


def test_fold_loader_needs_a_dataset_with_folds() -> None:
    with pytest.raises(ValueError, match="no folds"):
        fold_loader("mosi_bclstm")
    with pytest.raises(ValueError, match="distinct fold numbers"):
        run_folds(["full_only"], fold_loader("iemocap", DATA_DIR), [1, 1])


def _stacked(folds: tuple[int, ...], seeds: tuple[int, ...]) -> pd.DataFrame:
    """An avg and a t row per method, fold and seed (wa = fold / 10 + seed / 100), and a not-applicable v row."""
    rows = [
        {"method": method, "rank": 0, "fold": fold, "seed": seed, "condition": condition, "applicable": True, "wa": wa}
        for method in ("mculora_js", "full_only")
        for fold in folds
        for seed in seeds
        for condition, wa in (("avg", fold / 10 + seed / 100), ("t", 0.5))
    ]
    rows += [{**row, "condition": "v", "applicable": False, "wa": np.nan} for row in rows if row["condition"] == "t"]
    return pd.DataFrame(rows)


def test_fold_summaries_count_runs_over_folds_and_seeds() -> None:
    stacked = _stacked(folds=(1, 2), seeds=(1, 2, 3))
    summary = summarize_runs(stacked)
    assert list(summary.columns[-3:]) == ["folds", "seeds", "runs"] and "v" not in set(summary["condition"])
    assert summary[["folds", "seeds", "runs"]].values.tolist() == [[2, 3, 6]] * 4
    avg = stacked[(stacked["condition"] == "avg") & (stacked["method"] == "full_only")]["wa"]
    row = summary[(summary["method"] == "full_only") & (summary["condition"] == "avg")].iloc[0]
    assert row["wa"] == f"{avg.mean():.3f} ± {avg.std(ddof=1):.3f}"  # over all six (fold, seed) runs
    # per fold, the count is of seeds again
    per_fold = summarize_runs(stacked, by=("method", "fold", "condition"), metrics=["wa"])
    assert per_fold.columns[-1] == "seeds" and set(per_fold["seeds"]) == {3}
    # one fold's results (no fold column) keep the single-fold summary, its seeds column unchanged
    single = stacked[stacked["fold"] == 1].drop(columns="fold")
    pd.testing.assert_frame_equal(summarize_runs(single), summarize_conditions(single))
    assert summarize_runs(single)["seeds"].tolist() == [3] * 4
