"""Notebook parameters and parameter files: which notebooks exist, their hygiene, the parameters their tagged cell
declares (names and types, as papermill reads them), and strict loading of ``params/*.yaml`` (a key given twice in one
mapping is an error, where YAML would keep the last one)."""

from __future__ import annotations

import ast
import re
from collections.abc import Hashable, Mapping
from pathlib import Path

import nbformat
import papermill
import yaml

from mmolre.files import atomic_write
from mmolre.paths import NOTEBOOKS_DIR

KERNEL_NAME = "python3"
PARAMETERS_TAG = "parameters"
_NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_-]+\.ipynb$")


class RunnerError(RuntimeError):
    """A notebook run that cannot start or that failed; the message names the notebook and the problem."""


def discover_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The ``NN_name.ipynb`` notebooks of ``directory``, sorted by name."""
    return sorted(path for path in Path(directory).glob("*.ipynb") if _NOTEBOOK_NAME.match(path.name))


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def parameters_cell_count(notebook: nbformat.NotebookNode) -> int:
    """How many cells carry the ``parameters`` tag."""
    return sum(PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []) for cell in notebook.cells)


def notebook_problems(path: Path) -> list[str]:
    """Hygiene problems of a committed notebook: parameters cell (with ``profile``), kernelspec, stored outputs."""
    notebook = read_notebook(path)
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
    notebook = read_notebook(path)
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
