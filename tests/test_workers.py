"""Independent runs in worker processes (notebook 06's ``workers``): the same results as one process, in the same
order, and a failing job stops the others instead of waiting for them."""

from __future__ import annotations

import multiprocessing
import time

import pandas as pd
import pytest

from mmolre.data import load_dataset
from mmolre.data.dataset import MultimodalDataset
from mmolre.models import MCULoRAConfig
from mmolre.protocols.folds import run_folds
from mmolre.protocols.incomplete_runs import IncompleteConfig, run_incomplete
from mmolre.protocols.workers import run_jobs
from mmolre.train import TrainConfig

CONFIG = IncompleteConfig(
    model=MCULoRAConfig(hidden=8, depth=1),
    train=TrainConfig(epochs=2, batch_size=16, patience=0, num_threads=1, precision="fp64"),
    rates=(0.0, 0.5),
)
METHODS = ["mculora_js", "dropout_uniform", "full_only"]
TIMES = ["seconds", "train_seconds"]  # wall times: the only columns that differ between processes


def synthetic_fold(fold: int) -> MultimodalDataset:
    """A stand-in for a dataset with folds (module level, so that a worker process can load it)."""
    return load_dataset(
        "synthetic",
        card="mosi",
        n_train=48,
        n_valid=16,
        n_test=24,
        seq_len=2,
        dims={"text": 6, "audio": 4, "vision": 3},
        seed=fold,
    )


def late(seconds: float) -> float:
    """Return ``seconds`` after sleeping that long (the first job sent finishes last)."""
    time.sleep(seconds)
    return seconds


def test_run_jobs_keeps_the_order_of_the_jobs() -> None:
    assert run_jobs(late, [2.0, 0.0, 0.5], workers=2) == [2.0, 0.0, 0.5]  # they finish as 0.0, 0.5, 2.0
    assert run_jobs(abs, [-3, 2, -1], workers=2) == run_jobs(abs, [-3, 2, -1]) == [3, 2, 1]
    assert run_jobs(abs, [], workers=2) == []
    for workers in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be an integer >= 1"):
            run_jobs(abs, [1, 2], workers=workers)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got True"):
        run_incomplete(METHODS, synthetic_fold(1), CONFIG, seeds=(1,), workers=True)


def test_repeated_runs_are_refused_before_any_worker_starts() -> None:
    data = synthetic_fold(1)
    with pytest.raises(ValueError, match="arm labels must be distinct"):
        run_incomplete(["full_only", "full_only"], data, CONFIG, seeds=(1,), workers=2)
    with pytest.raises(ValueError, match="seeds must be distinct"):
        run_incomplete(["full_only"], data, CONFIG, seeds=(1, 1), workers=2)
    assert multiprocessing.active_children() == []


def test_a_failing_job_stops_the_others() -> None:
    started = time.monotonic()
    with pytest.raises(TypeError):
        run_jobs(time.sleep, [600, "not a number"], workers=2)
    assert time.monotonic() - started < 300  # the 600 s job was stopped, not waited for
    assert multiprocessing.active_children() == []


def _same(one: pd.DataFrame, other: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(one.drop(columns=TIMES, errors="ignore"), other.drop(columns=TIMES, errors="ignore"))


def test_workers_give_the_results_of_one_process(tmp_path) -> None:
    data = synthetic_fold(1)
    alone = run_incomplete(METHODS, data, CONFIG, seeds=(1, 2))
    shared = run_incomplete(METHODS, data, CONFIG, seeds=(1, 2), checkpoint_root=tmp_path, workers=2)
    for name in ("conditions", "missing_rates", "sampling", "runs"):
        _same(getattr(alone, name), getattr(shared, name))
    assert list(alone.predictions) == list(shared.predictions)
    for key, outputs in alone.predictions.items():
        for task, values in outputs.items():
            assert (values == shared.predictions[key][task]).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{label}-sentiment-seed{s}" for label, s in alone.predictions
    )


def test_folds_in_workers_give_the_results_of_one_process() -> None:
    alone = run_folds(METHODS[1:], synthetic_fold, [1, 2], CONFIG, seeds=(1,))
    shared = run_folds(METHODS[1:], synthetic_fold, [1, 2], CONFIG, seeds=(1,), workers=3)
    for name in ("conditions", "missing_rates", "sampling", "runs"):
        _same(getattr(alone, name), getattr(shared, name))
    assert list(shared.predictions) == [(f"{m}-r0/fold{k}", 1) for k in (1, 2) for m in METHODS[1:]]
    for key, outputs in alone.predictions.items():
        assert all((values == shared.predictions[key][task]).all() for task, values in outputs.items())


def test_rank_ablation_in_workers_keeps_the_order_of_its_arms() -> None:
    data = synthetic_fold(2)
    alone = run_incomplete(["mcla_uniform"], data, CONFIG, seeds=(1, 2), ranks=(2, 4))
    shared = run_incomplete(["mcla_uniform"], data, CONFIG, seeds=(1, 2), ranks=(2, 4), workers=2)
    assert list(shared.runs[["rank", "seed"]].itertuples(index=False, name=None)) == [(2, 1), (2, 2), (4, 1), (4, 2)]
    for name in ("conditions", "runs"):
        _same(getattr(alone, name), getattr(shared, name))
