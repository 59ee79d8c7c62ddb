"""Notebook parameters and parameter files: which notebooks exist, their hygiene, the parameters their tagged cell
declares (names and types, as papermill reads them), and strict loading of ``params/*.yaml`` (a key given twice in one
mapping is an error, where YAML would keep the last one)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from pathlib import Path

import nbformat
import papermill
import yaml

from mmolre.config import check_value
from mmolre.files import atomic_write
from mmolre.messages import cut, shown
from mmolre.paths import NOTEBOOKS_DIR, check_profile
from mmolre.plugins import load_plugins

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
        expected, declaration = (
            (wanted, f"{name} = {default}") if type_name == "None" else (type_name, f"{name}: {type_name} = {default}")
        )
        raise RunnerError(
            f"{path.name}: parameter {name!r} from {source} must be {expected} (declared `{declaration}`), "
            f"got {type(value).__name__} {shown(value)}{hint}"
        )


def notebook_defaults(path: Path) -> dict[str, object]:
    """The values of the notebook's parameters cell (each default must be a Python literal)."""
    defaults = {}
    for name, info in declared_parameters(path).items():
        try:
            defaults[name] = ast.literal_eval(str(info["default"]))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
            raise RunnerError(f"{path.name}: the default of {name!r} is not a literal: {error}") from None
    return defaults


def _names(known: Collection[str], what: str) -> Callable[[object, dict[str, object], str], None]:
    """A check that a value is a list of distinct names out of ``known``."""

    def check(value: object, values: dict[str, object], where: str) -> None:
        check_value(value, list[str], where)
        unknown = [name for name in value if name not in known]  # type: ignore[union-attr]
        if unknown:
            raise ValueError(f"{where}: unknown {what} {shown(unknown, 120)}; known: {', '.join(known)}")
        if len(set(value)) != len(value):  # type: ignore[arg-type]
            raise ValueError(f"{where}: a {what} is listed twice in {shown(value, 120)}")

    return check


def _name(known: Collection[str], what: str) -> Callable[[object, dict[str, object], str], None]:
    def check(value: object, values: dict[str, object], where: str) -> None:
        if value not in known:
            raise ValueError(f"{where}: unknown {what} {shown(value)}; known: {', '.join(known)}")

    return check


def _seeds(value: object, values: dict[str, object], where: str) -> None:
    check_value(value, list[int], where)
    if not value:
        raise ValueError(f"{where} is an empty list; give at least one seed")
    if any(not 0 <= seed < 2**32 for seed in value) or len(set(value)) != len(value):  # type: ignore[union-attr]
        raise ValueError(f"{where} must be distinct integers in [0, 2**32), got {shown(value, 120)}")


