"""Project paths, resolved from the package location (never from the current directory)."""

from __future__ import annotations

import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

DATA_DIR_ENV = "MMOLRE_DATA_DIR"
REPORTS_DIR_ENV = "MMOLRE_REPORTS_DIR"
CACHE_DIR_ENV = "MMOLRE_CACHE_DIR"
STAGE_ENV = "MMOLRE_REPORT_STAGE"
"""Set by the runner for a kernel: the staging folder its outputs go to (see :mod:`mmolre.runner.outputs`)."""


PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""A report profile is one folder name: letters, digits, ``_`` and ``-``, at most 64 characters."""


def reports_dir() -> Path:
    """Root of generated reports: ``$MMOLRE_REPORTS_DIR`` or ``<project>/reports``, as an absolute path (a relative
    ``$MMOLRE_REPORTS_DIR`` is taken from the current directory)."""
    return Path(os.environ.get(REPORTS_DIR_ENV) or PROJECT_ROOT / "reports").expanduser().absolute()


def check_profile(profile: object) -> str:
    """``profile`` if it is a valid profile name (:data:`PROFILE_NAME`), else a ValueError saying why."""
    if not isinstance(profile, str) or not PROFILE_NAME.fullmatch(profile):
        shown = repr(profile) if len(repr(profile)) <= 70 else repr(profile)[:66] + "...'"
        raise ValueError(f"profile {shown} must be a plain name (letters, digits, '_' and '-', at most 64 characters)")
    return profile


def profile_root(profile: str) -> Path:
    """``reports_dir()/<profile>``; the profile must be a plain name (:func:`check_profile`)."""
    return reports_dir() / check_profile(profile)


def records_dir(profile: str) -> Path:
    """``reports_dir()/<profile>/runs``: the profile's run records, one folder per checkpoint folder (see
    :mod:`mmolre.train.records`)."""
    return profile_root(profile) / "runs"


def cache_dir() -> Path:
    """Where encoded features are cached: ``$MMOLRE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmolre`` (``~/.cache/mmolre``).

    The cache lives outside the checkout so that every clone on a machine reuses the same encodings
    (entries are keyed by encoder and input hash, so sharing them is safe).
    """
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mmolre"
    path = Path(os.environ.get(CACHE_DIR_ENV) or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(override: str | os.PathLike | None = None) -> Path | None:
    """The directory holding the real benchmark files (``mosi/``, ``mosei/``), or None when none is set.

    ``override`` (a notebook parameter) wins over ``$MMOLRE_DATA_DIR``; empty strings count as unset.
    """
    value = str(override) if override else os.environ.get(DATA_DIR_ENV, "")
    return Path(value).expanduser().resolve() if value else None
