"""``python -m mmolre train``: the runs of one notebook section of a parameter file, from the command line.

The section (``03_train_mmolre`` or ``04_baselines``) is validated exactly as ``python -m mmolre reports`` does
(:func:`~mmolre.report.runner.plan_run`: names and types against the notebook's parameters cell); the notebook's own
defaults fill what the file leaves out. The runs go through the notebooks' code path (:func:`setup_notebook`,
:func:`model_arms`, :func:`run_experiment`) and are recorded as the notebook records them, in
``reports/<profile>/tables/<name>_runs.csv`` (and ``.md``), with what produced them (the notebook, its parameters,
the number of processes and the global batch) in ``reports/<profile>/results/<name>_runs.json``.

Under ``torchrun`` (``WORLD_SIZE`` set) every process trains data-parallel (see :mod:`mmolre.train.distributed`);
rank 0 loads the dataset first (so a feature cache is written once), and only rank 0 writes reports.
"""

from __future__ import annotations

from pathlib import Path

from mmolre.paths import NOTEBOOKS_DIR
from mmolre.protocols.driver import model_arms, run_experiment
from mmolre.report.notebook import setup_notebook
from mmolre.report.parameters import RunnerError, discover_notebooks, load_param_file, notebook_defaults
from mmolre.report.requirements import check_requirements
from mmolre.report.runner import plan_run
from mmolre.train.distributed import init_distributed, launched_by_torchrun, shutdown

TRAINABLE = ("03_train_mmolre", "04_baselines")
"""Notebooks whose runs this command can produce (their arms are a list of registered model names)."""


def notebook_values(param_file: Path | None, notebook: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, object]:
    """The notebook's parameters for this file: its declared defaults, overridden by ``common`` and its section
    (after the same checks as ``python -m mmolre reports``, including the file's ``requires``)."""
    if notebook not in TRAINABLE:
        raise RunnerError(f"train runs the notebooks {', '.join(TRAINABLE)}; got {notebook!r}")
    source = str(param_file) if param_file else "parameters"
    settings = load_param_file(param_file)
    selected = settings.get("notebooks")
    if isinstance(selected, list) and notebook not in selected:  # its defaults would be the quick synthetic run
        raise RunnerError(f"{source} does not select {notebook} (its notebooks: {', '.join(map(str, selected))})")
    plan = plan_run(settings, [notebook], notebooks_dir, source)
    check_requirements(settings.get("requires"), source)
    path = next(path for path in discover_notebooks(notebooks_dir) if path.stem == notebook)
    return {**notebook_defaults(path), **plan.parameters[notebook]}


def train_from_params(
    param_file: Path | None, notebook: str = "04_baselines", notebooks_dir: Path = NOTEBOOKS_DIR
) -> Path | None:
    """Run the arms of ``notebook``'s section and record them; returns the runs table's path (None off rank 0)."""
    values = notebook_values(param_file, notebook, notebooks_dir)
    names = list(values["models"]) if notebook == "04_baselines" else [values["model"]]
    table = "baselines_runs" if notebook == "04_baselines" else f"{values['model']}_runs"
    train_config = dict(values["train_config"])
    context = init_distributed(str(train_config.get("device", "auto"))) if launched_by_torchrun() else None
    main = context is None or context.is_main
    try:
        if context is not None and not main:
            context.barrier()  # rank 0 loads (and caches) first
        nb = setup_notebook(
            str(values["profile"]),
            str(values["dataset"]),
            str(values["data_dir"]),
            values["dataset_options"],
            values["model_config"],
            train_config,
            values["epochs"],
            values["seeds"],
            model=names[0] if notebook == "03_train_mmolre" else "mmolre",
            echo=main,
            checkpoints=notebook if values["resume"] else "",
        )
        if context is not None and main:
            context.barrier()
        experiment = run_experiment(
            model_arms(names, nb.model_config, nb.train_config),
            nb.data,
            values["seeds"],
            checkpoint_root=nb.checkpoints,
            resume=nb.checkpoints is not None,
            distributed=context,
        )
        if not main:
            return None
        path = nb.reporter.table(experiment.runs, table)
        processes = 1 if context is None else context.world_size
        provenance = {"notebook": notebook, "parameters": values, "processes": processes}
        nb.reporter.json({**provenance, "global_batch": nb.train_config.batch_size}, table)
        print(f"{len(experiment.facts)} runs on {processes} process(es), global batch {nb.train_config.batch_size}")
        print(f"wrote {path}")
        return path
    finally:
        shutdown(context)
