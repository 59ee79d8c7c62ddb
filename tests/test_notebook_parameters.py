"""The one reader of notebook parameters (mmolre/notebook_parameters.py): a notebook's parameters cell as papermill
reads it, declared types as checks, and an executed notebook's record (papermill's metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmolre import notebook_parameters as params
from mmolre.paths import NOTEBOOKS_DIR, PROJECT_ROOT

CELL = (
    'profile: str = "default"  # reports go to reports/<profile>/\n'
    "rate: float = 0.5  # a float\n"
    "seeds: list = [1, 2]\n"
    "limit: Optional[int] = None  # nullable\n"
    "ranks: list[int] = [4]\n"
    "scale = 2  # unannotated: judged by its default\n"
    "nothing = None\n"
    "config: dict = {\n"
    '    "dim": 8,\n'
    "}  # over several lines\n"
)


def _notebook(path: Path, source: str = CELL, metadata: dict | None = None) -> Path:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# title"},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": source.splitlines(keepends=True)},
    ]
    content = {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_declared_parameters_as_papermill_reads_them(tmp_path: Path) -> None:
    declared = params.declared(_notebook(tmp_path / "n.ipynb"))
    assert list(declared) == ["profile", "rate", "seeds", "limit", "ranks", "scale", "nothing", "config"]
    assert declared["profile"].help == "reports go to reports/<profile>/"
    assert params.defaults(tmp_path / "n.ipynb")["config"] == {"dim": 8}
    assert params.assigned_names(params.read(tmp_path / "n.ipynb")) == set(declared)


@pytest.mark.parametrize(
    "name, good, bad",
    [
        ("rate", [1, 0.25], ["0.5", True, None]),  # an int is fine for a float, a bool is not
        ("seeds", [[], [1, "a"]], [1, {"a": 1}]),
        ("limit", [None, 3], [1.5, "3"]),  # Optional[int]
        ("ranks", [[1, 2]], [["a"], 3]),  # the element type counts
        ("scale", [3], [3.5, False]),  # unannotated: the type of its default
        ("nothing", [None, "anything", 1], []),  # unannotated None: unknown, never refused
    ],
)
def test_values_are_checked_against_the_declared_type(tmp_path: Path, name: str, good: list, bad: list) -> None:
    parameter = params.declared(_notebook(tmp_path / "n.ipynb"))[name]
    assert all(parameter.accepts(value) for value in good)
    assert not any(parameter.accepts(value) for value in bad)


def test_messages_quote_the_declaration(tmp_path: Path) -> None:
    declared = params.declared(_notebook(tmp_path / "n.ipynb"))
    assert declared["rate"].declaration() == "rate: float = 0.5" and declared["rate"].expected() == "float"
    assert declared["scale"].declaration() == "scale = 2" and declared["scale"].expected() == "int"


def test_an_executed_notebook_reports_what_papermill_recorded(tmp_path: Path) -> None:
    record = {"parameters": {"rate": 0.75, "profile": "p"}, "duration": 12.5}
    path = _notebook(tmp_path / "run.ipynb", metadata={"kernelspec": {"name": "python3"}, "papermill": record})
    assert params.injected(path) == {"rate": 0.75, "profile": "p"}
    assert params.recorded(path)["rate"] == 0.75 and params.recorded(path)["seeds"] == [1, 2]
    assert params.duration(path) == 12.5
    bare = _notebook(tmp_path / "bare.ipynb")  # not run by papermill: its own cell only
    assert params.injected(bare) == {} and params.duration(bare) is None and params.recorded(bare)["rate"] == 0.5


def test_committed_executed_notebooks_carry_their_parameters() -> None:
    executed = sorted((PROJECT_ROOT / "reports").glob("*/notebooks/04_baselines.ipynb"))
    assert executed
    for path in executed:
        assert params.recorded(path)["profile"] == path.parent.parent.name
        assert set(params.defaults(NOTEBOOKS_DIR / "04_baselines.ipynb")) >= set(params.injected(path)) - {
            "arm_configs"
        }


def test_unreadable_notebooks_are_one_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(params.ParameterError, match=r"broken\.ipynb: not a readable notebook"):
        params.recorded(broken)
    odd = _notebook(tmp_path / "odd.ipynb", "value: int = compute()\n")
    with pytest.raises(params.ParameterError, match=r"odd\.ipynb: the default of 'value' is not a literal"):
        params.defaults(odd)
    assert params.defaults(odd, strict=False) == {} and params.declared(odd)["value"].accepts(3)
    none = tmp_path / "none.ipynb"
    none.write_text(json.dumps({"cells": [], "metadata": {}}), encoding="utf-8")
    assert params.declared(none) == {} and params.assigned_names(params.read(none)) == set()
