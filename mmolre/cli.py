"""Command line of mmolre: run the notebooks into reports, train one section, export one run and score transcripts
with an exported model, fetch or check the real data, and keep the README and notebooks tidy."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mmolre.interrupts import Terminated, held_interrupts, interruptible_by_sigterm
from mmolre.paths import (
    DATA_DIR_ENV,
    NOTEBOOKS_DIR,
    PROJECT_ROOT,
    REPORTS_DIR_ENV,
    STAGE_ENV,
    profile_root,
    reports_dir,
)

if TYPE_CHECKING:
    from mmolre.report.notebook import NotebookContext

# Each command imports what it needs when it runs (and only the command being run defines the arguments that come
# from its module), so `python -m mmolre --help` answers without loading torch, papermill or the report code.
# `reports` and `train` write the dashboard reports/index.html (mmolre.results.dashboard) after their runs.

TRAINABLE = ("03_train_mmolre", "04_baselines")
"""Notebooks whose runs ``train`` can produce (their arms are a list of registered model names)."""
TRAIN_SUFFIX = "-train"
"""The manifest of a ``train`` command's outputs is ``<notebook>-train`` (the notebook's own run keeps its own)."""


EXAMPLES = """examples:
  python -m mmolre reports                                    every notebook on built-in data -> reports/default/
  python -m mmolre reports -f params/mosi.yaml --data-dir D   a real-data profile (D holds mosi/, mosei/, iemocap/)
  python -m mmolre reports -f params/mosi.yaml -p seeds "[1111]" -p epochs 2 --only 04_baselines
  python -m mmolre data fetch --dir D && python -m mmolre data check --dir D
  python -m mmolre export -f params/mosi.yaml --model mmolre --seed 1111 --to exports/mosi-mmolre
  python -m mmolre predict --model FOLDER --text "what a wonderful film"
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mmolre")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; ``command`` (the one being run) is the only one whose module-defined arguments are added."""
    parser = argparse.ArgumentParser(
        prog="python -m mmolre",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mmolre {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    reports = commands.add_parser(
        "reports",
        help="execute the notebooks into reports/<profile>/",
        description="Check every parameter file, then execute its notebooks with papermill into reports/<profile>/ "
        "(staged: an interrupted run keeps the previous outputs).",
    )
    reports.add_argument(
        "-f",
        "--params",
        type=Path,
        nargs="+",
        default=None,
        help="YAML parameter file(s) (see params/); several run one after another, all checked first",
    )
    reports.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="notebook stems to run, e.g. 01_data")
    reports.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override one parameter for every notebook (VALUE read as YAML, checked like the file's values)",
    )
    reports.add_argument("--data-dir", type=Path, help=f"folder of the real data files (default: ${DATA_DIR_ENV})")
    readme = commands.add_parser("readme", help="regenerate the results of README.md and docs/results.md from reports/")
    readme.add_argument("--reports-dir", type=Path, default=PROJECT_ROOT / "reports", help="reports to read")
    readme.add_argument(
        "--readme", type=Path, default=None, help="one file to update (default: README.md and docs/results.md)"
    )
    train = commands.add_parser(
        "train", help="train one notebook section's runs (also under torchrun) into reports/<profile>/tables/"
    )
    train.add_argument("-f", "--params", type=Path, default=None, help="YAML parameter file (see params/)")
    train.add_argument("--notebook", default="04_baselines", choices=TRAINABLE, help="the section to train")
    train.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override one parameter (VALUE read as YAML, checked like the file's values)",
    )
    export = commands.add_parser(
        "export",
        help="train (or re-evaluate from its checkpoint) one run of notebook 04's section and export it",
        description="Export one run of a parameter file's notebook-04 section (the command a profile's model card "
        "names): trained again, or re-evaluated from the profile's checkpoint when it resumes; the profile's "
        "reports are not touched.",
    )
    export.add_argument("-f", "--params", type=Path, default=None, help="YAML parameter file (see params/)")
    export.add_argument("--model", required=True, help="the arm (model name) of notebook 04 to export")
    export.add_argument("--seed", type=int, required=True, help="its seed")
    export.add_argument("--to", type=Path, required=True, metavar="FOLDER", help="the export folder to write")
    check = commands.add_parser("check-notebooks", help="check notebook hygiene (parameters cell, kernelspec, outputs)")
    normalize = commands.add_parser("normalize-notebooks", help="set every notebook's kernelspec to python3")
    predict = commands.add_parser("predict", help="score transcripts with an exported model")
    if command == "predict":
        from mmolre.exports.predict import add_arguments

        add_arguments(predict)
    data = commands.add_parser("data", help="download the real data files from their sources, or check them")
    if command == "data":
        from mmolre.data.fetch import add_arguments

        add_arguments(data)
    for sub in (reports, train, export, check, normalize):
        sub.add_argument("--notebooks-dir", type=Path, default=NOTEBOOKS_DIR, help="folder of NN_name.ipynb notebooks")
    return parser


def _readme(readme: Path | None, reports: Path) -> int:
    """Regenerate the README's results block; bad reports or a README without markers exit 1 with the reason."""
    from mmolre.results.readme import write_readme

    try:
        changed = write_readme(readme, reports)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{readme or 'README.md, docs/results.md'}: results {'regenerated' if changed else 'already up to date'}")
    return 0


def _reports(
    files: Sequence[Path | None],
    only: Sequence[str] | None,
    notebooks_dir: Path,
    overrides: Sequence[tuple[str, str]] = (),
) -> None:
    """Check every parameter file, then run them in order, writing the dashboard after each; with several, print the
    wall time of each profile and, when they wrote to the project's own reports folder, regenerate the README's
    results block."""
    from mmolre.parameter_checks import CHECKS
    from mmolre.results.recorded import default_root
    from mmolre.runner.execute import run_reports
    from mmolre.runner.plan import check_param_file

    plans = [check_param_file(param_file, only, notebooks_dir, overrides, checks=CHECKS) for param_file in files]
    times = []
    for param_file, plan in zip(files, plans):
        after = partial(_write_dashboard, profile_root(plan.profile) / "html" / "index.html")
        runs = run_reports(param_file, only, notebooks_dir, overrides=overrides, after=after, checks=CHECKS)
        times.append((str(param_file), sum(run.seconds for run in runs)))
    if len(files) > 1:
        print("\n".join(f"{name:<40} {seconds:>8.1f} s" for name, seconds in times))
        print(f"{'all profiles':<40} {sum(seconds for _, seconds in times):>8.1f} s")
        if reports_dir().resolve() == default_root().resolve():
            _readme(None, default_root())


def _write_dashboard(profile_page: Path | None = None) -> Path:
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
    _write_dashboard()


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


def export_from_params(
    param_file: Path | None, model: str, seed: int, folder: Path, notebooks_dir: Path = NOTEBOOKS_DIR
) -> Path:
    """Train (or, when the profile resumes, re-evaluate from its checkpoint) the run ``(model, seed)`` of
    ``param_file``'s notebook-04 section and export it to ``folder``; writes nothing under reports/. The folder and
    the dataset are checked before anything is trained."""
    import yaml

    from mmolre.exports.folder import check_export_folder, export
    from mmolre.parameter_checks import CHECKS
    from mmolre.protocols.driver import model_arms, run_experiment
    from mmolre.runner.plan import notebook_values

    section = notebook_values(param_file, "04_baselines", notebooks_dir, checks=CHECKS)
    if model not in section["models"]:
        raise ValueError(f"--model {model!r} is not an arm of notebook 04 here (its models: {section['models']})")
    arm_configs = {k: v for k, v in (section.get("arm_configs") or {}).items() if k == model}
    narrowed = [("models", f"[{model}]"), ("seeds", f"[{seed}]"), ("arm_configs", yaml.safe_dump(arm_configs))]
    values = notebook_values(param_file, "04_baselines", notebooks_dir, narrowed, checks=CHECKS)
    check_export_folder(folder)
    if values["dataset_options"].get("context"):
        raise ValueError("models trained on context samples (one per video) cannot score single utterances")
    nb = _notebook_setup(values)
    arms = model_arms([model], nb.model_config, nb.train_config, values.get("arm_configs"))
    experiment = run_experiment(
        arms, nb.data, [seed], checkpoint_root=nb.checkpoints, resume=nb.checkpoints is not None
    )
    return export(experiment.results[(model, seed)][0], folder, nb.data)


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser(argv[0] if argv else None).parse_args(argv)
    from mmolre.runner import RunnerError
    from mmolre.runner.notebooks import discover_notebooks, normalize_notebook, notebook_problems

    os.environ[REPORTS_DIR_ENV] = str(reports_dir())  # absolute from here on, for this process and its kernels
    try:
        if args.command == "reports":
            if args.data_dir is not None:
                if not args.data_dir.is_dir():
                    raise RunnerError(f"--data-dir {args.data_dir} is not a folder")
                os.environ[DATA_DIR_ENV] = str(args.data_dir.resolve())  # read by this process and its kernels
            with interruptible_by_sigterm():
                _reports(args.params or [None], args.only, args.notebooks_dir, [tuple(p) for p in args.parameter])
            return 0
        if args.command == "readme":
            return _readme(args.readme, args.reports_dir)
        if args.command == "data":
            from mmolre.data.fetch import data_command

            return data_command(args.data_command, args.dir, args.only, getattr(args, "base_url", None))
        if args.command == "predict":
            from mmolre.exports.predict import predict_command

            print(predict_command(args.model, args.text, args.input, args.format, args.device), end="")
            return 0
        if args.command == "export":
            try:
                with interruptible_by_sigterm():
                    folder = export_from_params(args.params, args.model, args.seed, args.to, args.notebooks_dir)
            except ValueError as error:  # bad data or configuration values, a refused export folder
                raise RunnerError(str(error)) from error
            print(f"exported {args.model} seed {args.seed} to {folder}")
            return 0
        if args.command == "train":
            try:
                with interruptible_by_sigterm():
                    train_from_params(
                        args.params, args.notebook, args.notebooks_dir, [tuple(p) for p in args.parameter]
                    )
            except ValueError as error:  # bad data or configuration values (DataError, StrictConfig)
                raise RunnerError(str(error)) from error
            return 0
        notebooks = discover_notebooks(args.notebooks_dir)
        if args.command == "normalize-notebooks":
            for path in notebooks:
                if normalize_notebook(path):
                    print(f"normalized kernelspec of {path.name}")
            return 0
        problems = [problem for path in notebooks for problem in notebook_problems(path)]
        print("\n".join(problems) if problems else f"{len(notebooks)} notebooks OK")
        return 1 if problems else 0
    except (RunnerError, ValueError) as error:  # ValueError: a bad profile name or a damaged manifest
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # an unwritable or missing folder: the message names it
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (Terminated); the runner says what was kept
        print(str(interrupt) or "interrupted", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
