"""The configuration of the MMoLRE family (MMoLRE, its ablations and baselines, the linear head): widths, experts,
routing and the form of every mixture block; the architecture it configures is described in
:mod:`mmolre.models.mmolre`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from mmolre.config import StrictConfig
from mmolre.nn.mixture import BlockForm

Routing = Literal["sample", "token"]
"""Router granularity: once per sample on features pooled over the real steps, or at every position."""
ROUTING: tuple[str, ...] = get_args(Routing)


@dataclass
class ModelConfig(StrictConfig):
    """Model hyper-parameters; the defaults are a tiny quick configuration for synthetic runs."""

    dim: int = 32  # width every modality is projected to
    n_shared: int = 4  # number of shared experts per mixture block
    shared_ranks: tuple[int, ...] = (4, 8)  # ranks of the shared experts, cycled over the n_shared experts
    specific_rank: int | None = 8  # rank of each task-specific expert (None: no task-specific expert)
    top_k: int | None = 2  # shared experts kept by each router (None: dense softmax)
    router_noise: float = 1.0  # std of the router noise in training when learned_noise is False
    blocks: int = 2  # mixture blocks per UniTSE stage (1 or 2)
    dropout: float = 0.1  # dropout on expert inputs and in the heads
    load_balance: float = 3e-4  # coefficient of the load-balance auxiliary loss (MLoRE's configs: 1e-4 to 5e-4)
    # The block's form (mmolre.nn.mixture.BlockForm): the defaults are MLoRE's, each switch an ablation
    out_norm: bool = True  # norm on the routed sum, norm + GELU after the mixture (False: LayerNorm(x + mixture))
    task_maps: bool = True  # per-task linear input and output maps around the experts
    task_scale: bool = True  # the task expert is scaled by a router output (False: a sigmoid gate per position)
    static_shared: bool = True  # full-rank static shared convolution on the detached input
    routing: Routing = "sample"  # "sample": route per sample on pooled features; "token": per position
    learned_noise: bool = True  # the router learns its noise std (False: fixed std router_noise)
    renormalise_topk: bool = False  # renormalise the kept top-k weights to sum 1 (False: zero the rest, as MLoRE)
    kernel_size: int = 3  # temporal kernel of the expert's down-projection
    encoder_lora_rank: int = 0  # with a fine-tuned text encoder: 0 = full fine-tuning, r > 0 = LoRA (peft) of rank r
    encoder_lora_alpha: float | None = None  # LoRA alpha of the text encoder (None: = rank)

    def __post_init__(self) -> None:
        self.shared_ranks = tuple(int(r) for r in self.shared_ranks)
        problems = []
        if self.dim < 1:
            problems.append(f"dim must be >= 1, got {self.dim}")
        if self.n_shared < 0:
            problems.append(f"n_shared must be >= 0, got {self.n_shared}")
        if self.n_shared and not self.shared_ranks:
            problems.append("shared_ranks must not be empty when n_shared > 0")
        if any(not 1 <= r <= self.dim for r in self.shared_ranks):
            problems.append(f"shared_ranks {self.shared_ranks} must lie in [1, dim={self.dim}]")
        if self.specific_rank is not None and not 1 <= self.specific_rank <= self.dim:
            problems.append(f"specific_rank must lie in [1, dim={self.dim}] or be None, got {self.specific_rank}")
        if self.top_k is not None and self.top_k < 1:
            problems.append(f"top_k must be >= 1 or None, got {self.top_k}")
        if self.blocks not in (1, 2):
            problems.append(f"blocks must be 1 or 2, got {self.blocks}")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.encoder_lora_rank < 0:
            problems.append(f"encoder_lora_rank must be >= 0, got {self.encoder_lora_rank}")
        if self.router_noise < 0 or self.load_balance < 0:
            problems.append("router_noise and load_balance must be >= 0")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            problems.append(f"kernel_size must be a positive odd number, got {self.kernel_size}")
        if self.routing not in ROUTING:
            problems.append(f"routing must be one of {ROUTING}, got {self.routing!r}")
        if problems:
            raise ValueError("ModelConfig: " + "; ".join(problems))

    def block_form(self) -> BlockForm:
        """The form of every mixture block built from this configuration."""
        return BlockForm(
            out_norm=self.out_norm,
            task_maps=self.task_maps,
            task_scale=self.task_scale,
            static_shared=self.static_shared,
            sample_routing=self.routing == "sample",
            learned_noise=self.learned_noise,
            renormalise=self.renormalise_topk,
        )

    def ranks(self) -> tuple[int, ...]:
        """The rank of each of the ``n_shared`` shared experts."""
        if not self.n_shared:
            return ()
        return tuple(self.shared_ranks[i % len(self.shared_ranks)] for i in range(self.n_shared))
