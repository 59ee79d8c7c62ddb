"""Notebook parameters, read in one place: a notebook's ``parameters`` cell (the names, types and defaults it
declares, as papermill reads them) and an executed notebook's recorded run (the values papermill injected and how
long the run took, from the notebook's ``metadata.papermill``).

Every reader goes through this module: the runner (checking a parameter file against the notebooks it selects, and
the hygiene of committed notebooks), the ``train`` command (a notebook section's values), the results (which
dataset and features a recorded table came from) and the report pages (the parameters of a run).

A declared value is checked against the cell's annotation (``name: type = default``; an unannotated name against
the type of its default) with :func:`mmolre.config.check_value`, the same rule the configuration dataclasses use:
an int is fine for a float, a bool is not an int, ``Optional[...]`` / ``X | None`` or a ``None`` default also take
None. papermill (whose translator reads the cell, exactly as it does before injecting) is imported only when a
cell is read, so importing this module stays light.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from mmolre.config import matches

PARAMETERS_TAG = "parameters"
"""The tag of the cell that declares a notebook's parameters (papermill injects its values after that cell)."""
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)
_UNPARSED = object()
_TYPE_NAMES: dict[str, object] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "Any": Any,
    "None": type(None),
    "List": list,
    "Tuple": tuple,
    "Dict": dict,
    "Mapping": Mapping,
    "Sequence": Sequence,
    "Optional": Optional,
    "Union": Union,
}
"""The names an annotation of a parameters cell may use (``typing.X`` too); any other makes the type unknown and the
value unchecked."""


class ParameterError(ValueError):
    """A notebook whose parameters cannot be read (not a notebook, no translator for its kernel, a default that is
    not a literal); the message names the notebook."""


@dataclass(frozen=True)
class Parameter:
    """One parameter as the notebook's ``parameters`` cell declares it (``name: type = default  # help``)."""

    name: str
    type_name: str
    """The annotation as written; ``"None"`` when the line has none."""
    default: str
    """The default as written (Python source)."""
    help: str = ""

    def value(self) -> object:
        """The default as a Python value (a ValueError when it is not a literal)."""
        return ast.literal_eval(self.default)

    def hint(self) -> object | None:
        """The declared type as a type hint, or None when it is unknown (then no value is refused): the annotation,
        or for an unannotated name the type of its default; a None default also admits None."""
        try:
            default = self.value()
        except _LITERAL_ERRORS:
            default = _UNPARSED
        if self.type_name.strip() in ("", "None"):
            return None if default is None or default is _UNPARSED else type(default)
        hint = _annotation(self.type_name)
        if hint is None or default is not None:
            return hint
        return Optional[hint]  # noqa: UP045  (a runtime hint, built from a parsed annotation)

    def expected(self) -> str:
        """What a value must be, in the words of the declaration (for messages)."""
        if self.type_name.strip() in ("", "None"):
            hint = self.hint()
            return getattr(hint, "__name__", str(hint))
        return self.type_name.strip().strip("'\"")

    def declaration(self) -> str:
        """The declaring line without its comment, e.g. ``epochs: int = 2``."""
        if self.type_name.strip() in ("", "None"):
            return f"{self.name} = {self.default}"
        return f"{self.name}: {self.type_name} = {self.default}"

    def accepts(self, value: object) -> bool:
        """Whether ``value`` fits the declared type (always, when the type is unknown)."""
        hint = self.hint()
        return hint is None or matches(value, hint)


def _annotation(text: str) -> object | None:
    """A type hint from the text of an annotation, or None when it uses anything but :data:`_TYPE_NAMES`."""
    try:
        tree = ast.parse(text.strip().strip("'\""), mode="eval").body
        return _hint(tree)
    except (SyntaxError, KeyError, TypeError, ValueError, RecursionError):
        return None


