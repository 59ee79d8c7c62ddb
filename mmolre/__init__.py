"""mmolre: low-rank mixture-of-experts models for multimodal sentiment and emotion recognition.

The notebook API, re-exported here (``import mmolre as mm``):

- data: :func:`load_dataset`, :class:`MultimodalDataset`, :class:`DataError`, :data:`DATASETS` (one
  :class:`DatasetSpec` record per dataset, :func:`dataset_spec`), :func:`register_dataset`;
- models: :func:`build_model` (:data:`MODEL_NAMES`), :func:`register_model` (see ``docs/extending.md``),
  :class:`ModelConfig` (MMoLRE family), :class:`MCULoRAConfig`, :class:`ModelOutput`, :func:`eval_mode`,
  :func:`count_parameters`, :func:`model_table`, :func:`trace_shapes`;
- training: :class:`TrainConfig`, :func:`train_model`, :func:`evaluate`, :data:`SEEDS`;
- protocols: :class:`Arm`, :func:`model_arms`, :func:`ablation_arms`, :func:`run_experiment` (the one experiment
  driver), :func:`run_incomplete` (:class:`IncompleteConfig`), :func:`compare_encoders` (frozen vs fine-tuned text),
  :func:`routing_table`, :func:`token_routing`, :func:`summarize`;
- reuse: :func:`export` (a trained run -> weights, config, model card), :func:`profile_card` (the card of an
  experiment's best run on valid), :func:`load_pretrained` (see
  :mod:`mmolre.exports.predict` for scoring new utterances);
- reports: :func:`setup_notebook`, :class:`Reporter`, the figure modules :mod:`plots` and :mod:`data_plots`;
- vocabulary: :data:`MODALITIES`, :data:`CONDITIONS` (:func:`available_combinations`), :data:`TASKS`,
  :data:`EMOTIONS`.

Sub-packages: ``mmolre.data`` (sources, dataset records and loaders, safe loading, text encoder cache), ``mmolre.nn``
(expert, LoRA, MCLA layers), ``mmolre.models`` (contract, MMoLRE + baselines, MCULoRA, registry), ``mmolre.train``
(loop, evaluation, checkpoints), ``mmolre.protocols`` (driver, ablations, incomplete modalities, DPFT, summaries),
``mmolre.report`` (in a notebook: reporter, figures, notebook set-up), ``mmolre.runner`` (on the host: the papermill
runner, parameter files, report pages), ``mmolre.results`` (recorded runs beside the published numbers, the
dashboard, the README's generated blocks), ``mmolre.exports`` (export folders, model cards, scoring new utterances);
``mmolre.cli`` is the command line (``python -m mmolre``). ``mmolre.notebook_parameters`` reads the notebooks'
parameters, ``mmolre.modalities`` owns the modality vocabulary, ``mmolre.tasks`` the tasks (one record each),
``mmolre.emotions`` the emotion vocabularies, ``mmolre.metrics`` every metric.

Names are imported on first use (``import mmolre`` itself loads neither torch nor the report code), so the
command line and a plugin start quickly.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "mmolre.data": ("DataError", "MultimodalDataset", "load_dataset"),
    "mmolre.data.registry": ("DATASETS", "DatasetSpec", "dataset_spec", "register_dataset"),
    "mmolre.exports.folder": ("export", "load_pretrained"),
    "mmolre.exports.card": ("profile_card",),
    "mmolre.metrics": ("emotion_metrics", "sentiment_metrics"),
    "mmolre.modalities": ("CONDITIONS", "MODALITIES", "available_combinations"),
    "mmolre.models": (
        "MODEL_NAMES",
        "MCULoRAConfig",
        "ModelConfig",
        "ModelOutput",
        "build_model",
        "count_parameters",
        "eval_mode",
        "model_table",
        "trace_shapes",
    ),
    "mmolre.models.registry": ("register_model",),
    "mmolre.protocols": (
        "ABLATIONS",
        "Arm",
        "IncompleteConfig",
        "ablation_arms",
        "compare_encoders",
        "model_arms",
        "paired_ablations",
        "routing_table",
        "run_experiment",
        "run_incomplete",
        "summarize",
        "summarize_conditions",
        "token_routing",
    ),
    "mmolre.report": ("Reporter", "data_plots", "plots", "setup_notebook"),
    "mmolre.emotions": ("EMOTIONS",),
    "mmolre.tasks": ("TASKS",),
    "mmolre.train": ("SEEDS", "TrainConfig", "evaluate", "train_model"),
}
"""Where each public name lives: module -> names."""
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_SOURCE, key=str.lower)


def __getattr__(name: str) -> object:
    """A public name (or a sub-package) imported on first use."""
    if name in _SOURCE:
        value = getattr(import_module(_SOURCE[name]), name)
    elif not name.startswith("_"):
        try:
            value = import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