def _train_config(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.train.config import TrainConfig

    if isinstance(value, Mapping) and "epochs" in value and "epochs" in values:
        raise ValueError("set epochs with the notebook's `epochs` parameter (it replaces train_config's epochs)")
    TrainConfig.from_dict(value)  # type: ignore[arg-type]


def _epochs(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.train.config import TrainConfig

    TrainConfig.from_dict({"epochs": value})


def _model_config(family: str | None) -> Callable[[object, dict[str, object], str], None]:
    def check(value: object, values: dict[str, object], where: str) -> None:
        from mmolre.models.registry import MODELS, config_class

        model = family or values.get("model", "mmolre")
        config_class(str(model) if model in MODELS else "mmolre").from_dict(value)  # type: ignore[arg-type]

    return check


def _dataset_options(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.data.load import check_options

    check_options(str(values.get("dataset", "synthetic")), value)  # type: ignore[arg-type]


def _grids(value: object, values: dict[str, object], where: str) -> None:
    from mmolre.protocols.ablations import ABLATIONS

    check_value(value, dict[str, list], where)
    _names(ABLATIONS, "ablation")(list(value), values, f"{where} keys")  # type: ignore[arg-type]


def _list_in(hint: object, low: float, high: float) -> Callable[[object, dict[str, object], str], None]:
    def check(value: object, values: dict[str, object], where: str) -> None:
        check_value(value, hint, where)
        if any(not low <= item <= high for item in value):  # type: ignore[union-attr]
            raise ValueError(f"{where}: every value must lie in [{low}, {high}], got {shown(value, 120)}")

    return check


def _at_least(low: int) -> Callable[[object, dict[str, object], str], None]:
    def check(value: object, values: dict[str, object], where: str) -> None:
        check_value(value, int, where)
        if value < low:  # type: ignore[operator]
            raise ValueError(f"{where} must be >= {low}, got {value}")

    return check


def _profiles(value: object, values: dict[str, object], where: str) -> None:
    check_value(value, list[str], where)
    for name in value:  # type: ignore[union-attr]
        check_profile(name)


def nested_checks() -> dict[str, Callable[[object, dict[str, object], str], None]]:
    """Per notebook parameter: what its value must be beyond its declared type (nested configurations are checked
    field by field against their dataclasses, dataset options against the loader's signature, names against the
    registries themselves, so that a plugin's models and datasets count)."""
    from mmolre.data.load import LOADERS
    from mmolre.models.registry import METHODS, MODELS
    from mmolre.protocols.ablations import ABLATIONS

    return {
        "dataset": _name(LOADERS, "dataset"),
        "dataset_options": _dataset_options,
        "seeds": _seeds,
        "epochs": _epochs,
        "train_config": _train_config,
        "model_config": _model_config(None),
        "mmolre_config": _model_config("mmolre"),
        "mculora_config": _model_config("mculora"),
        "model": _name(MODELS, "model"),
        "models": _names(MODELS, "model"),
        "ablations": _names(ABLATIONS, "ablation"),
        "grids": _grids,
        "methods": _names(METHODS, "method"),
        "rank_method": _name(METHODS, "method"),
        "rates": _list_in(list[float], 0.0, 1.0),
        "ranks": _list_in(list[int], 1, 4096),
        "profiles": _profiles,
        "bootstrap_samples": _at_least(0),
        "seq_len": _at_least(1),
    }


def check_nested(path: Path, values: dict[str, object], source: str) -> None:
    """Check the values a notebook will run with (its defaults overridden by ``values``) before any kernel starts:
    a RunnerError names the notebook, the parameter, where its value came from and what is wrong."""
    merged = {**notebook_defaults(path), **values}
    for name, check in nested_checks().items():
        if name not in merged:
            continue
        try:
            check(merged[name], merged, name)
        except ValueError as error:
            origin = source if name in values else "the notebook's default"
            raise RunnerError(f"{path.name}: parameter {name!r} from {origin}: {cut(str(error), 400)}") from None


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
                    f"line {line}: duplicate key {shown(key)} (first given at line {first[key]}); "
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
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RunnerError(f"parameter file {path} is not UTF-8 text (byte {error.start}); it must be YAML") from None
    except OSError as error:
        raise RunnerError(f"parameter file {path} cannot be read: {error.strerror}") from None
    try:
        content = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as error:
        raise RunnerError(f"parameter file {path}, {error}") from None
    except yaml.YAMLError as error:
        raise RunnerError(f"parameter file {path} is not valid YAML: {cut(str(error), 300)}") from None
    except RecursionError:
        raise RunnerError(f"parameter file {path} nests too deeply to be a parameter file") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise RunnerError(f"parameter file {path} must be a mapping at the top level, got {type(content).__name__}")
    if "plugins" in content:  # modules registering models and datasets, imported before anything is checked
        try:
            load_plugins(content.pop("plugins"), f"parameter file {path}")
        except ValueError as error:
            raise RunnerError(str(error)) from None
    return content


def apply_overrides(
    settings: dict[str, object], overrides: Sequence[tuple[str, str]], source: str
) -> dict[str, object]:
    """``settings`` of a parameter file with command-line ``-p NAME VALUE`` overrides applied: each VALUE is read as
    YAML (``3``, ``[1111, 1112]``, ``{dim: 64}``, text), ``profile`` replaces the profile, any other name is set for
    every notebook (in ``common`` and in each notebook section that sets it), so it is checked like a file value."""
    result = dict(settings)
    common = result.get("common") or {}
    if not isinstance(common, dict):
        raise RunnerError(f"{source}: 'common' must be a mapping, got {shown(common)}")
    common = dict(common)
    for name, text in overrides:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise RunnerError(f"-p {name}: the value {shown(text)} is not valid YAML") from None
        if name == "profile":
            result["profile"] = value
            continue
        common[name] = value
        for section, content in result.items():
            if isinstance(content, dict) and section != "common" and name in content:
                result[section] = {**content, name: value}
    result["common"] = common
    return result
