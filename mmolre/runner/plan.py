"""What a parameter file runs: the profile, the notebooks in order and the values injected into each, checked
against the notebooks before any kernel starts (names against each notebook's ``parameters`` cell, a ``common``
name against the notebooks that declare it, values against their declared types and :mod:`mmolre.runner.checks`),
and the values one notebook will run with (its defaults overridden by the file, what ``python -m mmolre train``
trains)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmolre.messages import shown
from mmolre.paths import NOTEBOOKS_DIR, check_profile
from mmolre.runner import RunnerError
from mmolre.runner.checks import Check, check_nested, check_types
from mmolre.runner.notebooks import (
    PARAMETERS_TAG,
    declared_parameters,
    discover_notebooks,
    notebook_defaults,
    parameters_cell_count,
    read_notebook,
)
from mmolre.runner.param_file import apply_overrides, load_param_file
from mmolre.runner.requirements import check_requirements

_RESERVED_KEYS = ("profile", "notebooks", "common", "requires")


@dataclass(frozen=True)
class RunPlan:
    """What to execute: the profile, the notebooks in order and the parameters injected into each."""

    profile: str
    notebooks: tuple[Path, ...]
    parameters: dict[str, dict[str, object]] = field(default_factory=dict)


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
    checks: Mapping[str, Check] | None = None,
) -> RunPlan:
    """Validate the settings of a parameter file against the notebooks and return what to run: names and declared
    types, and the values of the selected notebooks with ``checks`` (parameter name -> check; the command line
    gives :data:`mmolre.parameter_checks.CHECKS`)."""
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
            check_nested(path, values, source, checks or {})
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


def check_param_file(
    param_file: Path | None,
    only: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    overrides: Sequence[tuple[str, str]] = (),
    settings: dict[str, object] | None = None,
    checks: Mapping[str, Check] | None = None,
) -> RunPlan:
    """Everything checked before a parameter file runs: its names, types and ``checks`` (after the ``-p NAME VALUE``
    ``overrides``) against the notebooks (:func:`plan_run`), and its ``requires`` (GPU, checkpoint folders)."""
    source = str(param_file) if param_file else "parameters"
    loaded = load_param_file(param_file) if settings is None else settings
    settings = apply_overrides(loaded, overrides, source)
    plan = plan_run(settings, only, notebooks_dir, source, checks)
    check_requirements(settings.get("requires"), source)
    return plan


def notebook_values(
    param_file: Path | None,
    notebook: str,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    overrides: Sequence[tuple[str, str]] = (),
    checks: Mapping[str, Check] | None = None,
) -> dict[str, object]:
    """The values ``notebook`` runs with for this parameter file: its declared defaults, overridden by ``common``
    and its section (after every check of :func:`check_param_file`); a file that lists its notebooks must list this
    one (its defaults alone would be the quick synthetic run)."""
    source = str(param_file) if param_file else "parameters"
    settings = load_param_file(param_file)
    selected = settings.get("notebooks")
    if isinstance(selected, list) and notebook not in selected:
        raise RunnerError(f"{source} does not select {notebook} (its notebooks: {', '.join(map(str, selected))})")
    plan = check_param_file(param_file, [notebook], notebooks_dir, overrides, settings, checks)
    return {**notebook_defaults(plan.notebooks[0]), **plan.parameters[notebook]}
