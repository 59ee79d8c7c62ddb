"""The papermill runner: execute ``notebooks/NN_*.ipynb`` into ``reports/<profile>/notebooks/``.

Parameter files (``params/*.yaml``) have this format; every key is optional::

    profile: mosei            # reports go to reports/<profile>/; also injected as the `profile` parameter
    notebooks: [01_data, 03_train_mmolre]   # which notebooks to run (default: all, in sorted order)
    common:                   # each name is injected into every selected notebook that declares it
      data_dir: /path/to/data
    03_train_mmolre:          # per-notebook overrides, applied after `common`
      epochs: 30

Before anything runs, every name is checked against ``papermill.inspect_notebook`` and unknown names are
refused (a ``common`` name must be declared by at least one selected notebook), every value must have the type of
the notebook's declared default (an int is fine for a float; a None default or ``Optional[...]`` also takes ``null``),
a key given twice in one mapping of the file is an error (YAML would keep the last one), every selected notebook
must have exactly one cell tagged ``parameters``, and the ``python3`` kernel must resolve to the interpreter
running the runner.

Each notebook runs against a staging folder (``$MMOLRE_REPORT_STAGE`` for its kernel, see
:mod:`mmolre.report.outputs`): the executed notebook, its HTML export without code and every table, figure and
result it writes appear in ``reports/<profile>/`` only when the whole notebook succeeded, and then replace what its
previous run wrote (outputs it no longer produces are deleted). A failing, interrupted or killed run leaves the
previous outputs as they were; the failed notebook is kept as ``notebooks/<stem>.failed.ipynb``. One run per profile
at a time (a lock file); leftovers of killed runs are cleaned up when the next run starts. Progress lines that the
package writes with :func:`mmolre.progress.progress` are echoed to the terminal while a notebook runs.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import papermill
from papermill.exceptions import PapermillExecutionError

from mmolre.files import atomic_write, writable_folder
from mmolre.interrupts import held_interrupts
from mmolre.messages import shown
from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR_ENV, check_profile, reports_dir
from mmolre.progress import PROGRESS_ENV
from mmolre.report import outputs
from mmolre.report.html import describe_run, export_html, write_profile_index, write_site_index
from mmolre.report.kernel import check_kernel, echo_progress, kernel_environment
from mmolre.report.parameters import (
    KERNEL_NAME,
    PARAMETERS_TAG,
    RunnerError,
    apply_overrides,
    check_nested,
    check_types,
    declared_parameters,
    discover_notebooks,
    load_param_file,
    parameters_cell_count,
    read_notebook,
)
from mmolre.report.reporter import STAGE_ENV, profile_root
from mmolre.report.requirements import check_requirements

_RESERVED_KEYS = ("profile", "notebooks", "common", "requires")


@dataclass(frozen=True)
class RunPlan:
    """What to execute: the profile, the notebooks in order and the parameters injected into each."""

    profile: str
    notebooks: tuple[Path, ...]
    parameters: dict[str, dict[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook and its wall time in seconds."""

    notebook: str
    output: Path
    seconds: float


