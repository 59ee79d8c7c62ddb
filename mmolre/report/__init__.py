"""Reports: the reporter (tables, figures, JSON), seaborn figures, the notebook set-up and the papermill runner."""

from mmolre.report import data_plots, plots, results
from mmolre.report.notebook import NotebookContext, setup_notebook
from mmolre.report.reporter import Reporter

__all__ = ["NotebookContext", "Reporter", "data_plots", "plots", "results", "setup_notebook"]
