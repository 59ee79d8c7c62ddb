"""Writing results: tables (CSV + Markdown), figures and JSON under ``reports/<profile>/``, atomically.

Every file is first written to a temporary file in the same folder and then renamed, so a run that fails
never leaves a half-written table behind.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .paths import reports_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and then move the temporary file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def mean_std(frame: pd.DataFrame, by: list[str], metrics: list[str], digits: int = 3) -> pd.DataFrame:
    """Aggregate seeds: one row per ``by`` group, each metric as ``"mean ± std"`` plus the seed count.

    A group with a single seed has no spread to report: its cells hold the value alone.
    """
    grouped = frame.groupby(by, sort=False)[metrics]
    means, stds, counts = grouped.mean(), grouped.std(ddof=1), grouped.size()
    table = means.copy().astype(object)
    for metric in metrics:
        table[metric] = [f"{m:.{digits}f}" if n == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"
                         for m, s, n in zip(means[metric], stds[metric], counts)]
    table["seeds"] = counts
    return table.reset_index()


class Reporter:
    """Writes one notebook's outputs to ``reports_dir()/<profile>/{tables,figures,results}``."""

    def __init__(self, profile: str = "default", notebook: str = "") -> None:
        if not _NAME.match(profile):
            raise ValueError(f"profile {profile!r} must be a plain name (letters, digits, '_', '-', '.')")
        self.profile = profile
        self.notebook = notebook
        self.root = reports_dir() / profile

    def _path(self, kind: str, name: str, suffix: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"output name {name!r} must be a plain name (letters, digits, '_', '-', '.')")
        return self.root / kind / f"{name}{suffix}"

    def table(self, frame: pd.DataFrame, name: str, index: bool = False) -> Path:
        """Write ``tables/<name>.csv`` and ``tables/<name>.md``; returns the CSV path."""
        csv_path = self._path("tables", name, ".csv")
        atomic_write(csv_path, lambda tmp: frame.to_csv(tmp, index=index))
        markdown = frame.to_markdown(index=index, floatfmt=".4f") + "\n"
        atomic_write(self._path("tables", name, ".md"), lambda tmp: tmp.write_text(markdown, encoding="utf-8"))
        return csv_path

    def figure(self, fig: Figure, name: str, dpi: int = 110) -> Path:
        """Save ``figures/<name>.png``."""
        return atomic_write(self._path("figures", name, ".png"), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))

    def json(self, payload: object, name: str) -> Path:
        """Write ``results/<name>.json`` (numpy scalars and arrays are converted)."""
        text = json.dumps(payload, indent=2, default=_jsonable, sort_keys=True)
        return atomic_write(self._path("results", name, ".json"), lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
