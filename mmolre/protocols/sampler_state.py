"""A combination sampler's state beside a run's checkpoint, so that a resumed DPFT run draws as the uninterrupted
one would have.

After each epoch's update the sampler's
:meth:`~mmolre.protocols.combination_sampler.UniformSampler.state_dict` is written to ``<checkpoint>/sampler.json``
(atomically) for that epoch, keeping the two latest epochs: the update runs before the epoch's checkpoint is
written, so a run stopped in between resumes from the previous epoch's checkpoint and finds that epoch's sampler
state still there.

The file also names the sampler that wrote it (:func:`sampler_identity`: its class and its options, e.g. the
``dpft_js`` step and clip); restoring into a sampler of another kind or with other options is a CheckpointError
naming the file and what differs, so that a resumed run never continues one rule's state under another. A file
written before the sampler was recorded (no ``sampler`` entry) is taken as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmolre.files import atomic_write
from mmolre.protocols.combination_sampler import UniformSampler
from mmolre.train.checkpoints import SIDECAR, CheckpointError, read_sidecar

SAMPLER_FILE = "sampler.json"
KEPT = 2
"""Epochs whose sampler state the file keeps."""


def sampler_identity(sampler: UniformSampler) -> dict[str, object]:
    """What a restored sampler must match, as JSON values: its class name (``kind``) and its ``options``."""
    return json.loads(json.dumps({"kind": type(sampler).__name__, "options": sampler.options()}))


def _read(folder: Path) -> tuple[dict[str, object] | None, list[dict[str, object]]]:
    """The file's sampler identity (None when it records none) and its per-epoch entries (none without a file)."""
    path = folder / SAMPLER_FILE
    if not path.is_file():
        return None, []
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        identity, entries = saved.get("sampler"), list(saved["epochs"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path}: unreadable sampler state ({error})") from None
    if identity is not None and not isinstance(identity, dict):
        raise CheckpointError(f"{path}: unreadable sampler state (sampler must be an object, got {identity!r})")
    return identity, entries


def _differences(found: dict[str, object], expected: dict[str, object]) -> list[str]:
    """What differs between a saved sampler identity and this run's, one phrase each."""
    if found.get("kind") != expected["kind"]:
        return [f"sampler: saved by {found.get('kind')!r}, this run has {expected['kind']!r}"]
    saved = found.get("options")
    saved = dict(saved) if isinstance(saved, dict) else {}
    wanted = dict(expected["options"])  # type: ignore[call-overload]

    def shown(options: dict[str, object], name: str) -> str:
        return repr(options[name]) if name in options else "none"

    return [
        f"option {name!r}: saved {shown(saved, name)}, this run has {shown(wanted, name)}"
        for name in sorted({*saved, *wanted})
        if shown(saved, name) != shown(wanted, name)
    ]


def save_sampler_state(sampler: UniformSampler, folder: Path, epoch: int) -> None:
    """Record the sampler's state after ``epoch``'s update, keeping the :data:`KEPT` latest epochs (entries of
    another sampler, of another kind or with other options, are dropped)."""
    identity = sampler_identity(sampler)
    found, entries = _read(folder)
    if found is not None and found != identity:
        entries = []
    entries = [e for e in entries if e.get("epoch") != epoch][-(KEPT - 1) :]
    entries.append({"epoch": epoch, **sampler.state_dict()})
    text = json.dumps({"sampler": identity, "epochs": entries}) + "\n"
    atomic_write(folder / SAMPLER_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def restore_sampler_state(sampler: UniformSampler, folder: Path) -> int:
    """Load the sampler's state at the epoch of the checkpoint in ``folder``; returns that epoch (0 without a
    checkpoint: nothing to restore). CheckpointError when the checkpoint has trained but its sampler state is
    missing or does not fit, or was saved by a sampler of another kind or with other options."""
    if not (folder / SIDECAR).is_file():
        return 0
    epoch = int(read_sidecar(folder)["epoch"])
    found, entries = _read(folder)
    if found is not None:
        differences = _differences(found, sampler_identity(sampler))
        if differences:
            raise CheckpointError(
                f"{folder / SAMPLER_FILE}: the saved sampler state does not match this run ({'; '.join(differences)});"
                " resume with the sampler and options it was trained with, or train again into an empty folder"
            )
    entry = next((e for e in entries if e.get("epoch") == epoch), None)
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
