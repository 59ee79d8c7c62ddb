"""Routing weights of a trained model over a split, from the ``routing`` of each forward's ModelOutput."""

from __future__ import annotations

import pandas as pd
import torch

from mmolre.data.dataset import MultimodalDataset
from mmolre.models.base import AffectModel, eval_mode, model_device, to_device


def routing_table(
    model: AffectModel, dataset: MultimodalDataset, split: str = "test", batch_size: int = 512
) -> pd.DataFrame:
    """Mean router weight per (router, expert) over a split, weighting each batch by its size.

    Columns: ``router`` (e.g. ``text/block1/sentiment``), ``expert``, ``weight``; empty when the model has no
    router.
    """
    sums: dict[str, torch.Tensor] = {}
    total = 0
    device = model_device(model)
    with eval_mode(model):
        for batch in dataset.loader(split, batch_size=batch_size):
            size = len(batch["mask"])
            for router, weights in model(to_device(batch, device)).routing.items():
                sums[router] = sums.get(router, 0) + weights.float().cpu() * size
            total += size
    rows = [
        {"router": router, "expert": i, "weight": float(w)}
        for router, value in sums.items()
        for i, w in enumerate(value / total)
    ]
    return pd.DataFrame(rows, columns=["router", "expert", "weight"])
