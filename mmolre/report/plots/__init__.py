"""Seaborn figures shared by notebooks, benchmarks and the dashboard; each function returns a matplotlib Figure, or
a :class:`~mmolre.report.reporter.NoFigure` saying why nothing is drawn (one point, one epoch, nothing to compare).

Metrics are drawn as points with error bars (± one standard deviation over seeds, each seed a small grey dot) on an
axis zoomed to the data, never as bars from zero; axes and titles use :func:`mmolre.metrics.metric_label`; legends
sit outside the data. Modules: :mod:`~.runs` (training notebooks), :mod:`~.routing`, :mod:`~.predictions`,
:mod:`~.incomplete` (notebook 06), :mod:`~.published` (results beside the published numbers), :mod:`~.style`.
"""

from mmolre.report.plots.incomplete import (
    plot_condition_points,
    plot_missing_rates,
    plot_modality_trajectories,
    plot_rank_ablation,
    plot_sampling_probabilities,
)
from mmolre.report.plots.predictions import plot_confusion_matrix, plot_predicted_vs_true
from mmolre.report.plots.published import (
    plot_emotion_results,
    plot_headline_gaps,
    plot_published_comparison,
    plot_published_gaps,
    published_gaps,
)
from mmolre.report.plots.routing import plot_routing_heatmap, plot_token_routing
from mmolre.report.plots.runs import (
    EFFICIENCY_LABELS,
    plot_ablation,
    plot_efficiency,
    plot_encoder_comparison,
    plot_learning_curves,
    plot_metric_points,
    plot_model_parameters,
    plot_paired_differences,
)
from mmolre.report.plots.style import OURS, PUBLISHED, SEED_DOTS

__all__ = [
    "EFFICIENCY_LABELS",
    "OURS",
    "PUBLISHED",
    "SEED_DOTS",
    "plot_ablation",
    "plot_condition_points",
    "plot_confusion_matrix",
    "plot_efficiency",
    "plot_emotion_results",
    "plot_encoder_comparison",
    "plot_headline_gaps",
    "plot_learning_curves",
    "plot_metric_points",
    "plot_missing_rates",
    "plot_model_parameters",
    "plot_modality_trajectories",
    "plot_paired_differences",
    "plot_predicted_vs_true",
    "plot_published_comparison",
    "plot_published_gaps",
    "plot_rank_ablation",
    "plot_routing_heatmap",
    "plot_sampling_probabilities",
    "plot_token_routing",
    "published_gaps",
]
