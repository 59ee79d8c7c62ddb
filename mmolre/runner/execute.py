"""Executing the notebooks of a checked plan (:mod:`mmolre.runner.plan`) into ``reports/<profile>/``.

Each notebook runs against a staging folder (``$MMOLRE_REPORT_STAGE`` for its kernel, see
:mod:`mmolre.runner.outputs`): the executed notebook, its HTML export without code and every table, figure and
result it writes appear in ``reports/<profile>/`` only when the whole notebook succeeded, and then replace what its
previous run wrote (outputs it no longer produces are deleted). A failing, interrupted or killed run leaves the
previous outputs as they were; the failed notebook is kept as ``notebooks/<stem>.failed.ipynb``. One run per profile
at a time (a lock file, :func:`profile_lock`); leftovers of killed runs are cleaned up when the next run starts.
Progress lines that the package writes with :func:`mmolre.progress.progress` are echoed to the terminal while a
notebook runs. The ``python3`` kernel must resolve to the interpreter running the runner. The parameters a run
was given are recorded by papermill in the executed notebook (read them with :mod:`mmolre.notebook_parameters`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import papermill
from filelock import FileLock, Timeout
from papermill.exceptions import PapermillExecutionError

from mmolre.files import writable_folder
from mmolre.interrupts import held_interrupts
from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR_ENV, STAGE_ENV, profile_root, reports_dir
from mmolre.progress import PROGRESS_ENV
from mmolre.runner import RunnerError, outputs
from mmolre.runner.checks import Check
from mmolre.runner.kernel import check_kernel, echo_progress, kernel_environment
from mmolre.runner.notebooks import KERNEL_NAME
from mmolre.runner.pages import export_html
from mmolre.runner.plan import check_param_file
from mmolre.runner.profile_index import write_index


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook and its wall time in seconds."""

    notebook: str
    output: Path
    seconds: float


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
        manifest = outputs.Manifest(path.stem, outputs.staged_files(stage, profile), finished, seconds)
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
    lock = FileLock(root / ".lock", timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout as error:
        raise RunnerError(f"another `python -m mmolre reports` is running for profile {root.name!r}") from error
    try:
        yield
    finally:
        lock.release()


def run_reports(
    param_file: Path | None = None,
    only: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    echo: bool = True,
    overrides: Sequence[tuple[str, str]] = (),
    after: Callable[[], object] | None = None,
    checks: Mapping[str, Check] | None = None,
) -> list[NotebookRun]:
    """Validate everything (:func:`~mmolre.runner.plan.check_param_file` with ``checks``), then execute the
    selected notebooks in order; stops at the first failure. While the profile is still locked, its index is
    rewritten and ``after()`` is called (the command line writes the dashboard there), whatever happened."""
    plan = check_param_file(param_file, only, notebooks_dir, overrides, checks=checks)
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
            if after is not None:
                with held_interrupts():
                    after()
    return runs


def summary(runs: Sequence[NotebookRun]) -> str:
    """A short table of wall time per notebook."""
    lines = [f"{'notebook':<32} {'seconds':>8}"] + [f"{run.notebook:<32} {run.seconds:>8.1f}" for run in runs]
    lines.append(f"{'total':<32} {sum(run.seconds for run in runs):>8.1f}")
    return "\n".join(lines)
