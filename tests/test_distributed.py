"""Data-parallel training (DDP, gloo on CPU, loopback only) reproduces a single-process run with the same global batch.

Tolerance: the two runs see the same global batches, but two processes each sum half of a batch's per-row
gradients and DDP averages the halves, while one process sums all rows at once; float addition is not
associative, so the gradients differ in the last bits (about 1e-7 relative in float32), and AdamW, which divides
each gradient by its running scale, turns that into weight differences of up to lr times a few 1e-5 where
gradients are tiny. After 2 epochs (12 steps, lr 0.01) the largest weight difference measured was 2.5e-6 and the
largest test-metric difference 5e-8; ``ATOL`` = 2e-5 leaves a margin of 8. Dropout, router noise and the
load-balance loss act on each process's own rows and are off here, since with them two processes would not compute
the same function as one.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp

from mmolre.data.dataset import MultimodalDataset
from mmolre.data.synthetic import make_synthetic
from mmolre.models.mmolre_config import ModelConfig
from mmolre.models.registry import build_model
from mmolre.train.config import TrainConfig, set_seed
from mmolre.train.distributed import Distributed, init_distributed, shutdown
from mmolre.train.loop import TrainResult, train_model

ATOL = 2e-5
SEED = 1111
N_TRAIN = 81  # with batch 16: five full batches and a last batch of one row (rank 1 runs a zero-weight row)
MODEL = ModelConfig(
    dim=8, n_shared=2, shared_ranks=(2, 4), specific_rank=2, router_noise=0.0, learned_noise=False, dropout=0.0
)
TRAIN = TrainConfig(epochs=2, batch_size=16, lr=0.01, patience=0, aux_weight=0.0, num_threads=1, device="cpu")


def _dataset() -> MultimodalDataset:
    return make_synthetic(n_train=N_TRAIN, n_valid=24, n_test=24, seq_len=4, dim_scale=0.1, seed=7)


def _train(distributed: Distributed | None = None, checkpoint_dir: Path | None = None) -> TrainResult:
    data = _dataset()
    set_seed(SEED)
    model = build_model("mmolre", data.dims, data.tasks, MODEL, data.text_input)
    return train_model(model, data, TRAIN, SEED, checkpoint_dir=checkpoint_dir, distributed=distributed)


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    context = init_distributed("cpu")
    try:
        result = _train(context, Path(out) / "checkpoints")
        torch.save(
            {"state": result.model.state_dict(), "test": result.test_metrics, "history": result.history},
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        shutdown(context)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_shard_weights_recover_the_global_mean() -> None:
    batch = {"sentiment": torch.arange(5.0), "mask": torch.ones(5, 3)}
    shards = [Distributed(rank, 2, torch.device("cpu")).shard(batch) for rank in range(2)]
    assert shards[0][0]["sentiment"].tolist() == [0.0, 2.0, 4.0] and shards[1][0]["sentiment"].tolist() == [1.0, 3.0]
    # DDP averages: (w0 * mean0 + w1 * mean1) / 2 must be the mean over all five rows
    averaged = sum(weight * part["sentiment"].mean() for part, weight in shards) / 2
    assert float(averaged) == pytest.approx(2.0)
    empty = Distributed(3, 4, torch.device("cpu")).shard({"sentiment": torch.arange(2.0)})
    assert empty[1] == 0.0 and len(empty[0]["sentiment"]) == 1


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_two_processes_match_one(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    single = _train()
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=False) for rank in range(2)]
    for key, value in single.model.state_dict().items():
        assert torch.equal(ranks[0]["state"][key], ranks[1]["state"][key]), key  # DDP keeps the replicas equal
        assert torch.allclose(ranks[0]["state"][key], value, rtol=0.0, atol=ATOL), key
    for name, value in single.test_metrics.items():
        assert ranks[0]["test"][name] == pytest.approx(value, abs=1e-4), name
    pd.testing.assert_frame_equal(ranks[0]["history"], single.history, check_exact=False, atol=1e-5, rtol=0.0)
    assert (tmp_path / "checkpoints").is_dir()  # written by rank 0 alone