def _mapping(value: object, where: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RunnerError(f"{where} must be a mapping of parameter names to values, got {type(value).__name__}")
    return value


def plan_run(
    settings: dict[str, object],
    only: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    source: str = "parameters",
) -> RunPlan:
    """Validate the settings of a parameter file against the notebooks and return what to run."""
    available = {path.stem: path for path in discover_notebooks(notebooks_dir)}
    if not available:
        hint = ""
        if Path(notebooks_dir) == NOTEBOOKS_DIR:  # an install without the repository (pip install mmolre, not -e)
            hint = " (the notebooks live in the repository: clone it and run `pip install -e .` or ./run.sh there)"
        raise RunnerError(f"no NN_name.ipynb notebooks found in {notebooks_dir}{hint}")
    valid = ", ".join(available)
    profile = settings.get("profile", "default")
    try:
        check_profile(profile)
    except ValueError as error:
        raise RunnerError(f"{source}: {error}") from None
    overrides = {key: value for key, value in settings.items() if key not in _RESERVED_KEYS}
    unknown = sorted(set(overrides) - set(available))
    if unknown:
        raise RunnerError(f"{source}: unknown notebook section(s) {unknown}; notebooks are: {valid}")
    listed = settings.get("notebooks") or list(available)  # the file's notebooks (``only`` narrows the run)
    for names in (listed, list(only or ())):
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise RunnerError(f"{source}: 'notebooks' must be a list of notebook names, got {shown(names)}")
        missing = [name for name in names if name not in available]
        if missing:
            raise RunnerError(f"unknown notebook(s) {missing}; notebooks are: {valid}")
    selection = list(only) if only else listed
    common = _mapping(settings.get("common"), f"{source}: 'common'")
    if "profile" in common:
        raise RunnerError(f"{source}: set 'profile' at the top level only, not in 'common' or a notebook section")
    parameters: dict[str, dict[str, object]] = {}
    used: set[str] = set()
    for stem in sorted(set(selection) | set(overrides)):
        path = available[stem]
        count = parameters_cell_count(read_notebook(path))
        if count != 1:
            raise RunnerError(f"{path.name}: {count} cells tagged '{PARAMETERS_TAG}', expected exactly 1")
        own = _mapping(overrides.get(stem), f"{source}: section '{stem}'")
        if "profile" in own:
            raise RunnerError(f"{source}: set 'profile' at the top level only, not in 'common' or a notebook section")
        declared = declared_parameters(path)
        shared = {key: value for key, value in common.items() if key in declared}
        if stem in selection:
            used.update(shared)
        values = {"profile": profile, **shared, **own} if stem in selection else own
        bad = sorted(set(values) - set(declared))
        if bad:
            raise RunnerError(
                f"{path.name}: unknown parameter(s) {bad} from {source}; "
                f"its parameters are: {', '.join(declared) or '(none)'}"
            )
        check_types(path, values, declared, source)
        if stem in selection:
            check_nested(path, values, source)
        parameters[stem] = values
    for stem in set(listed) - set(selection):  # a common name for the file's other notebooks is not a typo
        used.update(key for key in common if key in declared_parameters(available[stem]))
    unused = sorted(set(common) - used)
    if unused:
        raise RunnerError(
            f"{source}: 'common' name(s) {unused} are declared by none of the notebooks "
            f"({', '.join(sorted(set(listed) | set(selection)))})"
        )
    ordered = tuple(available[stem] for stem in sorted(set(selection)))
    return RunPlan(profile, ordered, {stem: parameters[stem] for stem in sorted(set(selection))})


def execute_notebook(path: Path, parameters: dict[str, object], profile: str, echo: bool = False) -> NotebookRun:
    """Execute one notebook against a staging folder and move its outputs into ``reports/<profile>/`` on success.

    On failure the previous outputs stay untouched and the executed notebook is kept as
    ``notebooks/<stem>.failed.ipynb``; the staging folder is removed in every case the process survives.
    """
    root = profile_root(profile)
    failed = root / "notebooks" / f"{path.stem}{outputs.FAILED_SUFFIX}"
    start = time.perf_counter()
    stage = partial = None
    try:
        with held_interrupts():  # an interrupt here arrives once `stage` is set, so the `finally` removes it
            stage = outputs.new_stage(root, path.stem)
        staged = stage / profile
        partial = staged / "notebooks" / path.name
        partial.parent.mkdir(parents=True)
        progress_log = stage / "progress.log"
        try:
            environment = {STAGE_ENV: str(stage), PROGRESS_ENV: str(progress_log), REPORTS_DIR_ENV: str(reports_dir())}
            with (
                kernel_environment(environment),
                echo_progress(progress_log, path.stem, echo),
            ):
                papermill.execute_notebook(
                    str(path),
                    str(partial),
                    parameters=parameters,
                    kernel_name=KERNEL_NAME,
                    cwd=str(PROJECT_ROOT),
                    progress_bar=False,
                    # the kernel's own start-up warning (TCP transport) is noise in the terminal, not a result
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
        except PapermillExecutionError as error:
            first_line = next((line for line in (error.source or "").splitlines() if line.strip()), "")
            raise RunnerError(
                f"{path.name} failed in cell [{error.exec_count}] (starting {first_line.strip()!r}): "
                f"{error.ename}: {error.evalue}  [executed notebook kept as {failed}; previous outputs unchanged]"
            ) from error
        except Exception as error:  # kernel death, bad notebook JSON, ...: still name the notebook
            raise RunnerError(f"{path.name} could not be executed: {type(error).__name__}: {error}") from error
        foreign = sorted(entry.name for entry in stage.iterdir() if entry.name not in (profile, progress_log.name))
        if foreign:
            raise RunnerError(
                f"{path.name} wrote outputs for profile(s) {foreign}, but this run is for profile {profile!r} "
                "(create the Reporter with the notebook's `profile` parameter); previous outputs unchanged"
            )
        try:
            export_html(partial, staged / "html" / f"{path.stem}.html")
        except Exception as error:  # nbconvert's errors come from deep inside its templates: name the notebook
            raise RunnerError(f"{path.name} ran but its HTML export failed: {type(error).__name__}: {error}") from error
        seconds = time.perf_counter() - start
        finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        manifest = outputs.Manifest(path.stem, outputs.staged_files(stage, profile), finished, seconds, parameters)
        with held_interrupts():  # an interrupt now takes effect once the outputs are in place and the stage is gone
            outputs.commit(root, stage, manifest)
            outputs.discard_stage(stage)
    except RunnerError:
        if partial is not None and partial.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, failed)
        raise
    finally:
        if stage is not None:
            with held_interrupts():
                outputs.discard_stage(stage)
    return NotebookRun(path.stem, root / "notebooks" / path.name, seconds)


def interrupted_message(
    root: Path,
    before: dict[str, outputs.Manifest],
    finished: Sequence[str],
    running: str | None,
    planned: Sequence[str],
) -> str:
    """What an interrupt left: the notebooks whose new outputs are in place (those that ``finished``, and the one
    ``running`` if its commit completed: its manifest differs from ``before``), the one cut short (previous outputs
    kept) and those that did not run."""
    committed = running is not None and outputs.manifests(root).get(running) != before.get(running)
    done = [*finished, running] if committed else list(finished)
    parts = [f"{', '.join(done)} finished and replaced their outputs"] if done else []
    if running and not committed:
        parts.append(f"{running} was cut short and left its previous outputs unchanged")
    rest = [stem for stem in planned if stem not in done and stem != running]
    if rest:
        parts.append(f"{', '.join(rest)} did not run")
    return "interrupted: " + ("; ".join(parts) or "nothing had started")


@contextmanager
def profile_lock(root: Path) -> Iterator[None]:
    """Hold ``<root>/.lock`` for the block: one runner per profile (the OS releases it if the runner is killed)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise RunnerError(f"another `python -m mmolre reports` is running for profile {root.name!r}") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(profile: str) -> Path:
    """Write ``reports/<profile>/README.md`` and ``html/index.html`` from the manifests, and ``reports/index.html``."""
    root = profile_root(profile)
    found = outputs.manifests(root)
    failed = outputs.failed_notebooks(root)
    lines = [
        f"# Reports for profile `{profile}`",
        "",
        "Generated by `python -m mmolre reports`; do not edit. The same as a web page without code: "
        "[html/index.html](html/index.html).",
        "",
    ]
    for stem in sorted(set(found) | set(failed)):
        lines += [f"## {stem}", ""]
        if stem in failed:
            rest = "what follows is from the last successful run." if stem in found else "it has no outputs."
            lines += [
                f"**The latest run of this notebook failed** ([{Path(failed[stem]).name}]({failed[stem]})); {rest}"
            ]
            lines.append("")
        if stem in found:
            lines += [describe_run(found[stem]), "", *_markdown_files(found[stem].files), ""]
    other = outputs.unattributed(root)
    if other:
        lines += ["## Other files", "", "Not written by a recorded runner run.", "", *_markdown_files(other), ""]
    if not found and not failed and not other:
        lines += ["(no outputs)", ""]
    text = "\n".join(lines).rstrip() + "\n"
    readme = atomic_write(root / "README.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    write_profile_index(root)
    site = reports_dir() / "index.html"
    if site.is_dir():  # a profile named index.html (no longer a valid name) would block the site index forever
        aside = site.with_name(f".index.html.folder-{datetime.now(UTC):%Y%m%d%H%M%S}")
        os.replace(site, aside)
        print(f"moved the folder {site} (a profile named like the site index) to {aside}", flush=True)
    write_site_index(reports_dir())
    return readme


def _markdown_files(files: Sequence[str]) -> list[str]:
    """Markdown list of a profile's output files (links relative to the profile folder); figures are shown inline."""
    entries, figures = outputs.grouped(files)
    return [
        f"- {label}: [{Path(name).name}]({name})" + (f" ([csv]({csv}))" if csv else "") for label, name, csv in entries
    ] + [f"- ![{Path(name).stem}]({name})" for name in figures]


def check_param_file(
    param_file: Path | None,
    only: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    overrides: Sequence[tuple[str, str]] = (),
) -> RunPlan:
    """Everything checked before a parameter file runs: its names and types (after the ``-p NAME VALUE``
    ``overrides``) against the notebooks, and its ``requires`` (GPU, checkpoint folders)."""
    source = str(param_file) if param_file else "parameters"
    settings = apply_overrides(load_param_file(param_file), overrides, source)
    plan = plan_run(settings, only, notebooks_dir, source)
    check_requirements(settings.get("requires"), source)
    return plan


def run_reports(
    param_file: Path | None = None,
    only: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    echo: bool = True,
    overrides: Sequence[tuple[str, str]] = (),
) -> list[NotebookRun]:
    """Validate everything, then execute the selected notebooks in order; stops at the first failure."""
    plan = check_param_file(param_file, only, notebooks_dir, overrides)
    root = profile_root(plan.profile)
    writable_folder(root, "reports folder")
    check_kernel()
    runs: list[NotebookRun] = []
    with profile_lock(root):
        for note in outputs.recover(root):
            if echo:
                print(f"cleanup: {note}", flush=True)
        before = outputs.manifests(root)
        running = None
        try:
            for path in plan.notebooks:
                running = path.stem
                if echo:
                    print(f"running {path.name} ...", flush=True)
                runs.append(execute_notebook(path, plan.parameters[path.stem], plan.profile, echo))
                running = None
                if echo:
                    print(f"  done in {runs[-1].seconds:.1f} s", flush=True)
        except KeyboardInterrupt as interrupt:
            finished = [run.notebook for run in runs]
            message = interrupted_message(root, before, finished, running, [path.stem for path in plan.notebooks])
            raise type(interrupt)(message) from None
        finally:
            with held_interrupts():
                write_index(plan.profile)
            if echo:
                print(summary(runs), flush=True)
                print(f"open {reports_dir() / 'index.html'} (this profile: {root / 'html' / 'index.html'})", flush=True)
    return runs


def summary(runs: Sequence[NotebookRun]) -> str:
    """A short table of wall time per notebook."""
    lines = [f"{'notebook':<32} {'seconds':>8}"] + [f"{run.notebook:<32} {run.seconds:>8.1f}" for run in runs]
    lines.append(f"{'total':<32} {sum(run.seconds for run in runs):>8.1f}")
    return "\n".join(lines)
