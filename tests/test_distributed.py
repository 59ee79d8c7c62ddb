"""Data-parallel training (DDP, gloo on CPU, loopback only) reproduces a single-process run with the same global batch.

Tolerance: the two runs see the same global batches, but two processes each sum half of a batch's per-row
gradients and DDP averages the halves, while one process sums all rows at once; float addition is not
associative, so the gradients differ in the last bits (about 1e-7 relative in float32) and AdamW carries those
differences through every step. ``ATOL`` bounds the weight difference after 2 epochs (12 steps); the largest
difference measured was 1.5e-7 (test metrics: 5e-8). Dropout, router noise and the load-balance loss act on each
process's own rows and are off here, since with them two processes would not compute the same function as one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp

from mmolre.__main__ import main
from mmolre.data.synthetic import make_synthetic
from mmolre.models.mmolre import ModelConfig
from mmolre.models.registry import build_model
from mmolre.paths import PROJECT_ROOT
from mmolre.protocols.driver import model_arms
from mmolre.report.cli_train import notebook_values
from mmolre.report.notebook import setup_notebook
from mmolre.train.config import TrainConfig, set_seed
from mmolre.train.distributed import ENV_VARS, Distributed, init_distributed, shutdown
from mmolre.train.loop import train_model

ATOL = 1e-5
SEED = 1111
N_TRAIN = 85  # with batch 16: five full batches and a last batch of 5 rows (3 + 2 over two processes)
MODEL = ModelConfig(dim=8, n_shared=2, shared_ranks=(2, 4), specific_rank=2, router_noise=0.0, dropout=0.0)
TRAIN = TrainConfig(epochs=2, batch_size=16, lr=0.01, patience=0, aux_weight=0.0, num_threads=1, device="cpu")


def _dataset():
    return make_synthetic(n_train=N_TRAIN, n_valid=24, n_test=24, seq_len=4, dim_scale=0.1, seed=7)


def _train(distributed: Distributed | None = None, checkpoint_dir: Path | None = None):
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


TINY_PARAMS = """\
profile: ddp_tiny
common:
  dataset: synthetic
  dataset_options: {n_train: 45, n_valid: 16, n_test: 16, seq_len: 4, dim_scale: 0.1}
  seeds: [1111]
  epochs: 1
  model_config: {dim: 8, n_shared: 2, shared_ranks: [2, 4], specific_rank: 2, router_noise: 0.0, dropout: 0.0}
  train_config: {batch_size: 16, aux_weight: 0.0, num_threads: 1, device: cpu}
04_baselines:
  models: [mmolre, hard_sharing]
"""


def _params(tmp_path: Path, text: str = TINY_PARAMS) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_train_command_records_the_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "-f", str(_params(tmp_path))]) == 0
    recorded = pd.read_csv(tmp_path / "reports" / "ddp_tiny" / "tables" / "baselines_runs.csv")
    # the notebook's own code path with the same parameters gives the same table
    values = notebook_values(_params(tmp_path), "04_baselines")
    nb = setup_notebook(
        "ddp_tiny", "synthetic", "", values["dataset_options"], values["model_config"], values["train_config"], 1
    )
    expected = nb.run(model_arms(["mmolre", "hard_sharing"], nb.model_config, nb.train_config), [1111]).runs
    assert list(recorded["model"]) == ["mmolre", "mmolre", "hard_sharing", "hard_sharing"]
    pd.testing.assert_frame_equal(recorded, expected, check_dtype=False)


def test_train_command_refuses_bad_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_name = TINY_PARAMS.replace("models:", "modelz:")
    assert main(["train", "-f", str(_params(tmp_path, bad_name))]) == 1
    assert "unknown parameter(s) ['modelz']" in capsys.readouterr().err
    bad_value = TINY_PARAMS.replace("batch_size: 16", "batch_sise: 16")
    assert main(["train", "-f", str(_params(tmp_path, bad_value))]) == 1
    assert "batch_sise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "-f", str(_params(tmp_path)), "--notebook", "06_incomplete_modalities"])


def test_train_command_under_torchrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two torchrun processes on loopback record (on rank 0 only) the runs a single process records."""
    params = _params(tmp_path)
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "single"))
    assert main(["train", "-f", str(params)]) == 0
    env = {key: value for key, value in os.environ.items() if key not in ENV_VARS}
    env.update(PYTHONPATH=str(PROJECT_ROOT), OMP_NUM_THREADS="1", MMOLRE_REPORTS_DIR=str(tmp_path / "ddp"))
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    launch += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    done = subprocess.run(
        [*launch, "-m", "mmolre", "train", "-f", str(params)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 runs on 2 process(es), global batch 16" in done.stdout
    tables = {
        name: pd.read_csv(tmp_path / name / "ddp_tiny" / "tables" / "baselines_runs.csv") for name in ("single", "ddp")
    }
    metrics = [c for c in tables["single"].columns if c not in ("model", "variant", "split")]
    pd.testing.assert_frame_equal(tables["ddp"][metrics], tables["single"][metrics], atol=1e-4, rtol=0.0)
