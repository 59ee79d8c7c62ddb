"""Efficiency of the MMoLRE mixture layer: low-rank experts vs the same layer with full-rank experts.

Usage: ``python benchmarks/efficiency.py [--quick]``. Writes tables and figures with
``Reporter(profile="benchmarks")`` (names end in ``_quick`` for ``--quick``).

Sweep 1 (expert count): width ``d`` fixed, ``N`` shared experts for N in 1..32; low-rank shared ranks cycle over
``RANKS`` (the paper's 16..128 at d=768, scaled to d) and the task-specific rank is ``SPECIFIC_RANK``; the full-rank
layer has every rank equal to ``d``. Sweep 2 (width): ``N`` fixed, the same low ranks, ``d`` varies.

Per configuration (two tasks, distinct inputs per task, sequence length ``SEQ_LEN``):
- parameters: trainable parameters of the layer;
- FLOPs per sample: one forward pass of one sample measured with ``torch.utils.flop_counter.FlopCounterMode``
  (matmuls and convolutions, routers and gates included, all experts evaluated);
- samples/s: Adam training steps (forward, backward, update) on CPU with one thread, timed after warm-up; the
  machine may be shared, so throughput is indicative only;
- peak memory: the peak of tensor allocations during one forward + backward recorded by ``torch.profiler``
  (``profile_memory=True``, allocations minus frees in time order), plus parameters and gradients (float32).
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from mmolre.models import count_parameters
from mmolre.nn import TaskMixture
from mmolre.report import Reporter
from mmolre.report.plots import plot_efficiency
from mmolre.tasks import TASKS

WIDTH = 128
SEQ_LEN = 20
RANKS = (4, 8, 16, 24)
SPECIFIC_RANK = 16
TOP_K = 2


def _mixture(dim: int, n_experts: int, full: bool) -> TaskMixture:
    ranks = tuple(dim if full else RANKS[i % len(RANKS)] for i in range(n_experts))
    return TaskMixture(
        dim, TASKS, ranks, dim if full else SPECIFIC_RANK, top_k=TOP_K, router_noise=1.0, load_balance=0.01
    )


def _inputs(batch_size: int, dim: int) -> dict[str, torch.Tensor]:
    return {task: torch.randn(batch_size, SEQ_LEN, dim) for task in TASKS}


def _loss(layer: TaskMixture, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    outputs, aux, _ = layer(inputs)
    return sum(y.pow(2).mean() for y in outputs.values()) + aux


def _flops(layer: TaskMixture, dim: int) -> int:
    counter = FlopCounterMode(display=False)
    layer.eval()
    with torch.no_grad(), counter:
        layer(_inputs(1, dim))
    layer.train()
    return counter.get_total_flops()


def _peak_memory_mb(layer: TaskMixture, inputs: dict[str, torch.Tensor]) -> float:
    _loss(layer, inputs).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            _loss(layer, inputs).backward()
    current = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    layer.zero_grad(set_to_none=True)
    return (peak + 2 * 4 * count_parameters(layer)) / 2**20


def _samples_per_s(layer: TaskMixture, inputs: dict[str, torch.Tensor], warmup: int, steps: int) -> float:
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    for index in range(warmup + steps):
        if index == warmup:
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        _loss(layer, inputs).backward()
        optimizer.step()
    return steps * next(iter(inputs.values())).shape[0] / (time.perf_counter() - start)


def measure(dim: int, n_experts: int, full: bool, batch_size: int, warmup: int, steps: int) -> dict[str, object]:
    """All four costs of one mixture configuration."""
    torch.manual_seed(0)
    layer = _mixture(dim, n_experts, full)
    inputs = _inputs(batch_size, dim)
    return {
        "experts": "full-rank" if full else "low-rank",
        "width": dim,
        "n_experts": n_experts,
        "mean_rank": sum(e.rank for e in layer.shared_experts) / n_experts,
        "parameters": count_parameters(layer),
        "flops_per_sample": _flops(layer, dim),
        "samples_per_s": _samples_per_s(layer, inputs, warmup, steps),
        "peak_memory_mb": _peak_memory_mb(layer, inputs),
    }


def ratios(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Low-rank / full-rank ratio of every cost, one row per value of ``by``."""
    costs = ["parameters", "flops_per_sample", "samples_per_s", "peak_memory_mb"]
    low = table[table["experts"] == "low-rank"].set_index(by)[costs]
    full = table[table["experts"] == "full-rank"].set_index(by)[costs]
    return (low / full).add_suffix("_low_over_full").reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two expert counts, two widths, few steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    counts = (1, 4) if args.quick else (1, 2, 4, 8, 16, 32)
    widths = (64, 128) if args.quick else (64, 128, 256, 512)
    warmup, steps = (1, 2) if args.quick else (2, 5)
    suffix = "_quick" if args.quick else ""
    reporter = Reporter(profile="benchmarks")

    experts = pd.DataFrame([measure(WIDTH, n, full, 32, warmup, steps) for n in counts for full in (False, True)])
    widths_table = pd.DataFrame([measure(d, 8, full, 16, warmup, steps) for d in widths for full in (False, True)])
    outputs = {
        "efficiency_experts": experts,
        "efficiency_experts_ratios": ratios(experts, "n_experts"),
        "efficiency_width": widths_table,
        "efficiency_width_ratios": ratios(widths_table, "width"),
    }
    for name, frame in outputs.items():
        reporter.table(frame, name + suffix)
        print(f"\n{name} (L={SEQ_LEN}, low ranks cycle {RANKS}, specific rank {SPECIFIC_RANK})")
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    reporter.figure(plot_efficiency(experts, x="n_experts"), "efficiency_experts" + suffix)
    reporter.figure(plot_efficiency(widths_table, x="width"), "efficiency_width" + suffix)


if __name__ == "__main__":
    main()
