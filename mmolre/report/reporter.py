"""Writing results: tables (CSV + Markdown), figures and JSON under ``reports/<profile>/``, atomically.

Every file is first written to a temporary file in the same folder and then renamed, so a run that fails
never leaves a half-written table behind. Under the runner (``python -m mmolre reports``) the kernel sees
``$MMOLRE_REPORT_STAGE``: outputs then go to ``$MMOLRE_REPORT_STAGE/<profile>/`` and the runner moves them into
``reports/<profile>/`` only when the whole notebook succeeded.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image as PILImage

from mmolre.files import atomic_write
from mmolre.paths import STAGE_ENV, profile_root
from mmolre.table_digits import SIGNIFICANT_DIGITS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DISPLAY_DPI = 72
"""Resolution of a figure as the notebook shows it (and stores it in the executed notebook); the saved file keeps
the full resolution."""
DISPLAY_COLOURS = 256
"""Colours of the palette PNG a notebook stores (a plot's flat colours and anti-aliased text fit in 256 at a
fifth of a full-colour PNG's size)."""


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (zeros, NaN and infinities unchanged)."""
    out = values.copy()
    finite = np.isfinite(values) & (values != 0)
    shift = digits - 1 - np.floor(np.log10(np.abs(values[finite]))).astype(int)
    up, down = np.power(10.0, np.maximum(shift, 0)), np.power(10.0, np.maximum(-shift, 0))
    out[finite] = np.round(values[finite] * up / down) * down / up
    return out


def rounded(frame: pd.DataFrame, digits: int = SIGNIFICANT_DIGITS) -> pd.DataFrame:
    """``frame`` with every float column that is not all whole numbers rounded to ``digits`` significant digits."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind != "f":
            continue
        values = out[column].to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        if len(finite) and not np.all(finite == np.round(finite)):
            out[column] = _significant(values, digits)
    return out


@dataclass(frozen=True)
class NoFigure:
    """What a figure function returns instead of a figure that would show nothing (one point, one epoch, an empty
    panel): the sentence the notebook prints in its place."""

    reason: str

    def __str__(self) -> str:
        return self.reason


class Reporter:
    """Writes one notebook's outputs to ``<root>/{tables,figures,results}``.

    ``root`` is ``reports_dir()/<profile>``, or ``$MMOLRE_REPORT_STAGE/<profile>`` when the runner stages the run.
    """

    def __init__(self, profile: str = "default") -> None:
        home = profile_root(profile)  # checks the name
        self.profile = profile
        stage = os.environ.get(STAGE_ENV)
        self._stage = Path(stage) if stage else None
        self.root = self._stage / profile if self._stage else home

    def _path(self, kind: str, name: str, suffix: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"output name {name!r} must be a plain name (letters, digits, '_', '-', '.')")
        if self._stage is not None and not self._stage.is_dir():
            raise RuntimeError(f"staging folder {self._stage} is gone: the runner that started this kernel stopped")
        return self.root / kind / f"{name}{suffix}"

    def table(self, frame: pd.DataFrame, name: str, index: bool = False) -> Path:
        """Write ``tables/<name>.csv`` (floats at :data:`SIGNIFICANT_DIGITS` significant digits, :func:`rounded`)
        and ``tables/<name>.md``; returns the CSV path."""
        csv_path = self._path("tables", name, ".csv")
        frame = rounded(frame)
        atomic_write(csv_path, lambda tmp: frame.to_csv(tmp, index=index))
        markdown = frame.to_markdown(index=index, floatfmt=".4f") + "\n"
        atomic_write(self._path("tables", name, ".md"), lambda tmp: tmp.write_text(markdown, encoding="utf-8"))
        return csv_path

    def figure(self, fig: Figure | NoFigure, name: str, dpi: int = 110) -> None:
        """Save ``figures/<name>.png`` at ``dpi``. Inside a notebook the figure is then shown (and stored in the
        executed notebook and its HTML page) as :func:`display_png`'s small copy and closed, so the inline backend
        does not embed it a second time at full size. A :class:`NoFigure` writes nothing and prints its sentence
        instead."""
        if isinstance(fig, NoFigure):
            print(f"No figure {name}: {fig.reason}")
            return
        atomic_write(
            self._path("figures", name, ".png"),
            lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"),
        )
        if _in_notebook():
            from IPython.display import Image, display

            display(Image(data=display_png(fig), format="png"))
            plt.close(fig)

    def markdown(self, text: str, name: str) -> Path:
        """Write ``results/<name>.md`` (e.g. a model card)."""
        return atomic_write(self._path("results", name, ".md"), lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def json(self, payload: object, name: str) -> Path:
        """Write ``results/<name>.json`` (numpy scalars and arrays are converted)."""
        text = json.dumps(payload, indent=2, default=_jsonable, sort_keys=True)
        return atomic_write(
            self._path("results", name, ".json"), lambda tmp: tmp.write_text(text + "\n", encoding="utf-8")
        )


def display_png(fig: Figure) -> bytes:
    """``fig`` as a palette PNG at :data:`DISPLAY_DPI` with :data:`DISPLAY_COLOURS` colours: the copy a notebook
    shows and stores."""
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=DISPLAY_DPI, bbox_inches="tight")
    full.seek(0)
    palette = PILImage.open(full).convert("RGB").quantize(DISPLAY_COLOURS, method=PILImage.Quantize.FASTOCTREE)
    small = io.BytesIO()
    palette.save(small, format="PNG", optimize=True)
    return small.getvalue()


def _in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (a shown figure is stored in the notebook)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
