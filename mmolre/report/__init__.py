"""Reports written from inside a notebook: the reporter (tables, figures, JSON under ``reports/<profile>/``), the
notebook set-up cell and the figures (:mod:`~mmolre.report.plots`, :mod:`~mmolre.report.data_plots`); the names
they show for models come from the registry (:func:`mmolre.models.registry.display_name`). Names are imported on
first use, so ``mmolre.report.reporter`` alone loads neither torch nor seaborn."""

from __future__ import annotations

from importlib import import_module

_SOURCE = {
    "NoFigure": "mmolre.report.reporter",
    "Reporter": "mmolre.report.reporter",
    "NotebookContext": "mmolre.report.notebook",
    "setup_notebook": "mmolre.report.notebook",
}
__all__ = ["NoFigure", "NotebookContext", "Reporter", "data_plots", "plots", "setup_notebook"]


def __getattr__(name: str) -> object:
    """A public name (or a module of the package) imported on first use."""
    if name in _SOURCE:
        value = getattr(import_module(_SOURCE[name]), name)
    elif name in ("data_plots", "plots"):
        value = import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
