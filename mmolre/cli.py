"""Command line of mmolre: run the notebooks into reports, train one section, export one run and score transcripts
with an exported model, fetch or check the real data, and keep the README and notebooks tidy."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from mmolre.interrupts import Terminated, interruptible_by_sigterm
from mmolre.paths import (
    DATA_DIR_ENV,
    NOTEBOOKS_DIR,
    PROJECT_ROOT,
    REPORTS_DIR_ENV,
    profile_root,
    reports_dir,
)
from mmolre.section_runs import (
    TRAINABLE,
    export_from_params,
    record_from_params,
    status_from_params,
    status_table,
    train_from_params,
    write_dashboard,
)

# Each command imports what it needs when it runs (and only the command being run defines the arguments that come
# from its module), so `python -m mmolre --help` answers without loading torch, papermill or the report code.
# `reports` and `train` write the dashboard reports/index.html (mmolre.results.dashboard) after their runs.

EXAMPLES = """examples:
  python -m mmolre reports                                    every notebook on built-in data -> reports/default/
  python -m mmolre reports -f params/mosi.yaml --data-dir D   a real-data profile (D holds mosi/, mosei/, iemocap/)
  python -m mmolre reports -f params/mosi.yaml -p seeds "[1111]" -p epochs 2 --only 04_baselines
  python -m mmolre data fetch --dir D && python -m mmolre data check --dir D
  python -m mmolre export -f params/mosi.yaml --model mmolre --seed 1111 --to exports/mosi-mmolre
  python -m mmolre record -f params/mosei_ft.yaml --model hard_sharing --seed 1112   one run into its record
  python -m mmolre record -f params/mosei_ft.yaml --status    which runs are recorded, part-trained, missing
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
    record = commands.add_parser(
        "record",
        help="train (or resume) one run of notebook 04's section into its record under reports/<profile>/runs/models/",
        description="Train one run of a resuming profile's notebook-04 section, continuing from its per-epoch "
        "checkpoint, and write its record (everything but the weights) to reports/<profile>/runs/models/, which "
        "notebook 04 reads instead of training the run: a profile's runs can be trained one at a time, in several "
        "sittings or on several machines. A model already recorded is not trained again.",
    )
    record.add_argument("-f", "--params", type=Path, default=None, help="YAML parameter file (see params/)")
    record.add_argument("--model", help="the arm (model name) of notebook 04 to train")
    record.add_argument("--seed", type=int, help="its seed")
    record.add_argument(
        "--status",
        action="store_true",
        help="train nothing: list every run of the section as recorded, part-trained (epochs done) or not started, "
        "with its training time, and estimate the time left",
    )
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
    for sub in (reports, train, export, record, check, normalize):
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
        after = partial(write_dashboard, profile_root(plan.profile) / "html" / "index.html")
        runs = run_reports(param_file, only, notebooks_dir, overrides=overrides, after=after, checks=CHECKS)
        times.append((str(param_file), sum(run.seconds for run in runs)))
    if len(files) > 1:
        print("\n".join(f"{name:<40} {seconds:>8.1f} s" for name, seconds in times))
        print(f"{'all profiles':<40} {sum(seconds for _, seconds in times):>8.1f} s")
        if reports_dir().resolve() == default_root().resolve():
            _readme(None, default_root())


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
        if args.command == "record":
            if args.status:
                frame, summary = status_from_params(args.params, args.notebooks_dir)
                print(f"{status_table(frame)}\n{summary}")
                return 0
            if args.model is None or args.seed is None:
                raise RunnerError("record: give --model and --seed (or --status)")
            try:
                with interruptible_by_sigterm():
                    paths, metrics = record_from_params(args.params, args.model, args.seed, args.notebooks_dir)
            except ValueError as error:  # bad data or configuration values, a refused record
                raise RunnerError(str(error)) from error
            shown = ", ".join(f"{key} {value:.4f}" for key, value in metrics.items())
            print(f"recorded {args.model} seed {args.seed} (test: {shown}): {', '.join(map(str, paths))}")
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
