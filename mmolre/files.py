"""Atomic file writes (a failed write never leaves a half-written file behind), writable folders and file digests."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it onto ``path``.

    The file gets the mode an ordinary new file gets under the process's umask (the temporary file is private).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def writable_folder(path: Path, what: str = "folder") -> Path:
    """Create ``path`` (and its parents) when needed and check that a file can be created in it; otherwise an
    OSError whose message names the folder and the reason (read-only, a file in the way, ...)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".write-test.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else error.strerror or type(error).__name__
        raise type(error)(f"{what} {path} cannot be written: {reason}") from None
    return path


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content, as hex."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
