"""``python -m mmolre train``: the runs of one notebook section of a parameter file, from the command line.

The section (``03_train_mmolre`` or ``04_baselines``) is validated exactly as ``python -m mmolre reports`` does
(:func:`~mmolre.report.runner.plan_run`: names and types against the notebook's parameters cell); the notebook's own
defaults fill what the file leaves out. The runs go through the notebooks' code path (:func:`setup_notebook`,
:func:`model_arms`, :func:`run_experiment`) and are recorded as the notebook records them, in
``reports/<profile>/tables/<name>_runs.csv`` (and ``.md``), with what produced them (the notebook, its parameters,
the number of processes and the global batch) in ``reports/<profile>/results/<name>_runs.json``.

Under ``torchrun`` (``WORLD_SIZE`` set) every process trains data-parallel (see :mod:`mmolre.train.distributed`);
rank 0 loads the dataset first (so a feature cache is written once), and only rank 0 writes reports: it holds the
profile's lock for the whole run and stages its files, which replace the profile's only when everything succeeded
and are recorded in their own manifest ``<notebook>-train`` (a table the notebook wrote before is then credited to
this command in the index).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from mmolre.files import writable_folder
from mmolre.interrupts import held_interrupts
from mmolre.paths import NOTEBOOKS_DIR
from mmolre.protocols.driver import model_arms, run_experiment
from mmolre.protocols.summary import summarize
from mmolre.report import outputs
from mmolre.report.kernel import kernel_environment
from mmolre.report.notebook import setup_notebook
from mmolre.report.parameters import RunnerError, discover_notebooks, load_param_file, notebook_defaults
from mmolre.report.reporter import STAGE_ENV, profile_root
from mmolre.report.requirements import check_requirements
from mmolre.report.runner import plan_run, profile_lock, write_index
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
    """Run the arms of ``notebook``'s section and record them; returns the runs table's path (None off rank 0).

    Rank 0 holds the profile's lock (as ``python -m mmolre reports`` does) for the whole run and writes through a
    staging folder that is committed with its own manifest (``<notebook>-train``) only when everything succeeded.
    """
    values = notebook_values(param_file, notebook, notebooks_dir)
    names = list(values["models"]) if notebook == "04_baselines" else [values["model"]]
    table = "baselines_runs" if notebook == "04_baselines" else f"{values['model']}_runs"
    train_config = dict(values["train_config"])
    profile = str(values["profile"])
    root = profile_root(profile)
    context = init_distributed(str(train_config.get("device", "auto"))) if launched_by_torchrun() else None
    main = context is None or context.is_main
    with ExitStack() as stack:
        stage = None
        if main:
            writable_folder(root, "reports folder")
            stack.enter_context(profile_lock(root))
            stack.callback(write_index, profile)
            for note in outputs.recover(root):
                print(f"cleanup: {note}", flush=True)
            stage = stack.enter_context(_stage(root, f"{notebook}{TRAIN_SUFFIX}"))
        start = time.perf_counter()
        try:
            if context is not None and not main:
                context.barrier()  # rank 0 loads (and caches) first
            nb = setup_notebook(
                profile,
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
            if stage is None:
                return None
            nb.reporter.table(experiment.runs, table)
            processes = 1 if context is None else context.world_size
            provenance = {"notebook": notebook, "parameters": values, "processes": processes}
            nb.reporter.json({**provenance, "global_batch": nb.train_config.batch_size}, table)
            finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            files = outputs.staged_files(stage, profile)
            manifest = outputs.Manifest(
                f"{notebook}{TRAIN_SUFFIX}", files, finished, time.perf_counter() - start, values
            )
            with held_interrupts():
                outputs.commit(root, stage, manifest)
            path = root / "tables" / f"{table}.csv"
            print(f"{len(experiment.facts)} runs on {processes} process(es), global batch {nb.train_config.batch_size}")
            test = summarize(experiment.runs, split="test")
            print(f"test split, mean ± std over seeds:\n{test.to_string(index=False)}")
            print(f"wrote {path}")
            return path
        finally:
            shutdown(context)


TRAIN_SUFFIX = "-train"
"""The manifest of a ``train`` command's outputs is ``<notebook>-train`` (the notebook's own run keeps its own)."""


@contextmanager
def _stage(root: Path, name: str) -> Iterator[Path]:
    """A staging folder that the process's Reporters write into for the block, removed at its end."""
    stage = None
    try:
        with held_interrupts():
            stage = outputs.new_stage(root, name)
        with kernel_environment({STAGE_ENV: str(stage)}):
            yield stage
    finally:
        if stage is not None:
            with held_interrupts():
                outputs.discard_stage(stage)
