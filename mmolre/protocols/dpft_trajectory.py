"""DPFT's per-modality sampling probability over the epochs and how far it moved (its figure beside uniform draws:
:func:`mmolre.report.plots.plot_modality_trajectories`).

From the sampling histories of :func:`mmolre.protocols.incomplete_runs.run_incomplete` (one row per method, seed and
epoch; epoch 0 is before training), two quantities per modality:

- ``presence``: the probability that a training batch keeps the modality, the sum of the probabilities of the
  combinations that contain it. Every sampler has it (uniform draws over the seven combinations: 4/7 each), so
  DPFT and the uniform baseline are drawn on one axis.
- ``keep``: the ``dpft_js`` rule's own per-modality keep probability ``p_m`` (start 0.5, clipped to [0.4, 0.6]).

The model a run reports is the one of the epoch selected on the valid split (``best_epoch``, recorded beside every
history by :func:`mmolre.protocols.driver.run_experiment`): only the probabilities in force up to that epoch drew
its training batches (the rows of epochs ``0 .. best_epoch - 1``; row ``e`` is the state after epoch ``e``'s update),
so how far DPFT moved *by the selected epoch* is what can make its reported numbers differ from uniform draws.
"""

from __future__ import annotations

import pandas as pd

from mmolre.modalities import CONDITIONS, MODALITIES, combination_modalities
from mmolre.models.registry import METHODS

RUN_COLUMNS: tuple[str, ...] = ("method", "rank", "fold", "seed", "best_epoch", "epoch")
"""Columns of a sampling history that identify one run and epoch (``fold`` only with several folds; ``best_epoch``,
the epoch selected on valid, where recorded)."""
UNIFORM = "uniform draws"
"""The label of the uniform baseline in the figure and the tables."""


def modality_trajectories(sampling: pd.DataFrame) -> pd.DataFrame:
    """Long form: the run columns, ``modality``, ``quantity`` (``presence`` or ``keep``) and ``probability``; the
    methods with uniform draws are relabelled :data:`UNIFORM` and kept once (the first of them)."""
    if sampling.empty:
        return pd.DataFrame(columns=[*RUN_COLUMNS, "modality", "quantity", "probability"])
    uniform = [m for m in sampling["method"].unique() if METHODS.get(m) and METHODS[m].sampler == "uniform"]
    kept = sampling[~sampling["method"].isin(uniform[1:])].replace({"method": dict.fromkeys(uniform[:1], UNIFORM)})
    ids = [c for c in RUN_COLUMNS if c in kept.columns]
    combinations = [c for c in CONDITIONS if c in kept.columns]
    frames = []
    for m in MODALITIES:
        members = [c for c in combinations if m in combination_modalities(c)]
        if not members or kept[members].isna().all().all():
            continue
        presence = kept[members].fillna(0.0).sum(axis=1)
        frames.append(kept[ids].assign(modality=m, quantity="presence", probability=presence))
        if f"p_{m}" in kept.columns:
            keep = kept[ids].assign(modality=m, quantity="keep", probability=kept[f"p_{m}"])
            frames.append(keep.dropna(subset=["probability"]))
    return pd.concat(frames, ignore_index=True)


def _span(values: pd.Series) -> float:
    return float(values.max() - values.min()) if len(values) else float("nan")


def trajectory_range(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per method, quantity and modality: ``start`` (epoch 0), ``min`` and ``max`` over every epoch and run,
    ``final`` (mean over runs at the last epoch), ``moved`` = max - min, and where the selected epochs are recorded
    ``selected_min`` / ``selected_max`` (the range of the runs' selected epochs) and ``moved_by_selection``: max - min
    over the probabilities that drew the selected models' batches (NaN otherwise)."""
    rows = []
    for (method, quantity, modality), part in trajectories.groupby(["method", "quantity", "modality"], sort=False):
        last = part[part["epoch"] == part["epoch"].max()]["probability"]
        selected = {"selected_min": float("nan"), "selected_max": float("nan"), "moved_by_selection": float("nan")}
        if "best_epoch" in part and part["best_epoch"].notna().all():
            drew = part[part["epoch"] < part["best_epoch"]]["probability"]
            best = part["best_epoch"]
            selected = {
                "selected_min": int(best.min()),
                "selected_max": int(best.max()),
                "moved_by_selection": _span(drew),
            }
        rows.append(
            {
                "method": method,
                "quantity": quantity,
                "modality": modality,
                "start": part[part["epoch"] == 0]["probability"].mean(),
                "min": part["probability"].min(),
                "max": part["probability"].max(),
                "final": last.mean(),
                "moved": _span(part["probability"]),
                "epochs": int(part["epoch"].max()),
                **selected,
            }
        )
    return pd.DataFrame(rows)


def selected_epochs(part: pd.DataFrame) -> str:
    """``"epochs 3-40"`` (or ``"epoch 8"``): the range of selected epochs over the rows of a range table; empty when
    they are not recorded."""
    if "selected_min" not in part or part["selected_min"].isna().any():
        return ""
    low, high = int(part["selected_min"].min()), int(part["selected_max"].max())
    return f"epoch {low}" if low == high else f"epochs {low}-{high}"


def movement_sentence(ranges: pd.DataFrame) -> str:
    """One line per DPFT method: per modality the presence probability's start and its [min, max] over the run."""
    lines = []
    for method, part in ranges[(ranges["quantity"] == "presence") & (ranges["method"] != UNIFORM)].groupby(
        "method", sort=False
    ):
        spans = ", ".join(
            f"{r.modality} {r.start:.3f} -> [{r.min:.3f}, {r.max:.3f}] (moved {r.moved:.3f})" for r in part.itertuples()
        )
        line = f"- **{method}** over {int(part['epochs'].max())} epochs: {spans}"
        chosen = selected_epochs(part)
        if chosen:
            line += (
                f"; the models selected on valid come from {chosen}, and the probabilities that drew their batches "
                f"moved at most {float(part['moved_by_selection'].max()):.3f}"
            )
        lines.append(line + ".")
    if not lines:
        return "No DPFT method among the methods: the sampling probabilities never move."
    return "Probability that a training batch keeps each modality:\n" + "\n".join(lines)