def _hint(node: ast.expr) -> object:
    if isinstance(node, ast.Name):
        return _TYPE_NAMES[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typing":
        return _TYPE_NAMES[node.attr]
    if isinstance(node, ast.Constant) and node.value is None:
        return type(None)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _hint(ast.parse(node.value, mode="eval").body)
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return Ellipsis
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[_hint(node.left), _hint(node.right)]  # noqa: UP007
    if isinstance(node, ast.Subscript):
        base = _hint(node.value)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        args = tuple(_hint(item) for item in items)
        return base[args if len(args) > 1 else args[0]]  # type: ignore[index]
    raise ValueError(f"unsupported annotation {ast.dump(node)}")


def _cells(notebook: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(notebook.get("cells", []))


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def parameters_cells(notebook: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The cells tagged ``parameters`` (a notebook papermill can run has exactly one)."""
    return [cell for cell in _cells(notebook) if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]


def read(path: Path) -> dict[str, Any]:
    """A notebook file as plain JSON (a ParameterError naming it when it is not a notebook)."""
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ParameterError(f"{path}: not a readable notebook ({error})") from error
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        raise ParameterError(f"{path}: not a notebook (no list of cells)")
    return content


def declared(path: Path | Mapping[str, Any]) -> dict[str, Parameter]:
    """The parameters of the notebook's (first) ``parameters`` cell as papermill reads them, with the translator of
    the notebook's kernel (python without a kernelspec): the lines it can inject values after, in the cell's order;
    empty when the notebook has no such cell. ``path``: a notebook file or its JSON content."""
    from papermill.exceptions import PapermillException  # imported here: only reading a cell needs papermill
    from papermill.translators import papermill_translators

    notebook = read(path) if isinstance(path, str | Path) else path
    cells = parameters_cells(notebook)
    if not cells:
        return {}
    metadata = notebook.get("metadata") or {}
    kernel = (metadata.get("kernelspec") or {}).get("name") or "python3"
    language = (metadata.get("kernelspec") or {}).get("language") or (metadata.get("language_info") or {}).get("name")
    try:
        translator = papermill_translators.find_translator(kernel, language or "python")
        found = translator.inspect({"source": _source(cells[0])})
    except (PapermillException, NotImplementedError) as error:
        raise ParameterError(f"{_name(path)}: papermill cannot read its parameters: {error}") from error
    return {p.name: Parameter(p.name, p.inferred_type_name, p.default, p.help) for p in found}


def _name(path: Path | Mapping[str, Any]) -> str:
    return Path(path).name if isinstance(path, str | Path) else "notebook"


def assigned_names(notebook: Mapping[str, Any]) -> set[str]:
    """Names assigned at the top level of the ``parameters`` cell as Python itself reads the cell (a name papermill
    does not find among them is a line it cannot parse); empty without the cell."""
    cells = parameters_cells(notebook)
    if not cells:
        return set()
    names: set[str] = set()
    for node in ast.parse(_source(cells[0])).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def defaults(path: Path | Mapping[str, Any], strict: bool = True) -> dict[str, object]:
    """The values of the notebook's ``parameters`` cell; a default that is not a Python literal is a
    ParameterError (``strict``) or left out."""
    values = {}
    for name, parameter in declared(path).items():
        try:
            values[name] = parameter.value()
        except _LITERAL_ERRORS as error:
            if strict:
                raise ParameterError(f"{_name(path)}: the default of {name!r} is not a literal: {error}") from None
    return values


def _papermill(notebook: Mapping[str, Any]) -> dict[str, Any]:
    metadata = notebook.get("metadata")
    found = metadata.get("papermill") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def injected(path: Path | Mapping[str, Any]) -> dict[str, object]:
    """The values papermill injected into an executed notebook (``metadata.papermill.parameters``); empty for a
    notebook papermill did not run."""
    found = _papermill(read(path) if isinstance(path, str | Path) else path).get("parameters")
    return dict(found) if isinstance(found, dict) else {}


def recorded(path: Path | Mapping[str, Any]) -> dict[str, object]:
    """The parameters an executed notebook ran with: its ``parameters`` cell, overridden by what papermill injected
    (a default that is not a literal is left out)."""
    notebook = read(path) if isinstance(path, str | Path) else path
    return {**defaults(notebook, strict=False), **injected(notebook)}


def duration(path: Path | Mapping[str, Any]) -> float | None:
    """Seconds papermill took to execute the notebook (``metadata.papermill.duration``), or None."""
    value = _papermill(read(path) if isinstance(path, str | Path) else path).get("duration")
    return float(value) if isinstance(value, int | float) else None


__all__ = [
    "PARAMETERS_TAG",
    "Parameter",
    "ParameterError",
    "assigned_names",
    "declared",
    "defaults",
    "duration",
    "injected",
    "parameters_cells",
    "read",
    "recorded",
]
