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
running the runner. An executed notebook is written to a temporary folder and moved into place only on
success, so a failing run never replaces a previous good notebook (the failed notebook is kept as
``<stem>.failed.ipynb`` for inspection).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
import yaml
from papermill.exceptions import PapermillExecutionError

from mmolre.files import atomic_write
from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from mmolre.report.reporter import Reporter
from mmolre.report.requirements import requirement_problems

KERNEL_NAME = "python3"
PARAMETERS_TAG = "parameters"
_NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_-]+\.ipynb$")
_RESERVED_KEYS = ("profile", "notebooks", "common", "requires")


class RunnerError(RuntimeError):
    """A notebook run that cannot start or that failed; the message names the notebook and the problem."""


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


def discover_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The ``NN_name.ipynb`` notebooks of ``directory``, sorted by name."""
    return sorted(path for path in Path(directory).glob("*.ipynb") if _NOTEBOOK_NAME.match(path.name))


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def parameters_cell_count(notebook: nbformat.NotebookNode) -> int:
    """How many cells carry the ``parameters`` tag."""
    return sum(PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []) for cell in notebook.cells)


def notebook_problems(path: Path) -> list[str]:
    """Hygiene problems of a committed notebook: parameters cell (with ``profile``), kernelspec, stored outputs."""
    notebook = _read(path)
    problems = []
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel != KERNEL_NAME:
        problems.append(f"{path.name}: kernelspec is {kernel!r}, expected {KERNEL_NAME!r} (run normalize-notebooks)")
    count = parameters_cell_count(notebook)
    if count != 1:
        problems.append(f"{path.name}: {count} cells tagged '{PARAMETERS_TAG}', expected exactly 1")
    elif kernel == KERNEL_NAME:
        declared = declared_parameters(path)
        if "profile" not in declared:
            problems.append(f'{path.name}: the parameters cell does not define `profile: str = "default"`')
        unparsed = sorted(_assigned_names(notebook) - set(declared))
        if unparsed:
            problems.append(
                f"{path.name}: papermill cannot parse the parameter line(s) of {unparsed} "
                "(keep each on one line as `name: type = value  # plain comment`)"
            )
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{path.name}: cell {index} has stored outputs or an execution count")
    return problems


def _assigned_names(notebook: nbformat.NotebookNode) -> set[str]:
    """Names assigned at top level of the ``parameters`` cell, as Python itself reads them."""
    cell = next(c for c in notebook.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", []))
    names: set[str] = set()
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def declared_parameters(path: Path) -> dict[str, dict[str, object]]:
    """The parameters papermill finds in the notebook's ``parameters`` cell (name -> inferred info)."""
    try:
        return dict(papermill.inspect_notebook(str(path)))
    except ValueError as error:
        raise RunnerError(f"{path.name}: papermill cannot read its parameters: {error}") from error


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list, tuple),
    "tuple": (list, tuple),
    "dict": (Mapping,),
}
"""Python values a YAML value may be for each declared parameter type (an int is fine where a float is declared)."""
_UNPARSED = object()
_OPTIONAL = re.compile(r"^(?:typing\.)?Optional\[(.+)\]$|^(.+?)\s*\|\s*None$|^None\s*\|\s*(.+)$")


def _accepted(type_name: str, default: str) -> tuple[str, tuple[type, ...], bool] | None:
    """The type's name, the accepted Python types and whether None is accepted for a declared parameter (an
    unannotated one is judged by its default value), or None when the type is unknown."""
    try:
        literal = ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        literal = _UNPARSED
    name = type_name.strip().strip("'\"")
    optional = _OPTIONAL.match(name)
    nullable = literal is None or optional is not None
    if optional:
        name = next(group for group in optional.groups() if group).strip()
    if name == "None":  # no annotation: judge by the default value
        if literal is None or literal is _UNPARSED:
            return None
        name = type(literal).__name__
    base = name.split("[", 1)[0].rsplit(".", 1)[-1].lower()
    if base not in _TYPES:
        return None
    return name, _TYPES[base], nullable


