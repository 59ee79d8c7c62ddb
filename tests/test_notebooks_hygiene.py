"""Every notebook in notebooks/ is runnable by the runner and carries no outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmolre.data.registry import DATASETS
from mmolre.paths import NOTEBOOKS_DIR
from mmolre.runner.notebooks import declared_parameters, discover_notebooks, notebook_problems

NOTEBOOKS = discover_notebooks(NOTEBOOKS_DIR)


def test_notebooks_exist_and_are_numbered() -> None:
    assert NOTEBOOKS, f"no NN_name.ipynb notebooks in {NOTEBOOKS_DIR}"
    strays = sorted(path.name for path in NOTEBOOKS_DIR.glob("*.ipynb") if path not in NOTEBOOKS)
    assert not strays, f"notebooks the runner would skip (name them NN_name.ipynb): {strays}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_hygiene(path: Path) -> None:
    assert notebook_problems(path) == []
    assert declared_parameters(path)["profile"].default == '"default"'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_dataset_parameter_points_to_the_registry(path: Path) -> None:
    """A `dataset` parameter's help that names datasets points to mm.DATASETS instead of copying the registry's
    names (a copy goes stale)."""
    parameter = declared_parameters(path).get("dataset")
    if parameter is not None:
        copied = [name for name in DATASETS if re.search(rf"\b{name}\b", parameter.help)]
        assert not copied or ("mm.DATASETS" in parameter.help and "|" not in parameter.help), parameter.help
