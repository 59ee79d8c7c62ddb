"""A combination sampler's state beside a run's checkpoint, so that a resumed DPFT run draws as the uninterrupted
one would have.

After each epoch's update the sampler's :meth:`~mmolre.protocols.dpft.UniformSampler.state_dict` is written to
``<checkpoint>/sampler.json`` (atomically) for that epoch, keeping the two latest epochs: the update runs before the
epoch's checkpoint is written, so a run stopped in between resumes from the previous epoch's checkpoint and finds
that epoch's sampler state still there.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmolre.files import atomic_write
from mmolre.protocols.dpft import UniformSampler
from mmolre.train.checkpoints import SIDECAR, CheckpointError, read_sidecar

SAMPLER_FILE = "sampler.json"
KEPT = 2
"""Epochs whose sampler state the file keeps."""


def _saved(folder: Path) -> list[dict[str, object]]:
    path = folder / SAMPLER_FILE
    if not path.is_file():
        return []
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))["epochs"]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: unreadable sampler state ({error})") from None
    return list(saved)


def save_sampler_state(sampler: UniformSampler, folder: Path, epoch: int) -> None:
    """Record the sampler's state after ``epoch``'s update, keeping the :data:`KEPT` latest epochs."""
    entries = [e for e in _saved(folder) if e.get("epoch") != epoch][-(KEPT - 1) :]
    entries.append({"epoch": epoch, **sampler.state_dict()})
    text = json.dumps({"epochs": entries}) + "\n"
    atomic_write(folder / SAMPLER_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def restore_sampler_state(sampler: UniformSampler, folder: Path) -> int:
    """Load the sampler's state at the epoch of the checkpoint in ``folder``; returns that epoch (0 without a
    checkpoint: nothing to restore). CheckpointError when the checkpoint has trained but its sampler state is
    missing or does not fit."""
    if not (folder / SIDECAR).is_file():
        return 0
    epoch = int(read_sidecar(folder)["epoch"])
    entry = next((e for e in _saved(folder) if e.get("epoch") == epoch), None)
    if entry is None:
        raise CheckpointError(
            f"{folder}: the checkpoint is at epoch {epoch} but {SAMPLER_FILE} holds no sampler state for it "
            "(train again into an empty folder)"
        )
    try:
        sampler.load_state_dict(entry)
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{folder / SAMPLER_FILE}: {error}") from None
    return epoch
