"""On synthetic data with planted shared / task-specific factors, MMoLRE's low-rank mixture beats hard sharing.

The claim is tested with the block both models had before the MLoRE form (``old_block``: a residual mixture routed
per position), where it holds on every seed. With the MLoRE-form default at this width (8) it does not: test MAE of
hard sharing minus MMoLRE per seed 1111..1113 was -0.004, -0.030, +0.029 (per-sample routing pooled over only 4
steps; 5 of 12 routers left two of four experts at mean weight <= 0.01), so the default's multi-task edge is left to
the measured profiles (notebook 04's paired verdicts), not asserted here.

Planted structure used here (options of :func:`mmolre.synthetic.make_synthetic`): each modality carries one
factor group only (text: shared, audio: sentiment-only, vision: emotion-only), equally and clearly strong
(strength 2), and each task needs several directions of its own: sentiment adds products of two disjoint pairs of
its 4 private factors (``sent_interaction=1``), the emotions use 6 private factors (linear and pairwise products)
plus the sentiment-only direction with the opposite sign (``conflict=2``). That is more factors than the model
width (8), so the hard-shared trunk (one width-8 stream for both tasks) must drop some, while MMoLRE's per-task
streams need not.

Measured with this exact configuration (training loss with the class-balanced emotion BCE), test MAE of
hard sharing minus MMoLRE per seed 1111..1115: +0.071, +0.082, +0.182, +0.034, +0.091 (every seed wins; mean
0.092, std 0.055); emotion WA of MMoLRE minus hard sharing: +0.031, +0.008, -0.025, -0.005, -0.004 (mean
+0.001). Without the sentiment interaction (strength 2, 1000 samples, same models) the MAE gaps were +0.055,
+0.063, +0.010, +0.041, -0.015, and with the earlier strength-1 / 600-sample setting +0.001, -0.029, +0.007:
within seed noise. So the test asks every seed (1111..1113) to win on MAE and the mean gap to exceed 0.03; the
mean emotion WA must not be worse by more than 0.01.
"""

from __future__ import annotations

import pytest
import torch

from mmolre.data import load_dataset
from mmolre.models import ModelConfig
from mmolre.protocols import model_arms, run_experiment
from mmolre.protocols.ablations import BLOCK_VARIANTS
from mmolre.train import TrainConfig

STRUCTURE = dict(
    dim_scale=0.1,
    seq_len=4,
    n_train=1000,
    sees={"text": ("shared",), "audio": ("sent",), "vision": ("emo",)},
    strength={"text": 2.0, "audio": 2.0, "vision": 2.0},
    k_sent=4,
    k_emo=6,
    sent_interaction=1.0,
    conflict=2.0,
)
MODEL = ModelConfig(dim=8, shared_ranks=(4,), specific_rank=4, **BLOCK_VARIANTS["old_block"])
TRAIN = TrainConfig(epochs=12, patience=4, lr=5e-3, num_threads=1)


@pytest.fixture(scope="module")
def results():
    threads = torch.get_num_threads()
    try:
        data = load_dataset("synthetic", **STRUCTURE)
        runs = run_experiment(model_arms(["mmolre", "hard_sharing"], MODEL, TRAIN), data, seeds=(1111, 1112, 1113)).runs
    finally:
        torch.set_num_threads(threads)
    return runs[runs["split"] == "test"].pivot(index="seed", columns="model", values=["mae", "emo_wa"])


def test_mmolre_beats_hard_sharing_on_sentiment(results):
    gap = results["mae"]["hard_sharing"] - results["mae"]["mmolre"]
    assert (gap > 0).all(), f"MMoLRE must win on every seed, MAE gaps {gap.round(3).to_dict()}"
    assert gap.mean() > 0.03, f"mean MAE gap {gap.mean():.3f}"


def test_mmolre_no_worse_on_emotions(results):
    assert results["emo_wa"]["mmolre"].mean() > results["emo_wa"]["hard_sharing"].mean() - 0.01
