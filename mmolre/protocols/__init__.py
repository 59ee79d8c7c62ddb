"""Protocols: the one experiment driver, ablation grids, the incomplete-modality protocol with its combination
samplers (DPFT), routing statistics, the one summariser and paired comparisons."""

from mmolre.protocols.ablations import ABLATIONS, ablation_arms, paired_ablations
from mmolre.protocols.driver import Arm, Experiment, model_arms, run_experiment
from mmolre.protocols.encoders import ENCODER_SETTINGS, compare_encoders
from mmolre.protocols.incomplete import summarize_conditions
from mmolre.protocols.incomplete_runs import IncompleteConfig, IncompleteResults, run_incomplete
from mmolre.protocols.paired import compare_models, paired_table, split_truth
from mmolre.protocols.routing import routing_table, token_routing
from mmolre.protocols.summary import metric_columns, summarize

__all__ = [
    "ABLATIONS",
    "ENCODER_SETTINGS",
    "ablation_arms",
    "Arm",
    "compare_encoders",
    "compare_models",
    "Experiment",
    "IncompleteConfig",
    "IncompleteResults",
    "metric_columns",
    "model_arms",
    "paired_ablations",
    "paired_table",
    "routing_table",
    "run_experiment",
    "run_incomplete",
    "split_truth",
    "summarize",
    "summarize_conditions",
    "token_routing",
]
