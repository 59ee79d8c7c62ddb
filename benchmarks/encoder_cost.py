"""What each CPU economy of a fine-tuned text encoder costs in accuracy and saves in time, on CMU-MOSI (official
folds, text only, the plain ``linear_head`` model: encoder + mean pooling + one linear map, L1 loss).

Settings: all-mpnet-base-v2 with the lower k of 12 layers frozen and their outputs cached (k = 0, 6, 9), bf16
autocast on CPU against fp32, length-bucketed batches against random ones, and all-MiniLM-L6-v2 for reference. Every
setting trains with the same schedule and seed; the epoch kept is chosen on the valid split only.

Usage: ``MMOLRE_DATA_DIR=... python benchmarks/encoder_cost.py [--epochs 3] [--threads 2] [--only LABEL ...]``.
Writes ``encoder_cost_runs`` (one row per setting and seed), ``encoder_cost`` (test metrics and seconds per epoch)
and a figure with ``Reporter(profile="benchmarks")``. Wall times depend on what else runs on the machine: compare
settings measured in one sitting.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from mmolre.models import ModelConfig
from mmolre.protocols.encoders import compare_encoders
from mmolre.protocols.summary import summarize
from mmolre.report import Reporter
from mmolre.report.plots import plot_encoder_comparison
from mmolre.train import TrainConfig

SETTINGS: tuple[dict[str, object], ...] = (
    {"label": "mpnet, 9 of 12 frozen", "encoder": "mpnet", "freeze_layers": 9},
    {"label": "mpnet, 6 of 12 frozen", "encoder": "mpnet", "freeze_layers": 6},
    {"label": "mpnet, 9 frozen, bucketed", "encoder": "mpnet", "freeze_layers": 9, "bucket_by_length": True},
    {"label": "mpnet, 9 frozen, bf16", "encoder": "mpnet", "freeze_layers": 9, "precision": "bf16"},
    {"label": "MiniLM, all 6 layers", "encoder": "minilm", "freeze_layers": 0},
    {"label": "mpnet, all 12 layers", "encoder": "mpnet", "freeze_layers": 0},
)
"""In the order they run: the tables are rewritten after each setting, so an interrupted run keeps what finished."""
METRICS = ["acc2_non0", "f1_non0", "acc2_has0", "acc7", "mae", "corr", "seconds_per_epoch", "epochs_run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="+", help="labels of the settings to run (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = [s for s in SETTINGS if not args.only or s["label"] in args.only]
    train = TrainConfig(
        epochs=args.epochs,
        batch_size=16,
        lr=1e-3,
        encoder_lr=2e-5,
        lr_schedule="linear",
        warmup_ratio=0.1,
        patience=0,
        num_threads=args.threads,
    )
    options = {"text_kind": "finetune", "max_tokens": 64, "audio": False}
    reporter = Reporter(profile="benchmarks")
    frames = []
    for setting in settings:
        frames.append(
            compare_encoders("mosi", [setting], ModelConfig(), train, args.seeds, "linear_head", None, options)
        )
        runs = pd.concat(frames, ignore_index=True)
        reporter.table(runs, "encoder_cost_runs")
        summary = summarize(runs, by=["encoder"], metrics=METRICS, split="test")
        reporter.table(summary, "encoder_cost")
        print(summary.to_string(index=False), flush=True)
    reporter.figure(plot_encoder_comparison(runs), "encoder_cost")


if __name__ == "__main__":
    main()
