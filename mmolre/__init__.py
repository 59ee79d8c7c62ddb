"""mmolre: low-rank mixture-of-experts models for multimodal sentiment and emotion recognition.

The notebook API, re-exported here (``import mmolre as mm``):

- data: :func:`load_dataset`, :class:`MultimodalDataset`, :class:`DataError`;
- models: :func:`build_model` (:data:`MODEL_NAMES`), :class:`ModelConfig` (MMoLRE family), :class:`MCULoRAConfig`,
  :class:`ModelOutput`, :func:`eval_mode`, :func:`count_parameters`, :func:`model_table`, :func:`trace_shapes`;
- training: :class:`TrainConfig`, :func:`train_model`, :func:`evaluate`, :data:`SEEDS`;
- protocols: :class:`Arm`, :func:`model_arms`, :func:`ablation_arms`, :func:`run_experiment` (the one experiment
  driver), :func:`run_incomplete` (:class:`IncompleteConfig`), :func:`compare_encoders` (frozen vs fine-tuned text),
  :func:`routing_table`, :func:`token_routing`, :func:`summarize`;
- reuse: :func:`export` (a trained run -> weights, config, model card), :func:`load_pretrained` (see
  :mod:`mmolre.predict` for scoring new utterances);
- reports: :func:`setup_notebook`, :class:`Reporter`, the figure modules :mod:`plots` and :mod:`data_plots`;
- vocabulary: :data:`MODALITIES`, :data:`CONDITIONS` (:func:`available_combinations`), :data:`TASKS`,
  :data:`EMOTIONS`.

Sub-packages: ``mmolre.data`` (sources, loaders, safe loading, text encoder cache), ``mmolre.nn`` (expert, LoRA,
MCLA layers), ``mmolre.models`` (contract, MMoLRE + baselines, MCULoRA, registry), ``mmolre.train`` (loop,
evaluation, checkpoints), ``mmolre.protocols`` (driver, ablations, incomplete modalities, DPFT, summaries),
``mmolre.report`` (reporter, figures, notebook set-up, papermill runner); ``mmolre.modalities`` and
``mmolre.tasks`` own the modality and task vocabularies, ``mmolre.metrics`` every metric.
"""

from mmolre.data import DataError, MultimodalDataset, load_dataset
from mmolre.exported import export, load_pretrained
from mmolre.metrics import emotion_metrics, sentiment_metrics
from mmolre.modalities import CONDITIONS, MODALITIES, available_combinations
from mmolre.models import (
    MODEL_NAMES,
    MCULoRAConfig,
    ModelConfig,
    ModelOutput,
    build_model,
    count_parameters,
    eval_mode,
    model_table,
    trace_shapes,
)
from mmolre.protocols import (
    ABLATIONS,
    Arm,
    IncompleteConfig,
    ablation_arms,
    compare_encoders,
    model_arms,
    routing_table,
    run_experiment,
    run_incomplete,
    summarize,
    summarize_conditions,
    token_routing,
)
from mmolre.report import Reporter, data_plots, plots, setup_notebook
from mmolre.tasks import EMOTIONS, TASKS
from mmolre.train import SEEDS, TrainConfig, evaluate, train_model

__version__ = "0.1.0"

__all__ = [
    "ABLATIONS",
    "CONDITIONS",
    "EMOTIONS",
    "MODALITIES",
    "MODEL_NAMES",
    "SEEDS",
    "TASKS",
    "ablation_arms",
    "Arm",
    "available_combinations",
    "build_model",
    "compare_encoders",
    "count_parameters",
    "data_plots",
    "DataError",
    "emotion_metrics",
    "eval_mode",
    "evaluate",
    "export",
    "IncompleteConfig",
    "load_dataset",
    "load_pretrained",
    "MCULoRAConfig",
    "model_arms",
    "model_table",
    "ModelConfig",
    "ModelOutput",
    "MultimodalDataset",
    "plots",
    "Reporter",
    "routing_table",
    "run_experiment",
    "run_incomplete",
    "sentiment_metrics",
    "setup_notebook",
    "summarize",
    "summarize_conditions",
    "token_routing",
    "trace_shapes",
    "train_model",
    "TrainConfig",
]
