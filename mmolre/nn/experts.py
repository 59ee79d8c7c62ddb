"""The one expert layer used by every mixture model (MMoLRE experts, full-rank MoE / MMoE baselines).

An expert maps ``(..., L, d_in)`` to ``(..., L, d_out)`` through a rank-``r`` bottleneck: a 1-D convolution
with kernel ``k`` over the sequence from ``d_in`` down to ``r`` (factor ``A``), then a position-wise map from ``r``
up to ``d_out`` (factor ``B``). With ``r == d`` it is the full-rank expert of the same shape. Both factors are
registered ``nn.Parameter`` objects. (The LoRA adapter of a linear layer is :class:`mmolre.nn.lora.LoRA`.)

:class:`TaskMixture` is the one mixture layer built from these experts: per task a router over ``N`` shared
experts plus an optional gated task-specific expert. MMoLRE, its ablations and the MoE / MMoE baselines are
all configurations of it (see :mod:`mmolre.models`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class LowRankExpert(nn.Module):
    """Rank-``rank`` bottleneck expert ``x -> B(A * x)`` (``*``: convolution over the sequence) with optional
    dropout on its input; both factors start random (Kaiming uniform), as mixture-of-experts members do."""

    def __init__(
        self,
        in_dim: int,
        rank: int,
        out_dim: int | None = None,
        kernel_size: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        out_dim = in_dim if out_dim is None else out_dim
        if min(in_dim, out_dim, rank) < 1:
            raise ValueError(f"in_dim, out_dim and rank must be >= 1, got {in_dim}, {out_dim}, {rank}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.in_dim, self.out_dim, self.rank, self.kernel_size = in_dim, out_dim, rank, kernel_size
        self.A = nn.Parameter(torch.empty(rank, in_dim, kernel_size))
        self.B = nn.Parameter(torch.empty(out_dim, rank))
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.B, a=math.sqrt(5))

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> r={self.rank} -> {self.out_dim}, kernel={self.kernel_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"expert expects last dimension {self.in_dim}, got input of shape {tuple(x.shape)}")
        x = self.dropout(x)
        if self.kernel_size == 1:
            hidden = x @ self.A[:, :, 0].T
        else:
            if x.ndim < 2:
                raise ValueError(f"a kernel-{self.kernel_size} expert needs (..., L, d) input, got {tuple(x.shape)}")
            lead, length = x.shape[:-2], x.shape[-2]
            flat = x.reshape(-1, length, self.in_dim).transpose(1, 2)
            hidden = (
                F.conv1d(flat, self.A, padding=self.kernel_size // 2).transpose(1, 2).reshape(*lead, length, self.rank)
            )
        return hidden @ self.B.T

    def flops_per_token(self) -> int:
        """Multiply-accumulate count per sequence position (one MAC = 2 FLOPs)."""
        return 2 * (self.rank * self.in_dim * self.kernel_size + self.out_dim * self.rank)


class TaskMixture(nn.Module):
    """Mixture of ``N`` shared low-rank experts plus one gated task-specific expert per task.

    For task ``t`` with input ``x_t`` of shape ``(B, L, d)``, at every position::

        y_t = sum_i w_{t,i}(x_t) * E_i(x_t) + g_t(x_t) * S_t(x_t)

    - ``w_t``: router of task ``t`` (a linear map ``d -> N``) followed by a noisy top-k softmax: Gaussian noise
      of std ``router_noise`` is added to the logits in training only, all but the ``top_k`` largest logits are
      dropped, the rest are softmax-normalised (``top_k=None`` keeps all: a dense softmax gate).
      ``shared_router=True`` uses one router for all tasks (classic MoE).
    - ``S_t``: task-specific expert of rank ``specific_rank`` with a learned per-position sigmoid gate ``g_t``
      (``specific_rank=None`` drops it; ``shared_ranks=()`` drops the shared experts).
    - Experts are linear, so all of them are evaluated densely and the sparse weights are applied afterwards;
      when several tasks receive the very same tensor, the shared experts run on it once.

    ``forward`` returns ``(outputs, aux_loss, routing)``; ``aux_loss`` is ``load_balance`` times the sum over
    routers of the squared coefficient of variation of the per-expert importance (total routing weight in the
    batch), which is zero when every expert gets the same share; ``routing`` maps each task to its mean routing
    weight per shared expert in this forward (empty without shared experts).
    """

    def __init__(
        self,
        dim: int,
        tasks: Sequence[str],
        shared_ranks: Sequence[int],
        specific_rank: int | None,
        top_k: int | None = None,
        router_noise: float = 0.0,
        load_balance: float = 0.0,
        kernel_size: int = 3,
        dropout: float = 0.0,
        shared_router: bool = False,
    ) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be a non-empty sequence of distinct names, got {tasks!r}")
        if not shared_ranks and specific_rank is None:
            raise ValueError("a mixture needs shared experts (shared_ranks) or a task-specific expert (specific_rank)")
        if top_k is not None and not 1 <= top_k:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        if router_noise < 0 or load_balance < 0:
            raise ValueError(f"router_noise and load_balance must be >= 0, got {router_noise}, {load_balance}")
        self.dim = dim
        self.top_k = top_k
        self.router_noise = router_noise
        self.load_balance = load_balance
        self.shared_router = shared_router
        n_shared = len(shared_ranks)
        self.shared_experts = nn.ModuleList(
            LowRankExpert(dim, rank, kernel_size=kernel_size, dropout=dropout) for rank in shared_ranks
        )
        router_names = ("all",) if shared_router else self.tasks
        # A single shared expert always gets weight 1, so it needs no router.
        self.routers = nn.ModuleDict({t: nn.Linear(dim, n_shared) for t in router_names} if n_shared > 1 else {})
        if specific_rank is None:
            self.specific_experts = nn.ModuleDict()
            self.gates = nn.ModuleDict()
        else:
            self.specific_experts = nn.ModuleDict(
                {t: LowRankExpert(dim, specific_rank, kernel_size=kernel_size, dropout=dropout) for t in self.tasks}
            )
            self.gates = nn.ModuleDict({t: nn.Linear(dim, 1) for t in self.tasks})

    @property
    def n_shared(self) -> int:
        return len(self.shared_experts)

    def _route(self, task: str, x: torch.Tensor) -> torch.Tensor:
        """Routing weights ``(B, L, N)`` of ``task`` for input ``x``; each position sums to 1."""
        if not self.routers:
            return x.new_ones(*x.shape[:-1], self.n_shared)
        logits = self.routers["all" if self.shared_router else task](x)
        if self.training and self.router_noise > 0:
            logits = logits + self.router_noise * torch.randn_like(logits)
        if self.top_k is not None and self.top_k < self.n_shared:
            kth = logits.topk(self.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return logits.softmax(dim=-1)

    def _balance(self, weights: torch.Tensor) -> torch.Tensor:
        """Squared coefficient of variation of the per-expert importance over the given ``(positions, N)`` weights."""
        importance = weights.sum(dim=0)
        if importance.numel() < 2:
            return importance.new_zeros(())
        return importance.var(unbiased=False) / (importance.mean() ** 2 + 1e-9)

    def forward(
        self, inputs: dict[str, torch.Tensor], positions: torch.Tensor | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Map ``{task: (B, L, d)}`` to ``{task: (B, L, d)}``, the load-balance loss and the routing weights.

        ``positions`` (B, L) marks real steps: padding is zeroed before the experts (so a temporal kernel never
        reads it), gets zero output, and counts neither in the routing statistics nor in the load balance.
        """
        if set(inputs) != set(self.tasks):
            raise ValueError(f"mixture expects inputs for tasks {self.tasks}, got {tuple(inputs)}")
        keep = None if positions is None else positions.to(inputs[self.tasks[0]].dtype).unsqueeze(-1)
        if keep is not None:  # mask each distinct tensor once, so tasks that share an input still share experts
            masked: dict[int, torch.Tensor] = {}
            for x in inputs.values():
                masked.setdefault(id(x), x * keep)
            inputs = {task: masked[id(x)] for task, x in inputs.items()}
        first = inputs[self.tasks[0]]
        aux = first.new_zeros(())
        outputs: dict[str, torch.Tensor] = {}
        routing: dict[str, torch.Tensor] = {}
        expert_cache: dict[int, torch.Tensor] = {}
        for task in self.tasks:
            x = inputs[task]
            if x.ndim != 3 or x.shape[-1] != self.dim:
                raise ValueError(f"mixture input for {task!r} must be (B, L, {self.dim}), got {tuple(x.shape)}")
            out = torch.zeros_like(x)
            if self.n_shared:
                if id(x) not in expert_cache:
                    expert_cache[id(x)] = torch.stack([expert(x) for expert in self.shared_experts], dim=-1)
                weights = self._route(task, x)
                out = out + (expert_cache[id(x)] * weights.unsqueeze(-2)).sum(dim=-1)
                real = weights.reshape(-1, self.n_shared)
                if positions is not None:
                    real = real[positions.reshape(-1)]
                routing[task] = real.detach().mean(dim=0)
                aux = aux + self._balance(real)
            if task in self.specific_experts:
                gate = torch.sigmoid(self.gates[task](x))
                out = out + gate * self.specific_experts[task](x)
            outputs[task] = out if keep is None else out * keep
        return outputs, self.load_balance * aux, routing
