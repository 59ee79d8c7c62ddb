"""What each CPU economy of a fine-tuned text encoder costs in accuracy and saves in time, on CMU-MOSI (official
folds, text only, the plain ``linear_head`` model: encoder + mean pooling + one linear map, L1 loss).

Settings: all-mpnet-base-v2 with the lower k of 12 layers frozen and their outputs cached (k = 0, 6, 9), bf16
autocast on CPU against fp32, length-bucketed batches against random ones, and all-MiniLM-L6-v2 for reference. Every
setting trains with the same schedule and seed; the epoch kept is chosen on the valid split only.

Usage: ``MMOLRE_DATA_DIR=... python benchmarks/encoder_cost.py [--epochs 3] [--threads 2] [--only LABEL ...]``
(``--redraw`` draws the figure again from the recorded runs).
Writes ``encoder_cost_runs`` (one row per setting and seed), ``encoder_cost`` (test metrics and seconds per epoch)
and a figure with ``Reporter(profile="benchmarks")``. Wall times depend on what else runs on the machine.

``--steps N`` instead times N training steps (forward, backward, optimiser) of every setting, the settings taking
turns ``--rounds`` times, so that a machine shared with other jobs slows each of them alike; writes
``encoder_cost_steps`` (median seconds per step and the ratio to the first setting).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
import torch.nn.functional as F

from mmolre.data.load import load_dataset
from mmolre.models import ModelConfig, build_model
from mmolre.models.base import to_model
from mmolre.paths import profile_root
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


def time_steps(settings: list[dict[str, object]], steps: int, rounds: int, batch_size: int) -> pd.DataFrame:
    """Median seconds per training step of each setting over ``rounds`` turns of ``steps`` steps each."""
    cases = []
    for setting in settings:
        options = {k: setting[k] for k in ("encoder", "freeze_layers") if k in setting}
        data = load_dataset("mosi", text_kind="finetune", max_tokens=64, audio=False, **options)
        model = build_model("linear_head", data.dims, data.tasks, ModelConfig(), data.text_input).train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        bucket = bool(setting.get("bucket_by_length", False))
        loader = data.loader("train", batch_size, shuffle=True, seed=1111, bucket_by_length=bucket)
        dtype = torch.bfloat16 if setting.get("precision") == "bf16" else None
        cases.append((str(setting["label"]), model, optimizer, loader, dtype, iter(loader), []))
    for _ in range(rounds):
        for index, (label, model, optimizer, loader, dtype, batches, times) in enumerate(cases):
            start = time.perf_counter()
            for _ in range(steps):
                batch = next(batches, None)
                if batch is None:
                    batches = iter(loader)
                    batch = next(batches)
                batch = to_model(batch, model)
                with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                    output = model(batch).predictions["sentiment"]
                loss = F.l1_loss(output.float(), batch["sentiment"])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            times.append((time.perf_counter() - start) / steps)
            cases[index] = (label, model, optimizer, loader, dtype, batches, times)
    medians = {label: float(pd.Series(times).median()) for label, *_, times in cases}
    first = next(iter(medians.values()))
    return pd.DataFrame(
        [{"setting": k, "seconds_per_step": v, "relative_to_first": v / first} for k, v in medians.items()]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--only",
        nargs="+",
        help="labels of the settings to run (default: all); rows of other settings recorded earlier are kept",
    )
    parser.add_argument("--steps", type=int, default=0, help="time this many training steps per turn instead")
    parser.add_argument("--rounds", type=int, default=5, help="turns of --steps steps per setting")
    parser.add_argument("--redraw", action="store_true", help="only draw the figure again from the recorded runs")
    args = parser.parse_args()
    reporter = Reporter(profile="benchmarks")
    recorded = profile_root("benchmarks") / "tables" / "encoder_cost_runs.csv"  # the committed rows, never staging
    if args.redraw:
        reporter.figure(plot_encoder_comparison(pd.read_csv(recorded)), "encoder_cost")
        return
    torch.set_num_threads(args.threads)
    settings = [s for s in SETTINGS if not args.only or s["label"] in args.only]
    if args.steps:
        steps = time_steps(settings, args.steps, args.rounds, batch_size=16)
        reporter.table(steps, "encoder_cost_steps")
        print(steps.to_string(index=False))
        return
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
    frames = []
    if args.only and recorded.is_file():  # keep the settings recorded earlier that this run does not redo
        earlier = pd.read_csv(recorded)
        frames.append(earlier[~earlier["encoder"].isin(args.only)])
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
