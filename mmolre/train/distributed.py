"""Data-parallel training over several processes (``torchrun``): DistributedDataParallel on the training loop.

Sharding: every process iterates the same seeded training loader, so each step sees the same *global* batch of
``TrainConfig.batch_size`` samples (after the ``batch_hook``, which draws from the same generator everywhere);
process ``r`` of ``W`` keeps rows ``r, r + W, r + 2W, ...`` of it, so ``batch_size`` is the global batch and each
process holds about ``batch_size / W`` rows. DDP averages the gradients over the processes; each process scales
its loss by ``W * n_r / n`` (``n_r`` of the ``n`` rows of the global batch are its own), so the averaged gradient
is the gradient of the mean loss over the global batch even when the last batch does not divide evenly. A
process whose share of a short last batch is empty runs the batch's first row (which rank 0 trains, so it reaches
no parameter the batch does not) with weight zero, so that every process takes part in every gradient reduction.
Dropout, router noise and the load-balance loss act on each process's rows, so only a configuration without them
reproduces a single-process run exactly (up to float summation order).

Validation and test are evaluated on every process with the same (synchronised) weights over the whole split;
the valid loss of rank 0 is broadcast so every process makes the same selection and early-stopping decision.
Only rank 0 writes checkpoints and reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
"""What ``torchrun`` sets for every process it starts."""


@dataclass(frozen=True)
class Distributed:
    """This process's place in an initialised process group and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints and reports."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> DistributedDataParallel:
        """The model wrapped for gradient averaging (parameters unused in a step are allowed: routers, masks)."""
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True)

    def shard(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], float]:
        """This process's rows of a global batch and its loss weight ``W * n_r / n`` (see the module docstring)."""
        size = len(next(iter(batch.values())))  # every entry has the batch on axis 0 (labels differ by task)
        if self.rank >= size:  # a short last batch: take part in the reduction with a zero-weight row
            return {key: value[:1] for key, value in batch.items()}, 0.0
        rows = torch.arange(self.rank, size, self.world_size)
        return {key: value[rows] for key, value in batch.items()}, self.world_size * len(rows) / size

    def all_sum(self, *values: float) -> list[float]:
        """Each value summed over the processes."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def from_main(self, value: float) -> float:
        """Rank 0's value on every process."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self._comm_device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def barrier(self) -> None:
        dist.barrier(device_ids=[self.device.index]) if self.device.type == "cuda" else dist.barrier()

    @property
    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


def launched_by_torchrun() -> bool:
    """Whether the torchrun environment variables are set (``WORLD_SIZE`` and the rest)."""
    return "WORLD_SIZE" in os.environ


def init_distributed(device: str = "auto") -> Distributed:
    """Join the process group described by the torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``): nccl with one GPU per process (``cuda:LOCAL_RANK``) when CUDA is used, else
    gloo on CPU. ``device`` is ``TrainConfig.device`` (``auto``: CUDA when available)."""
    missing = [name for name in ENV_VARS if name not in os.environ]
    if missing:
        raise ValueError(f"distributed training needs the torchrun environment variables; missing {missing}")
    try:
        rank, world_size, local_rank = (int(os.environ[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError as error:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {error}") from None
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s) visible")
        target = torch.device("cuda", local_rank)
        torch.cuda.set_device(target)
    else:
        target = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    return Distributed(rank, world_size, target)


def shutdown(context: Distributed | None) -> None:
    """Leave the process group (after a barrier, so no process exits while others still communicate)."""
    if context is not None and dist.is_initialized():
        context.barrier()
        dist.destroy_process_group()
