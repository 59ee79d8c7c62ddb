"""Writing results: tables (CSV + Markdown), figures and JSON under ``reports/<profile>/``, atomically.

Every file is first written to a temporary file in the same folder and then renamed, so a run that fails
never leaves a half-written table behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmolre.files import atomic_write
from mmolre.paths import reports_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Reporter:
    """Writes one notebook's outputs to ``reports_dir()/<profile>/{tables,figures,results}``."""

    def __init__(self, profile: str = "default") -> None:
        if not _NAME.match(profile):
            raise ValueError(f"profile {profile!r} must be a plain name (letters, digits, '_', '-', '.')")
        self.profile = profile
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

    def figure(self, fig: Figure, name: str, dpi: int = 110) -> None:
        """Save ``figures/<name>.png``."""
        atomic_write(
            self._path("figures", name, ".png"),
            lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"),
        )

    def json(self, payload: object, name: str) -> Path:
        """Write ``results/<name>.json`` (numpy scalars and arrays are converted)."""
        text = json.dumps(payload, indent=2, default=_jsonable, sort_keys=True)
        return atomic_write(
            self._path("results", name, ".json"), lambda tmp: tmp.write_text(text + "\n", encoding="utf-8")
        )


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
