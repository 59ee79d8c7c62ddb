"""One notebook section's runs outside its notebook: ``python -m mmolre train`` (train the arms of notebook 03 or 04
and record their runs table, staged and committed like a notebook's outputs) and ``python -m mmolre export`` (one
run, trained or re-evaluated from its checkpoint, written as an export folder) and ``python -m mmolre record`` (one
run trained into its record, see :mod:`mmolre.train.records`). Heavy modules are imported when a command runs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mmolre.interrupts import held_interrupts
from mmolre.paths import NOTEBOOKS_DIR, STAGE_ENV, profile_root, reports_dir

if TYPE_CHECKING:
    import pandas as pd

    from mmolre.protocols.driver import Experiment
    from mmolre.report.notebook import NotebookContext

TRAINABLE = ("03_train_mmolre", "04_baselines")
"""Notebooks whose runs ``train`` can produce (their arms are a list of registered model names)."""
TRAIN_SUFFIX = "-train"
"""The manifest of a ``train`` command's outputs is ``<notebook>-train`` (the notebook's own run keeps its own)."""


def write_dashboard(profile_page: Path | None = None) -> Path:
    """Write the dashboard ``reports/index.html`` from every profile's recorded tables and manifests; with
    ``profile_page``, say which pages to open."""
    from mmolre.results.dashboard import write_site_index

    page = write_site_index(reports_dir())
    if profile_page is not None:
        print(f"open {page} (this profile: {profile_page})", flush=True)
    return page


def _write_indexes(profile: str) -> None:
    """The profile's index pages, then the dashboard."""
    from mmolre.runner.profile_index import write_index

    write_index(profile)
    write_dashboard()


def train_from_params(
    param_file: Path | None,
    notebook: str = "04_baselines",
    notebooks_dir: Path = NOTEBOOKS_DIR,
    overrides: Sequence[tuple[str, str]] = (),
) -> Path | None:
    """Run the arms of ``notebook``'s section and record them; returns the runs table's path (None off rank 0).

    Rank 0 holds the profile's lock (as ``python -m mmolre reports`` does) for the whole run and writes through a
    staging folder that is committed with its own manifest (``<notebook>-train``) only when everything succeeded.
    """
    from mmolre.files import writable_folder
    from mmolre.parameter_checks import CHECKS
    from mmolre.protocols.driver import model_arms, run_experiment
    from mmolre.protocols.summary import summarize
    from mmolre.runner import RunnerError, outputs
    from mmolre.runner.execute import profile_lock
    from mmolre.runner.plan import notebook_values
    from mmolre.train.distributed import init_distributed, launched_by_torchrun, shutdown

    if notebook not in TRAINABLE:
        raise RunnerError(f"train runs the notebooks {', '.join(TRAINABLE)}; got {notebook!r}")
    values = notebook_values(param_file, notebook, notebooks_dir, overrides, checks=CHECKS)
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
            stack.callback(_write_indexes, profile)
            for note in outputs.recover(root):
                print(f"cleanup: {note}", flush=True)
            stage = stack.enter_context(_stage(root, f"{notebook}{TRAIN_SUFFIX}"))
        start = time.perf_counter()
        try:
            if context is not None and not main:
                context.barrier()  # rank 0 loads (and caches) first
            nb = _notebook_setup(values, model=names[0] if notebook == "03_train_mmolre" else "mmolre", echo=main)
            if context is not None and main:
                context.barrier()
            experiment = run_experiment(
                model_arms(names, nb.model_config, nb.train_config, values.get("arm_configs")),
                nb.data,
                values["seeds"],
                checkpoint_root=nb.checkpoints,
                resume=nb.checkpoints is not None,
                distributed=context,
                records=nb.records,
                from_records=True,
            )
            if stage is None:
                return None
            nb.reporter.table(experiment.runs, table)
            processes = 1 if context is None else context.world_size
            provenance = {"notebook": notebook, "parameters": values, "processes": processes}
            nb.reporter.json({**provenance, "global_batch": nb.train_config.batch_size}, table)
            finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            files = outputs.staged_files(stage, profile)
            manifest = outputs.Manifest(f"{notebook}{TRAIN_SUFFIX}", files, finished, time.perf_counter() - start)
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


def _notebook_setup(values: dict[str, object], **options: object) -> NotebookContext:
    """What notebooks 03 and 04 set up for these parameter values, checkpointing where they do (a run they
    finished is only re-evaluated)."""
    from mmolre.report.notebook import setup_notebook

    return setup_notebook(
        str(values["profile"]),
        str(values["dataset"]),
        str(values["data_dir"]),
        values["dataset_options"],
        values["model_config"],
        values["train_config"],
        values["epochs"],
        values["seeds"],
        checkpoints="models" if values["resume"] else "",
        **options,
    )


