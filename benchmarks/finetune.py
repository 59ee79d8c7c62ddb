"""Frozen against fine-tuned text encoders on CMU-MOSI (official folds, text + real audio): accuracy against wall
time for frozen sentence vectors, frozen token states, fine-tuning with the lower 5, 3 or 0 of 6 MiniLM layers
frozen (and cached), and LoRA fine-tuning of every layer through peft.

Usage: ``MMOLRE_DATA_DIR=... python benchmarks/finetune.py [--quick] [--seeds 1111 ...] [--epochs 4]``. Writes
``finetune_mosi{_quick}`` tables and a figure with ``Reporter(profile="benchmarks")``. Every setting trains MMoLRE
with the same width, schedule and seeds; wall times are measured on this machine with one torch thread (another
job may share the CPU, so treat times as indicative).
"""

from __future__ import annotations

import argparse

import torch

from mmolre.models import ModelConfig
from mmolre.protocols.encoders import ENCODER_SETTINGS, compare_encoders
from mmolre.protocols.summary import summarize
from mmolre.report import Reporter
from mmolre.report.plots import plot_encoder_comparison
from mmolre.train import TrainConfig

MODEL = ModelConfig(dim=128, n_shared=4, shared_ranks=(8, 16, 32, 64), specific_rank=32)
METRICS = ["acc2_non0", "f1_non0", "acc2_has0", "acc7", "mae", "corr", "seconds_per_epoch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch, the 5-frozen and frozen settings only")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = [ENCODER_SETTINGS[0], ENCODER_SETTINGS[2]] if args.quick else list(ENCODER_SETTINGS)
    train = TrainConfig(
        epochs=1 if args.quick else args.epochs,
        batch_size=32,
        lr=1e-3,
        encoder_lr=5e-5,
        lr_schedule="linear",
        warmup_ratio=0.1,
        patience=0,
        num_threads=1,
    )
    runs = compare_encoders("mosi", settings, MODEL, train, args.seeds, dataset_options={"max_tokens": 64})
    suffix = "_quick" if args.quick else ""
    reporter = Reporter(profile="benchmarks")
    reporter.table(runs, f"finetune_mosi_runs{suffix}")
    summary = summarize(runs, by=["encoder"], metrics=METRICS, split="test")
    reporter.table(summary, f"finetune_mosi{suffix}")
    reporter.figure(plot_encoder_comparison(runs), f"finetune_mosi{suffix}")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
