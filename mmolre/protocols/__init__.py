"""Protocols: the one experiment driver, ablation grids, the incomplete-modality protocol with its combination
samplers (DPFT), routing statistics and the one summariser."""

from mmolre.protocols.ablations import ABLATIONS, ablation_arms
from mmolre.protocols.driver import Arm, Experiment, model_arms, run_experiment
from mmolre.protocols.encoders import ENCODER_SETTINGS, compare_encoders
from mmolre.protocols.incomplete import IncompleteConfig, IncompleteResults, run_incomplete, summarize_conditions
from mmolre.protocols.routing import routing_table, token_routing
from mmolre.protocols.summary import metric_columns, summarize

__all__ = [
    "ABLATIONS",
    "ENCODER_SETTINGS",
    "ablation_arms",
    "Arm",
    "compare_encoders",
    "Experiment",
    "IncompleteConfig",
    "IncompleteResults",
    "metric_columns",
    "model_arms",
    "routing_table",
    "run_experiment",
    "run_incomplete",
    "summarize",
    "summarize_conditions",
    "token_routing",
]
