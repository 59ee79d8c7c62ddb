"""Routing weights of a trained model: means over a split (from each forward's ModelOutput) and per position."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.models.base import AffectModel, eval_mode, to_model
from mmolre.nn.mixture import TaskMixture


def routing_table(
    model: AffectModel, dataset: MultimodalDataset, split: str = "test", batch_size: int = 512
) -> pd.DataFrame:
    """Mean router weight per (router, expert) over a split, weighting each batch by its size.

    Columns: ``router`` (e.g. ``text/block1/sentiment``), ``expert``, ``weight``; empty when the model has no
    router.
    """
    sums: dict[str, torch.Tensor] = {}
    total = 0
    with eval_mode(model):
        for batch in dataset.loader(split, batch_size=batch_size):
            size = len(batch["mask"])
            for router, weights in model(to_model(batch, model)).routing.items():
                sums[router] = sums.get(router, 0) + weights.float().cpu() * size
            total += size
    rows = [
        {"router": router, "expert": i, "weight": float(w)}
        for router, value in sums.items()
        for i, w in enumerate(value / total)
    ]
    return pd.DataFrame(rows, columns=["router", "expert", "weight"])


def token_routing(model: AffectModel, batch: dict[str, torch.Tensor], sample: int = 0) -> pd.DataFrame:
    """Routing weights at every real position of one sample of ``batch``: each mixture's task routers applied to
    that mixture's input in evaluation mode (no router noise). A router per sample gives the same weights at
    every position.

    Columns: ``router`` (``<modality>/block<i>/<task>``), ``position``, ``expert``, ``weight``.
    """
    captured: dict[str, tuple[TaskMixture, dict[str, torch.Tensor], torch.Tensor | None]] = {}
    handles = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if isinstance(module, TaskMixture) and module.n_shared and parts[0] == "stages":
            key = f"{parts[1]}/block{int(parts[-1]) + 1}"

            def hook(module: nn.Module, args: tuple, key: str = key) -> None:
                captured[key] = (module, args[0], args[1] if len(args) > 1 else None)

            handles.append(module.register_forward_pre_hook(hook))
    try:
        with eval_mode(model):
            model(to_model(batch, model))
            rows = []
            for key, (mixture, inputs, positions) in captured.items():
                for task, x in inputs.items():
                    real = None if positions is None else positions[sample : sample + 1]
                    weights = mixture.route(task, x[sample : sample + 1], real)[0]
                    steps = int(positions[sample].sum()) if positions is not None else x.shape[1]
                    if weights.ndim == 1:  # one weight vector per sample
                        weights = weights.expand(steps, -1)
                    rows.extend(
                        {"router": f"{key}/{task}", "position": p, "expert": e, "weight": float(weights[p, e])}
                        for p in range(steps)
                        for e in range(weights.shape[-1])
                    )
    finally:
        for handle in handles:
            handle.remove()
    return pd.DataFrame(rows, columns=["router", "position", "expert", "weight"])
