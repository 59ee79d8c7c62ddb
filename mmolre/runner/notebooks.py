"""Which notebooks a folder holds (``NN_name.ipynb``) and the hygiene of a committed notebook: one ``parameters``
cell that papermill can read in full and that declares ``profile``, the ``python3`` kernelspec, no stored outputs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mmolre import notebook_parameters as params
from mmolre.files import atomic_write
from mmolre.paths import NOTEBOOKS_DIR
from mmolre.runner import RunnerError

KERNEL_NAME = "python3"
PARAMETERS_TAG = params.PARAMETERS_TAG
_NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_-]+\.ipynb$")


def discover_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The ``NN_name.ipynb`` notebooks of ``directory``, sorted by name."""
    return sorted(path for path in Path(directory).glob("*.ipynb") if _NOTEBOOK_NAME.match(path.name))


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook file as plain JSON (nbformat, whose schema validation takes seconds to import, is not needed to
    read a cell); a RunnerError naming it when it is not a notebook."""
    try:
        return params.read(path)
    except params.ParameterError as error:
        raise RunnerError(str(error)) from None


def parameters_cell_count(notebook: dict[str, Any]) -> int:
    """How many cells carry the ``parameters`` tag."""
    return len(params.parameters_cells(notebook))


def declared_parameters(path: Path) -> dict[str, params.Parameter]:
    """The parameters of the notebook's ``parameters`` cell (:func:`mmolre.notebook_parameters.declared`); a
    RunnerError naming the notebook when papermill cannot read them."""
    try:
        return params.declared(path)
    except params.ParameterError as error:
        raise RunnerError(str(error)) from None


def notebook_defaults(path: Path) -> dict[str, object]:
    """The values of the notebook's parameters cell (each default must be a Python literal)."""
    try:
        return params.defaults(path)
    except params.ParameterError as error:
        raise RunnerError(str(error)) from None


def notebook_problems(path: Path) -> list[str]:
    """Hygiene problems of a committed notebook: parameters cell (with ``profile``), kernelspec, stored outputs."""
    notebook = read_notebook(path)
    problems = []
    kernel = (notebook.get("metadata", {}).get("kernelspec") or {}).get("name")
    if kernel != KERNEL_NAME:
        problems.append(f"{path.name}: kernelspec is {kernel!r}, expected {KERNEL_NAME!r} (run normalize-notebooks)")
    count = parameters_cell_count(notebook)
    if count != 1:
        problems.append(f"{path.name}: {count} cells tagged '{PARAMETERS_TAG}', expected exactly 1")
    elif kernel == KERNEL_NAME:
        declared = declared_parameters(path)
        if "profile" not in declared:
            problems.append(f'{path.name}: the parameters cell does not define `profile: str = "default"`')
        unparsed = sorted(params.assigned_names(notebook) - set(declared))
        if unparsed:
            problems.append(
                f"{path.name}: papermill cannot parse the parameter line(s) of {unparsed} "
                "(keep each on one line as `name: type = value  # plain comment`)"
            )
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{path.name}: cell {index} has stored outputs or an execution count")
    return problems


def normalize_notebook(path: Path) -> bool:
    """Set the kernelspec to ``python3``; returns True when the file changed."""
    import nbformat  # imported here: only rewriting a notebook needs it

    notebook = nbformat.read(str(path), as_version=4)
    wanted = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
    if dict(notebook.metadata.get("kernelspec", {})) == wanted:
        return False
    notebook.metadata["kernelspec"] = wanted
    atomic_write(path, lambda tmp: nbformat.write(notebook, str(tmp)))
    return True
