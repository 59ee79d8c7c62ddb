"""Where each run of a resuming section stands, read from files only (no data is loaded, no model is built):
recorded (:mod:`mmolre.train.records`), part-trained (its per-epoch checkpoint, :mod:`mmolre.train.checkpoints`) or
not started; with the training time spent and an estimate of the time left.

What is compared here is what the parameter file fixes (model, model and train configuration, seed, epochs, tasks):
a record or checkpoint of another configuration shows as such. The data fingerprint, parameter shapes and
predictions of a record are checked when notebook 04 restores it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from mmolre.models.registry import task_groups
from mmolre.protocols.driver import Arm, run_name
from mmolre.train.checkpoints import SIDECAR, CheckpointError, read_sidecar
from mmolre.train.identity import mismatched_keys, resumable_train_config, stored_identity
from mmolre.train.records import RecordError, read_record_file

FINISHED = ("recorded", "trained, not recorded")
"""The states of a run with nothing left to train (it may have stopped early, before its last epoch)."""
METRICS = ("acc2_non0", "mae", "corr", "emo_wa")
"""The test metrics the status shows for a recorded run (those its tasks give)."""


def _fixed_identity(arm: Arm, seed: int) -> dict[str, object]:
    """The part of a run's identity its parameter file fixes (see :func:`mmolre.train.records.record_identity`)."""
    train_config = resumable_train_config(arm.train_config.to_dict())
    return {"model": arm.model, "model_config": arm.model_config.to_dict(), "train_config": train_config, "seed": seed}


def _matching(read: Callable[[Path], dict], path: Path, expected: dict[str, object], what: str) -> dict | str:
    """The ``what`` (record or checkpoint) file at ``path`` as ``read`` returns it when it is readable and of this
    run, else the state that says why not."""
    try:
        stored = read(path)
    except (RecordError, CheckpointError) as error:
        return f"unreadable {what}: {str(error).split(': ', 1)[-1]}"  # the row names the run, not the file
    differences = mismatched_keys(stored_identity(stored, expected), expected)
    if differences:
        return f"{what} of another run (differs in {', '.join(differences)})"
    return stored


def _record_row(path: Path, expected: dict[str, object]) -> dict[str, object]:
    payload = _matching(read_record_file, path, expected, "record")
    if isinstance(payload, str):
        return {"state": payload}
    metrics = payload.get("test_metrics") or {}
    return {
        "state": FINISHED[0],
        "epochs_done": payload.get("epochs_run"),
        "train_seconds": payload.get("train_seconds"),
        **{key: metrics[key] for key in METRICS if key in metrics},
    }


def _checkpoint_row(folder: Path, expected: dict[str, object], epochs: int) -> dict[str, object]:
    sidecar = _matching(read_sidecar, folder, expected, "checkpoint")
    if isinstance(sidecar, str):
        return {"state": sidecar}
    done = int(sidecar["epoch"])
    finished = done >= epochs or bool(sidecar.get("stopped_early"))
    return {
        "state": FINISHED[1] if finished else "part-trained",
        "epochs_done": done,
        "train_seconds": sidecar.get("train_seconds"),
    }


def run_status(
    arms: Sequence[Arm], seeds: Sequence[int], tasks: Sequence[str], records: Path, checkpoints: Path
) -> pd.DataFrame:
    """One row per model of the section (a ``single_task`` arm has one per task): ``model``, ``seed``, ``tasks``,
    ``state`` (recorded; trained, not recorded; part-trained; started, no epoch finished; not started; or which
    other run or damage a file holds), ``epochs_done``, ``epochs``, ``train_seconds`` (over every sitting; NaN where
    unknown) and, for a recorded run, its test metrics."""
    rows = []
    for arm in arms:
        groups = task_groups(arm.model, tasks)
        epochs = arm.train_config.epochs
        for seed in seeds:
            fixed = _fixed_identity(arm, seed)
            for group in groups:
                name = run_name(arm.label, group, seed)
                row: dict[str, object] = {"model": arm.label, "seed": seed, "tasks": "+".join(group)}
                record = records / f"{name}.json"
                if record.exists() or record.is_symlink():
                    row |= _record_row(record, {**fixed, "epochs": epochs, "tasks": list(group)})
                elif (checkpoints / name / SIDECAR).exists():  # its name holds the tasks; it may go on to more epochs
                    row |= _checkpoint_row(checkpoints / name, fixed, epochs)
                elif (checkpoints / name).exists():  # created when training starts, written after the first epoch
                    row |= {"state": "started, no epoch finished", "epochs_done": 0}
                else:
                    row |= {"state": "not started", "epochs_done": 0, "train_seconds": 0.0}
                rows.append({**row, "epochs": epochs})
    columns = ["model", "seed", "tasks", "state", "epochs_done", "epochs", "train_seconds", *METRICS]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    return frame.dropna(axis=1, how="all")


def status_summary(frame: pd.DataFrame) -> str:
    """One line: how many models are recorded, how many epochs are left and, from the epochs already timed, about
    how many hours of one process they need."""
    recorded = int((frame["state"] == FINISHED[0]).sum())
    done = pd.to_numeric(frame["epochs_done"], errors="coerce").fillna(0)
    left = int((frame["epochs"] - done).clip(lower=0)[~frame["state"].isin(FINISHED)].sum())
    line = f"{recorded} of {len(frame)} models recorded; {left} epochs left to train"
    timed = frame[pd.to_numeric(frame.get("train_seconds"), errors="coerce") > 0]
    if left and len(timed):
        per_epoch = float(timed["train_seconds"].sum() / timed["epochs_done"].sum())
        hours = math.ceil(left * per_epoch / 360) / 10
        line += f", about {hours:g} h of one process at the {per_epoch / 60:.0f} min per epoch timed"
    return line + "."