def _one_run(
    param_file: Path | None, model: str, seed: int, notebooks_dir: Path, export_to: Path | None = None
) -> tuple[Experiment, NotebookContext]:
    """The run ``(model, seed)`` of ``param_file``'s notebook-04 section, trained or resumed from its checkpoint.
    With ``export_to`` (checked, with the dataset, before anything loads or trains) the run keeps its weights;
    without, a model of it already recorded is restored from its record."""
    import yaml

    from mmolre.exports.folder import check_export_folder
    from mmolre.parameter_checks import CHECKS
    from mmolre.protocols.driver import model_arms, run_experiment
    from mmolre.runner.plan import notebook_values

    section = notebook_values(param_file, "04_baselines", notebooks_dir, checks=CHECKS)
    if model not in section["models"]:
        raise ValueError(f"--model {model!r} is not an arm of notebook 04 here (its models: {section['models']})")
    arm_configs = {k: v for k, v in (section.get("arm_configs") or {}).items() if k == model}
    narrowed = [("models", f"[{model}]"), ("seeds", f"[{seed}]"), ("arm_configs", yaml.safe_dump(arm_configs))]
    values = notebook_values(param_file, "04_baselines", notebooks_dir, narrowed, checks=CHECKS)
    if export_to is not None:
        check_export_folder(export_to)
        if values["dataset_options"].get("context"):
            raise ValueError("models trained on context samples (one per video) cannot score single utterances")
    elif not values["resume"]:
        raise ValueError("record: this profile does not resume (set resume: true in its parameter file)")
    nb = _notebook_setup(values)
    arms = model_arms([model], nb.model_config, nb.train_config, values.get("arm_configs"))
    experiment = run_experiment(
        arms,
        nb.data,
        [seed],
        checkpoint_root=nb.checkpoints,
        resume=nb.checkpoints is not None,
        records=nb.records,
        from_records=export_to is None,
    )
    return experiment, nb


def export_from_params(
    param_file: Path | None, model: str, seed: int, folder: Path, notebooks_dir: Path = NOTEBOOKS_DIR
) -> Path:
    """Train (or, when the profile resumes, re-evaluate from its checkpoint) the run ``(model, seed)`` of
    ``param_file``'s notebook-04 section and export it to ``folder``; under reports/ it writes only the run's record
    when the profile resumes (``reports/<profile>/runs/models/``, which notebook 04 then reads instead of
    re-evaluating the run). The folder and the dataset are checked before anything is trained."""
    from mmolre.exports.folder import export

    experiment, nb = _one_run(param_file, model, seed, notebooks_dir, export_to=folder)
    return export(experiment.results[(model, seed)][0], folder, nb.data)


def record_from_params(
    param_file: Path | None, model: str, seed: int, notebooks_dir: Path = NOTEBOOKS_DIR
) -> tuple[list[Path], dict[str, float]]:
    """Train (resuming from its checkpoint) the run ``(model, seed)`` of ``param_file``'s notebook-04 section into
    its record, one per model of the run (a model already recorded is not trained again); returns the record paths
    and the run's test metrics. The profile must resume (``resume: true``): records are written beside checkpoints."""
    from mmolre.protocols.driver import run_name

    experiment, nb = _one_run(param_file, model, seed, notebooks_dir)
    assert nb.records is not None  # _one_run refused a profile that does not resume
    paths = [nb.records / f"{run_name(model, r.tasks, seed)}.json" for r in experiment.results[(model, seed)]]
    test = experiment.runs[experiment.runs["split"] == "test"].iloc[0]
    metrics = {key: float(test[key]) for key in ("acc2_non0", "mae", "corr", "emo_wa") if key in test}
    return paths, metrics


def status_from_params(param_file: Path | None, notebooks_dir: Path = NOTEBOOKS_DIR) -> tuple[pd.DataFrame, str]:
    """Where each run of ``param_file``'s notebook-04 section stands (recorded, part-trained, not started; see
    :mod:`mmolre.protocols.run_status`) and a one-line summary; reads files only. The profile must resume."""
    from mmolre.data.registry import DATASETS
    from mmolre.parameter_checks import CHECKS
    from mmolre.protocols.driver import model_arms
    from mmolre.protocols.run_status import run_status, status_summary
    from mmolre.report.notebook import run_folders, section_configs
    from mmolre.runner.plan import notebook_values

    values = notebook_values(param_file, "04_baselines", notebooks_dir, checks=CHECKS)
    if not values["resume"]:
        raise ValueError("record --status: this profile does not resume (set resume: true in its parameter file)")
    model_config, train_config = section_configs(
        "mmolre", values["model_config"], values["train_config"], values["epochs"]
    )
    arms = model_arms(list(values["models"]), model_config, train_config, values.get("arm_configs"))
    checkpoints, records = run_folders(str(values["profile"]), "models")
    assert checkpoints is not None and records is not None
    frame = run_status(arms, values["seeds"], DATASETS[str(values["dataset"])].tasks, records, checkpoints)
    return frame, status_summary(frame)


def status_table(frame: pd.DataFrame) -> str:
    """The status frame as text: names left-aligned, numbers to 4 significant digits, blanks where unknown."""
    width = {key: int(frame[key].astype(str).str.len().max()) for key in ("model", "tasks", "state")}
    left = {key: (lambda value, n=n: f"{value:<{n}}") for key, n in width.items()}
    return frame.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", formatters=left, justify="left")


@contextmanager
def _stage(root: Path, name: str) -> Iterator[Path]:
    """A staging folder that the process's Reporters write into for the block, removed at its end."""
    from mmolre.runner import outputs
    from mmolre.runner.kernel import kernel_environment

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