def _is_a(value: object, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def check_types(path: Path, values: dict[str, object], declared: dict[str, dict[str, object]], source: str) -> None:
    """Refuse a value whose type differs from the notebook's declared default (``name: type = default``)."""
    for name, value in values.items():
        info = declared[name]
        type_name, default = str(info.get("inferred_type_name")), str(info.get("default"))
        accepted = _accepted(type_name, default)
        if accepted is None:
            continue
        wanted, types, nullable = accepted
        if (value is None and nullable) or _is_a(value, types):
            continue
        hint = ""
        if isinstance(value, str) and float in types and re.fullmatch(r"[-+]?[\d.]+[eE][-+]?\d+", value):
            hint = " (YAML reads 1e-3 as text: write 1.0e-3)"
        shown, declaration = (
            (wanted, f"{name} = {default}") if type_name == "None" else (type_name, f"{name}: {type_name} = {default}")
        )
        raise RunnerError(
            f"{path.name}: parameter {name!r} from {source} must be {shown} (declared `{declaration}`), "
            f"got {type(value).__name__} {value!r}{hint}"
        )


def normalize_notebook(path: Path) -> bool:
    """Set the kernelspec to ``python3``; returns True when the file changed."""
    notebook = _read(path)
    wanted = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
    if dict(notebook.metadata.get("kernelspec", {})) == wanted:
        return False
    notebook.metadata["kernelspec"] = wanted
    atomic_write(path, lambda tmp: nbformat.write(notebook, str(tmp)))
    return True


class _DuplicateKey(yaml.YAMLError):
    """A mapping of a parameter file names the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (plain YAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # the base class reports unhashable keys
                continue
            line = key_node.start_mark.line + 1
            if key in first:
                raise _DuplicateKey(
                    f"line {line}: duplicate key {key!r} (first given at line {first[key]}); "
                    "each key may appear only once in a mapping"
                )
            first[key] = line
        return super().construct_mapping(node, deep)


def load_param_file(path: Path | None) -> dict[str, object]:
    """Read a YAML parameter file (``None`` -> empty); the top level must be a mapping without duplicate keys."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise RunnerError(f"parameter file {path} does not exist")
    try:
        content = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except _DuplicateKey as error:
        raise RunnerError(f"parameter file {path}, {error}") from None
    except yaml.YAMLError as error:
        raise RunnerError(f"parameter file {path} is not valid YAML: {error}") from error
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise RunnerError(f"parameter file {path} must be a mapping at the top level, got {type(content).__name__}")
    return content


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
        raise RunnerError(f"no NN_name.ipynb notebooks found in {notebooks_dir}")
    valid = ", ".join(available)
    profile = settings.get("profile", "default")
    if not isinstance(profile, str):
        raise RunnerError(f"{source}: 'profile' must be a string, got {profile!r}")
    try:
        Reporter(profile)  # validates the profile name
    except ValueError as error:
        raise RunnerError(f"{source}: {error}") from None
    overrides = {key: value for key, value in settings.items() if key not in _RESERVED_KEYS}
    unknown = sorted(set(overrides) - set(available))
    if unknown:
        raise RunnerError(f"{source}: unknown notebook section(s) {unknown}; notebooks are: {valid}")
    selection = list(only) if only else settings.get("notebooks") or list(available)
    if not isinstance(selection, list) or not all(isinstance(name, str) for name in selection):
        raise RunnerError(f"{source}: 'notebooks' must be a list of notebook names, got {selection!r}")
    missing = [name for name in selection if name not in available]
    if missing:
        raise RunnerError(f"unknown notebook(s) {missing}; notebooks are: {valid}")
    common = _mapping(settings.get("common"), f"{source}: 'common'")
    if "profile" in common:
        raise RunnerError(f"{source}: set 'profile' at the top level only, not in 'common' or a notebook section")
    parameters: dict[str, dict[str, object]] = {}
    used: set[str] = set()
    for stem in sorted(set(selection) | set(overrides)):
        path = available[stem]
        count = parameters_cell_count(_read(path))
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
        parameters[stem] = values
    unused = sorted(set(common) - used)
    if unused:
        raise RunnerError(
            f"{source}: 'common' name(s) {unused} are declared by none of the selected notebooks "
            f"({', '.join(sorted(set(selection)))})"
        )
    ordered = tuple(available[stem] for stem in sorted(set(selection)))
    return RunPlan(profile, ordered, {stem: parameters[stem] for stem in sorted(set(selection))})


def kernel_prefix(kernel_name: str = KERNEL_NAME) -> str:
    """``sys.prefix`` of the interpreter that the named Jupyter kernel starts."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    major, minor = sys.version_info[:2]
    executable = sys.executable if argv[0] in {"python", f"python{major}", f"python{major}.{minor}"} else argv[0]
    result = subprocess.run(
        [executable, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def check_kernel(kernel_name: str = KERNEL_NAME) -> None:
    """Refuse to run when the ``python3`` kernel is not this environment's interpreter."""
    prefix = kernel_prefix(kernel_name)
    if os.path.realpath(prefix) != os.path.realpath(sys.prefix):
        raise RunnerError(
            f"Jupyter kernel {kernel_name!r} runs in {prefix}, not in this environment ({sys.prefix}); "
            f"use ./run.sh, or set JUPYTER_PREFER_ENV_PATH=1 and run "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel_name}`"
        )


def execute_notebook(path: Path, parameters: dict[str, object], output_dir: Path) -> NotebookRun:
    """Execute one notebook into ``output_dir/<name>``; the output appears only when the run succeeds."""
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / path.name
    failed = output_dir / f"{path.stem}.failed.ipynb"
    scratch = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{path.stem}."))
    partial = scratch / path.name
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            str(partial),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(PROJECT_ROOT),
            progress_bar=False,
        )
    except PapermillExecutionError as error:
        if partial.exists():
            os.replace(partial, failed)
        first_line = next((line for line in (error.source or "").splitlines() if line.strip()), "")
        raise RunnerError(
            f"{path.name} failed in cell [{error.exec_count}] (starting {first_line.strip()!r}): "
            f"{error.ename}: {error.evalue}  [executed notebook kept as {failed}]"
        ) from error
    except Exception as error:  # kernel death, bad notebook JSON, ...: still name the notebook
        raise RunnerError(f"{path.name} could not be executed: {type(error).__name__}: {error}") from error
    else:
        os.replace(partial, final)
        failed.unlink(missing_ok=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return NotebookRun(path.stem, final, time.perf_counter() - start)


def write_index(profile: str, runs: Sequence[NotebookRun]) -> Path:
    """Write ``reports/<profile>/README.md`` listing the executed notebooks, tables and figures."""
    root = Reporter(profile).root
    times = {run.notebook: run.seconds for run in runs}
    lines = [f"# Reports for profile `{profile}`", "", "Generated by `python -m mmolre reports`; do not edit.", ""]
    sections = (
        ("Executed notebooks", "notebooks", "*.ipynb"),
        ("Tables", "tables", "*.md"),
        ("Figures", "figures", "*.png"),
    )
    for title, folder, pattern in sections:
        files = sorted(path for path in (root / folder).glob(pattern) if not path.name.endswith(".failed.ipynb"))
        entries = []
        for path in files:
            if folder == "figures":
                entries.append(f"- ![{path.stem}]({folder}/{path.name})")
            else:
                note = f" (last run: {times[path.stem]:.1f} s)" if path.stem in times and folder == "notebooks" else ""
                entries.append(f"- [{path.name}]({folder}/{path.name}){note}")
        lines += [f"## {title}", "", *(entries or ["(none)"]), ""]
    text = "\n".join(lines).rstrip() + "\n"
    return atomic_write(root / "README.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))


def run_reports(
    param_file: Path | None = None,
    only: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    echo: bool = True,
) -> list[NotebookRun]:
    """Validate everything, then execute the selected notebooks in order; stops at the first failure."""
    source = str(param_file) if param_file else "parameters"
    settings = load_param_file(param_file)
    plan = plan_run(settings, only, notebooks_dir, source)
    try:
        missing = requirement_problems(settings.get("requires"), source)
    except ValueError as error:
        raise RunnerError(str(error)) from None
    if missing:
        raise RunnerError(f"{source} needs, before anything runs: " + "; ".join(missing))
    check_kernel()
    output_dir = Reporter(plan.profile).root / "notebooks"
    runs: list[NotebookRun] = []
    try:
        for path in plan.notebooks:
            if echo:
                print(f"running {path.name} ...", flush=True)
            runs.append(execute_notebook(path, plan.parameters[path.stem], output_dir))
            if echo:
                print(f"  done in {runs[-1].seconds:.1f} s", flush=True)
    finally:
        if runs:
            write_index(plan.profile, runs)
        if echo:
            print(summary(runs), flush=True)
    return runs


def summary(runs: Sequence[NotebookRun]) -> str:
    """A short table of wall time per notebook."""
    lines = [f"{'notebook':<32} {'seconds':>8}"] + [f"{run.notebook:<32} {run.seconds:>8.1f}" for run in runs]
    lines.append(f"{'total':<32} {sum(run.seconds for run in runs):>8.1f}")
    return "\n".join(lines)
