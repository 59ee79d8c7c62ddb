"""On synthetic data with planted shared / task-specific factors, MMoLRE beats hard sharing.

Planted structure used here (options of :func:`mmolre.synthetic.make_synthetic`): each modality carries one
factor group only (text: shared, audio: sentiment-only, vision: emotion-only), equally strong, with a strong
task conflict (``conflict=2``: the sentiment-only factor enters the emotions with the opposite sign). Separating
the tasks (task-specific experts, routers and fusion) should then help. Measured with this exact configuration
(3 seeds, mean test MAE): MMoLRE 0.582, hard sharing 0.612; emotion WA 0.753 vs 0.752. With the default
structure (text carries every factor) the two models were within noise of each other, so this test uses the
separated structure and a margin of 0.01 MAE (measured: 0.030); emotion WA must not be worse by more than 0.01.
"""

from __future__ import annotations

import pytest
import torch

from mmolre.data import load_dataset
from mmolre.experiments import run_models
from mmolre.models import ModelConfig
from mmolre.training import TrainConfig

STRUCTURE = dict(
    dim_scale=0.1,
    sees={"text": ("shared",), "audio": ("sent",), "vision": ("emo",)},
    strength={"text": 1.0, "audio": 1.0, "vision": 1.0},
    conflict=2.0,
)
MODEL = ModelConfig(dim=8, shared_ranks=(4,), specific_rank=4)
TRAIN = TrainConfig(epochs=12, patience=4, lr=5e-3, num_threads=1)


@pytest.fixture(scope="module")
def results():
    threads = torch.get_num_threads()
    try:
        data = load_dataset("synthetic", **STRUCTURE)
        runs = run_models(["mmolre", "hard_sharing"], data, MODEL, TRAIN, seeds=(1111, 1112, 1113))
    finally:
        torch.set_num_threads(threads)
    return runs[runs["split"] == "test"].groupby("model")[["mae", "emo_wa"]].mean()


def test_mmolre_beats_hard_sharing_on_sentiment(results):
    assert results.loc["mmolre", "mae"] < results.loc["hard_sharing", "mae"] - 0.01


def test_mmolre_no_worse_on_emotions(results):
    assert results.loc["mmolre", "emo_wa"] > results.loc["hard_sharing", "emo_wa"] - 0.01
