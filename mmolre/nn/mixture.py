"""The one mixture block: per task a router over ``N`` shared low-rank experts plus an optional task-specific
expert, in the form MLoRE's code gives its expert block by default (:class:`BlockForm`; every departure is a
switch). MMoLRE, its ablations and the MoE / MMoE / hard-sharing baselines are all configurations of it (see
:mod:`mmolre.models`); the experts are :class:`mmolre.nn.experts.LowRankExpert`, the routers
:class:`mmolre.nn.router.Router`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mmolre.nn.experts import LowRankExpert, SequenceConv
from mmolre.nn.router import Router


@dataclass(frozen=True)
class BlockForm:
    """The form of a mixture block; the defaults are MLoRE's expert block (``MOEBlock`` in
    ``models/transformers/MLoRE.py`` of YuqiYang213/MLoRE), each ``False`` an ablation of one element.

    - ``out_norm``: a LayerNorm on the routed expert sum, then LayerNorm + GELU after the mixture and no residual
      (MLoRE: ``bn_all`` and ``bn`` + GELU, lines 302-303 and 344-346). ``False``: our earlier residual form
      ``LayerNorm(x + mixture)``.
    - ``task_maps``: a per-task linear input map before the experts and output map after them (MLoRE: the 1x1
      ``conv1`` / ``conv3`` of each task, lines 298-299, 314 and 348).
    - ``task_scale``: the task-specific expert is scaled by one more output of the task's router (MLoRE:
      ``prob_mix``, lines 311, 319 and 344). ``False``: a sigmoid gate per position (ours, earlier).
    - ``static_shared``: a full-rank kernel-``k`` convolution shared by all tasks on the *detached* input, added to
      the mixture (MLoRE: ``share_conv``, lines 293 and 344).
    - ``sample_routing``: route once per sample on features pooled over the real steps (MLoRE: ``SpatialAtt``,
      lines 248-278). ``False``: a linear router per position.
    - ``learned_noise``: the router also outputs the std of the Gaussian noise on its logits, training only
      (MLoRE: lines 320-324). ``False``: a fixed std.
    - ``renormalise``: softmax over the top-k logits only (weights sum to 1). ``False``: softmax over all logits,
      then everything outside the top k set to zero, without renormalising (MLoRE with ``pre_softmax: False``, lines
      332-338, as in its PASCAL ViT-B and ViT-L configurations; its NYUD ones renormalise, lines 325-331).

    With ``sample_routing`` and a few experts, a router can settle on the same top k for every sample: measured on
    the planted synthetic data of ``tests/test_synthetic_recovery.py`` (4 experts, top 2, seed 1111), 5 of 12
    routers left two of the four experts at a mean test weight of 0.01 or less (two decimals), against 0 of 12 with
    per-position routing; test MAE 0.834 against 0.837.
    """

    out_norm: bool = True
    task_maps: bool = True
    task_scale: bool = True
    static_shared: bool = True
    sample_routing: bool = True
    learned_noise: bool = True
    renormalise: bool = False


OLD_BLOCK = BlockForm(
    out_norm=False,
    task_maps=False,
    task_scale=False,
    static_shared=False,
    sample_routing=False,
    learned_noise=False,
    renormalise=True,
)
"""Our block before the MLoRE form: ``LayerNorm(x + sum_i w_i E_i(x) + sigmoid(g(x)) S(x))``, per-token routing,
fixed noise, renormalised top-k."""


class TaskMixture(nn.Module):
    """Mixture block of ``N`` shared low-rank experts plus one task-specific expert per task.

    For task ``t`` with input ``x_t`` of shape ``(B, L, d)`` and the default :class:`BlockForm` (MLoRE's)::

        h_t = I_t(x_t)
        m_t = LN_t(sum_i w_{t,i} E_i(h_t)) + s_t S_t(h_t) + F(stopgrad(h_t))
        y_t = O_t(GELU(LN'_t(m_t)))

    - ``I_t`` / ``O_t``: per-task linear input / output maps; ``F``: full-rank kernel-``k`` convolution shared by
      all tasks, on the detached input; ``S_t``: task-specific expert of rank ``specific_rank``
      (``specific_rank=None`` drops it; ``shared_ranks=()`` drops the shared experts).
    - ``w_t`` and ``s_t``: outputs of the task's :class:`Router` (per sample on pooled features, or per position):
      ``N`` logits, with learned noise ``N`` noise stds, and the scale ``s_t`` of the task-specific expert. In
      training Gaussian noise (learned std, or fixed std ``router_noise``) is added to the logits; then a softmax
      keeps the ``top_k`` largest weights, the others set to zero without renormalising (``renormalise``: softmax
      over the top ``top_k`` logits only). ``top_k=None`` keeps all: a dense softmax gate. ``shared_router=True``
      uses one router for all tasks (classic MoE).
    - ``form`` switches each element off (:class:`BlockForm`); :data:`OLD_BLOCK` gives our earlier block
      ``LayerNorm(x_t + sum_i w_{t,i} E_i(x_t) + sigmoid(g_t(x_t)) S_t(x_t))`` with a linear per-position router.
    - Experts are linear, so all of them are evaluated densely and the sparse weights are applied afterwards;
      when several tasks receive the very same tensor and there are no input maps, the shared experts run once.

    ``forward`` returns ``(outputs, aux_loss, routing)``; ``aux_loss`` is ``load_balance`` times the sum over
    routers of the squared coefficient of variation of the per-expert importance (total routing weight over the
    samples, or positions, of the batch), which is zero when every expert gets the same share; ``routing`` maps each
    task to its mean routing weight per shared expert in this forward (empty without shared experts).
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
        form: BlockForm = BlockForm(),
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
        self.form = form
        n_shared = len(shared_ranks)
        self.shared_experts = nn.ModuleList(
            LowRankExpert(dim, rank, kernel_size=kernel_size, dropout=dropout) for rank in shared_ranks
        )
        # router outputs: N logits (a single shared expert always gets weight 1), N noise stds, the task scale
        self.n_logits = n_shared if n_shared > 1 else 0
        self.n_noise = self.n_logits if form.learned_noise else 0
        self.scaled = specific_rank is not None and form.task_scale
        if shared_router and self.scaled:
            raise ValueError("a shared router (shared_router=True) cannot scale task-specific experts; use task_scale")
        width = self.n_logits + self.n_noise + int(self.scaled)
        router_names = ("all",) if shared_router else self.tasks
        self.routers = nn.ModuleDict(
            {t: Router(dim, width, form.sample_routing) for t in router_names} if width else {}
        )
        task_modules = lambda build: nn.ModuleDict({t: build() for t in self.tasks})  # noqa: E731
        if specific_rank is None:
            self.specific_experts = nn.ModuleDict()
        else:
            self.specific_experts = task_modules(
                lambda: LowRankExpert(dim, specific_rank, kernel_size=kernel_size, dropout=dropout)
            )
        self.gates = task_modules(lambda: nn.Linear(dim, 1)) if specific_rank is not None and not self.scaled else None
        self.in_maps = task_modules(lambda: nn.Linear(dim, dim)) if form.task_maps else None
        self.out_maps = task_modules(lambda: nn.Linear(dim, dim)) if form.task_maps else None
        self.static = SequenceConv(dim, dim, kernel_size) if form.static_shared else None
        norms = {}
        if form.out_norm:
            if n_shared:
                norms["experts"] = task_modules(lambda: nn.LayerNorm(dim))
            norms["out"] = task_modules(lambda: nn.LayerNorm(dim))
        else:
            norms["residual"] = task_modules(lambda: nn.LayerNorm(dim))
        self.norms = nn.ModuleDict(norms)

    @property
    def n_shared(self) -> int:
        return len(self.shared_experts)

    def _router_outputs(
        self, task: str, h: torch.Tensor, positions: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Routing weights ``(B, N)`` per sample or ``(B, L, N)`` per position (all ones with one shared expert,
        ``None`` without any) and the scale of the task-specific expert (``None`` unless ``task_scale``), for the
        (input-mapped) block input ``h``."""
        raw = self.routers["all" if self.shared_router else task](h, positions) if self.routers else None
        scale = raw[..., -1:] if self.scaled else None
        if not self.n_logits:
            if not self.n_shared:
                return None, scale
            return h.new_ones((h.shape[0], 1) if self.form.sample_routing else (*h.shape[:2], 1)), scale
        logits = raw[..., : self.n_logits]
        if self.training:
            std = raw[..., self.n_logits : self.n_logits + self.n_noise] if self.n_noise else self.router_noise
            if self.n_noise or self.router_noise > 0:
                logits = logits + torch.randn_like(logits) * std
        if self.top_k is None or self.top_k >= self.n_logits:
            return logits.softmax(dim=-1), scale
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(self.top_k, dim=-1).indices, True)
        if self.form.renormalise:
            return logits.masked_fill(~keep, float("-inf")).softmax(dim=-1), scale
        return logits.softmax(dim=-1) * keep, scale

    def route(self, task: str, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Routing weights of ``task`` for the block input ``x`` (B, L, d): ``(B, N)`` per sample or ``(B, L, N)``
        per position."""
        if not self.n_shared:
            raise ValueError("a mixture without shared experts has no routing weights")
        h = self.in_maps[task](x) if self.in_maps is not None else x
        return self._router_outputs(task, h, positions)[0]

    def _balance(self, weights: torch.Tensor) -> torch.Tensor:
        """Squared coefficient of variation of the per-expert importance over the given ``(rows, N)`` weights."""
        importance = weights.sum(dim=0)
        if importance.numel() < 2:
            return importance.new_zeros(())
        return importance.var(unbiased=False) / (importance.mean() ** 2 + 1e-9)

    def forward(
        self, inputs: dict[str, torch.Tensor], positions: torch.Tensor | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Map ``{task: (B, L, d)}`` to ``{task: (B, L, d)}``, the load-balance loss and the routing weights.

        ``positions`` (B, L) marks real steps: padding is zeroed before the experts (so a temporal kernel never
        reads it), gets zero output, and counts neither in the pooled router input, nor in the routing statistics,
        nor in the load balance.
        """
        if set(inputs) != set(self.tasks):
            raise ValueError(f"mixture expects inputs for tasks {self.tasks}, got {tuple(inputs)}")
        for task, x in inputs.items():
            if x.ndim != 3 or x.shape[-1] != self.dim:
                raise ValueError(f"mixture input for {task!r} must be (B, L, {self.dim}), got {tuple(x.shape)}")
        keep = None if positions is None else positions.to(inputs[self.tasks[0]].dtype).unsqueeze(-1)
        if keep is not None:  # mask each distinct tensor once, so tasks that share an input still share experts
            masked: dict[int, torch.Tensor] = {}
            for x in inputs.values():
                masked.setdefault(id(x), x * keep)
            inputs = {task: masked[id(x)] for task, x in inputs.items()}
        aux = inputs[self.tasks[0]].new_zeros(())
        outputs: dict[str, torch.Tensor] = {}
        routing: dict[str, torch.Tensor] = {}
        expert_cache: dict[int | str, torch.Tensor] = {}
        for task in self.tasks:
            x = inputs[task]
            h = x
            if self.in_maps is not None:
                h = self.in_maps[task](x)
                h = h if keep is None else h * keep
            weights, scale = self._router_outputs(task, h, positions)
            out = torch.zeros_like(h)
            if self.n_shared:
                # keyed by the input tensor, which `inputs` keeps alive (a mapped h would free its id for reuse)
                key = id(x) if self.in_maps is None else task
                if key not in expert_cache:
                    expert_cache[key] = torch.stack([expert(h) for expert in self.shared_experts], dim=-1)
                share = weights.unsqueeze(-2) if weights.ndim == 3 else weights[:, None, None, :]
                routed = (expert_cache[key] * share).sum(dim=-1)
                out = out + (self.norms["experts"][task](routed) if "experts" in self.norms else routed)
                real = weights.reshape(-1, weights.shape[-1])
                if positions is not None:
                    real = real[positions.reshape(-1) if weights.ndim == 3 else positions.any(dim=1)]
                routing[task] = real.detach().mean(dim=0)
                aux = aux + self._balance(real)
            if task in self.specific_experts:
                if scale is None:
                    scale = torch.sigmoid(self.gates[task](h))
                elif scale.ndim == 2:
                    scale = scale.unsqueeze(1)
                out = out + scale * self.specific_experts[task](h)
            if self.static is not None:
                out = out + self.static(h.detach())
            if self.form.out_norm:
                out = F.gelu(self.norms["out"][task](out))
            if self.out_maps is not None:
                out = self.out_maps[task](out)
            if not self.form.out_norm:
                out = self.norms["residual"][task](x + out)
            outputs[task] = out if keep is None else out * keep
        return outputs, self.load_balance * aux, routing
