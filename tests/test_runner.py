"""The papermill runner: validation before execution, failure handling, an end-to-end tiny run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from mmolre.__main__ import main
from mmolre.report.runner import (
    RunnerError,
    check_kernel,
    discover_notebooks,
    load_param_file,
    normalize_notebook,
    notebook_problems,
    plan_run,
    run_reports,
)

PARAMS = 'profile: str = "default"  # reports/<profile>/\nscale: int = 2  # multiplier\n'
WORK = (
    "import json, sys\n"
    "from mmolre.report import Reporter\n"
    "Reporter(profile).json({'value': 21 * scale, 'prefix': sys.prefix}, 'tiny')\n"
)


def make_notebook(folder: Path, name: str, cells: list[tuple[str, list[str]]], kernel: str = "python3") -> Path:
    """Write a notebook of (source, tags) code cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells]
    path = folder / name
    nbformat.write(notebook, str(path))
    return path


@pytest.fixture()
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "reports"
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(root))
    return root


@pytest.fixture()
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (WORK, [])])
    return folder


def test_discovery_ignores_non_numbered(notebooks: Path) -> None:
    make_notebook(notebooks, "scratch.ipynb", [(PARAMS, ["parameters"])])
    assert [path.name for path in discover_notebooks(notebooks)] == ["01_tiny.ipynb"]


def test_unknown_parameter_refused_before_execution(notebooks: Path, reports: Path) -> None:
    with pytest.raises(RunnerError, match=r"01_tiny\.ipynb.*'scael'.*profile, scale"):
        plan_run({"01_tiny": {"scael": 3}}, notebooks_dir=notebooks)
    with pytest.raises(RunnerError, match="scael"):
        plan_run({"common": {"scael": 3}}, notebooks_dir=notebooks)
    assert not reports.exists()


def test_unknown_notebook_refused(notebooks: Path) -> None:
    with pytest.raises(RunnerError, match=r"02_missing.*01_tiny"):
        plan_run({"02_missing": {"scale": 1}}, notebooks_dir=notebooks)
    with pytest.raises(RunnerError, match=r"02_missing"):
        plan_run({}, only=["02_missing"], notebooks_dir=notebooks)


def test_profile_only_at_top_level(notebooks: Path) -> None:
    with pytest.raises(RunnerError, match="top level"):
        plan_run({"common": {"profile": "x"}}, notebooks_dir=notebooks)
    with pytest.raises(RunnerError, match="plain name"):
        plan_run({"profile": "../escape"}, notebooks_dir=notebooks)


def test_plan_injects_profile_common_and_overrides(notebooks: Path) -> None:
    plan = plan_run({"profile": "p", "common": {"scale": 3}, "01_tiny": {"scale": 5}}, notebooks_dir=notebooks)
    assert plan.profile == "p"
    assert plan.parameters == {"01_tiny": {"profile": "p", "scale": 5}}


def test_common_goes_only_to_notebooks_that_declare_it(notebooks: Path) -> None:
    make_notebook(
        notebooks,
        "02_other.ipynb",
        [('profile: str = "default"  # reports\nseeds: list = [1]  # seeds\n', ["parameters"])],
    )
    plan = plan_run({"common": {"scale": 3, "seeds": [7, 8]}}, notebooks_dir=notebooks)
    assert plan.parameters == {
        "01_tiny": {"profile": "default", "scale": 3},
        "02_other": {"profile": "default", "seeds": [7, 8]},
    }
    with pytest.raises(RunnerError, match=r"'common' name\(s\) \['seeds'\] are declared by none of the selected"):
        plan_run({"common": {"seeds": [7]}}, only=["01_tiny"], notebooks_dir=notebooks)


def test_notebook_without_parameters_cell_refused(notebooks: Path) -> None:
    make_notebook(notebooks, "02_untagged.ipynb", [(PARAMS, [])])
    with pytest.raises(RunnerError, match=r"02_untagged\.ipynb: 0 cells tagged 'parameters'"):
        plan_run({}, notebooks_dir=notebooks)


def test_hygiene_problems_and_normalize(notebooks: Path) -> None:
    path = make_notebook(notebooks, "02_dirty.ipynb", [("x = 1", ["parameters"])], kernel="python3.11")
    notebook = nbformat.read(str(path), as_version=4)
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(notebook, str(path))
    problems = " | ".join(notebook_problems(path))
    assert "kernelspec is 'python3.11'" in problems
    assert "stored outputs" in problems
    assert normalize_notebook(path) is True
    assert normalize_notebook(path) is False
    problems = " | ".join(notebook_problems(path))
    assert "kernelspec" not in problems
    assert "does not define `profile" in problems and "stored outputs" in problems
    assert notebook_problems(notebooks / "01_tiny.ipynb") == []


def test_kernel_is_this_environment() -> None:
    check_kernel()  # raises when "python3" would start another interpreter


def test_tiny_notebook_runs_end_to_end(notebooks: Path, reports: Path, tmp_path: Path) -> None:
    params = tmp_path / "tiny.yaml"
    params.write_text("profile: tiny\ncommon:\n  scale: 3\n", encoding="utf-8")
    runs = run_reports(params, notebooks_dir=notebooks, echo=False)
    assert [run.notebook for run in runs] == ["01_tiny"]
    result = (reports / "tiny" / "results" / "tiny.json").read_text(encoding="utf-8")
    assert '"value": 63' in result
    assert f'"prefix": "{sys.prefix}"' in result  # the kernel ran in this very environment
    executed = nbformat.read(str(reports / "tiny" / "notebooks" / "01_tiny.ipynb"), as_version=4)
    assert any("injected-parameters" in cell.metadata.get("tags", []) for cell in executed.cells)
    index = (reports / "tiny" / "README.md").read_text(encoding="utf-8")
    assert "[01_tiny.ipynb](notebooks/01_tiny.ipynb)" in index


def test_failing_notebook_names_cell_and_keeps_previous_output(notebooks: Path, reports: Path) -> None:
    run_reports(None, notebooks_dir=notebooks, echo=False)
    good = reports / "default" / "notebooks" / "01_tiny.ipynb"
    before = good.read_bytes()
    make_notebook(
        notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), ("y = 1", []), ("raise ValueError('boom')", [])]
    )
    with pytest.raises(
        RunnerError,
        match=r"01_tiny\.ipynb failed in cell \[4\] \(starting \"raise ValueError\('boom'\)\"\): ValueError: boom",
    ):
        run_reports(None, notebooks_dir=notebooks, echo=False)
    assert good.read_bytes() == before
    leftovers = sorted(path.name for path in good.parent.iterdir())
    assert leftovers == ["01_tiny.failed.ipynb", "01_tiny.ipynb"]


def test_cli_exit_codes(notebooks: Path, reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reports", "--only", "nope", "--notebooks-dir", str(notebooks)]) == 1
    assert "unknown notebook(s) ['nope']" in capsys.readouterr().err
    assert main(["check-notebooks", "--notebooks-dir", str(notebooks)]) == 0
    assert "1 notebooks OK" in capsys.readouterr().out


def test_parameter_line_papermill_cannot_parse_is_a_problem(notebooks: Path) -> None:
    # papermill silently skips this line (quotes and brackets in the comment), so `data_dir` could not be injected.
    source = PARAMS + 'data_dir: str = ""  # data directory ("" = $MMOLRE_DATA_DIR)\n'
    path = make_notebook(notebooks, "02_unparsable.ipynb", [(source, ["parameters"])])
    problems = notebook_problems(path)
    assert any("cannot parse" in problem and "data_dir" in problem for problem in problems)
    assert notebook_problems(notebooks / "01_tiny.ipynb") == []


def test_escaping_profile_is_a_clean_cli_error(
    notebooks: Path, reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = tmp_path / "escape.yaml"
    params.write_text("profile: ../../escape\n", encoding="utf-8")
    assert main(["reports", "-f", str(params), "--notebooks-dir", str(notebooks)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {params}: profile '../../escape' must be a plain name (letters, digits, '_', '-', '.')\n"
    assert not reports.exists()


TYPED = (
    'profile: str = "default"  # reports\n'
    'text_kind: str = "sentence"  # encoding\n'
    "epochs: int = 2  # epochs\n"
    "lr: float = 0.5  # step\n"
    "seeds: list = [1]  # seeds\n"
    "options: dict = {}  # options\n"
    "limit: Optional[int] = None  # cap\n"
    "anything = None\n"
    "count = 3\n"
)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("text_kind", ["sentence", "tokens"], 'must be str \\(declared `text_kind: str = "sentence"`\\), got list'),
        ("epochs", 2.5, "must be int .* got float 2.5"),
        ("epochs", True, "must be int .* got bool True"),
        ("epochs", "3", "must be int .* got str '3'"),
        ("lr", "1e-3", "must be float .* got str '1e-3' \\(YAML reads 1e-3 as text: write 1.0e-3\\)"),
        ("lr", None, "must be float .* got NoneType None"),
        ("seeds", {"a": 1}, "must be list .* got dict"),
        ("seeds", "1, 2", "must be list .* got str"),
        ("options", [1, 2], "must be dict .* got list"),
        ("limit", "ten", r"must be Optional\[int\] .* got str 'ten'"),
        ("count", 3.5, "must be int \\(declared `count = 3`\\), got float"),
    ],
)
def test_wrong_parameter_type_refused_before_the_kernel_starts(
    tmp_path: Path, reports: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: object, expected: str
) -> None:
    make_notebook(tmp_path, "01_typed.ipynb", [(TYPED, ["parameters"])])
    with pytest.raises(RunnerError, match=rf"01_typed\.ipynb: parameter '{name}' from parameters {expected}"):
        plan_run({"01_typed": {name: value}}, notebooks_dir=tmp_path)
    with pytest.raises(RunnerError, match=rf"parameter '{name}' from parameters {expected}"):
        plan_run({"common": {name: value}}, notebooks_dir=tmp_path)

    def no_kernel(*_: object, **__: object) -> None:
        raise AssertionError("the kernel must not start")

    monkeypatch.setattr("mmolre.report.runner.check_kernel", no_kernel)
    monkeypatch.setattr("mmolre.report.runner.execute_notebook", no_kernel)
    params = tmp_path / "typed.yaml"
    params.write_text(yaml.safe_dump({"01_typed": {name: value}}), encoding="utf-8")
    with pytest.raises(RunnerError, match=rf"parameter '{name}' from {params} {expected}"):
        run_reports(params, notebooks_dir=tmp_path, echo=False)
    assert not reports.exists()


def test_parameter_types_that_match_are_accepted(tmp_path: Path) -> None:
    make_notebook(tmp_path, "01_typed.ipynb", [(TYPED, ["parameters"])])
    values = {
        "text_kind": "tokens",
        "epochs": 5,
        "lr": 1,  # an int where a float is declared
        "seeds": [1, 2],
        "options": {"a": [1]},
        "limit": None,
        "anything": ["x", 1],
        "count": 4,
    }
    assert plan_run({"01_typed": values}, notebooks_dir=tmp_path).parameters["01_typed"] == {
        "profile": "default",
        **values,
    }
    assert plan_run({"01_typed": {"limit": 7}}, notebooks_dir=tmp_path).parameters["01_typed"]["limit"] == 7


def test_real_parameter_files_pass_the_type_check() -> None:
    for params in sorted((Path(__file__).parents[1] / "params").glob("*.yaml")):
        assert plan_run(load_param_file(params), source=str(params)).notebooks, params


@pytest.mark.parametrize(
    ("text", "key", "line", "first"),
    [
        ("profile: a\nprofile: b\n", "profile", 2, 1),
        ("profile: a\ncommon:\n  scale: 2\n  scale: 3\n", "scale", 4, 3),
        ("01_tiny:\n  scale: 2\ncommon: {}\n01_tiny:\n  scale: 3\n", "01_tiny", 4, 1),
        ("01_tiny: {scale: 2, scale: 3}\n", "scale", 1, 1),
        ("common:\n  options:\n    a: 1\n    a: 1\n", "a", 4, 3),
    ],
)
def test_duplicate_keys_name_the_key_and_line(
    tmp_path: Path, notebooks: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, line: int, first: int
) -> None:
    params = tmp_path / "dup.yaml"
    params.write_text(text, encoding="utf-8")
    message = f"parameter file {params}, line {line}: duplicate key '{key}' (first given at line {first})"
    with pytest.raises(RunnerError, match=re.escape(message)):
        load_param_file(params)
    assert main(["reports", "-f", str(params), "--notebooks-dir", str(notebooks)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {message}")


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    params = tmp_path / "merge.yaml"
    params.write_text("base: &base {scale: 2, seed: 1}\n01_tiny:\n  <<: *base\n  scale: 3\n", encoding="utf-8")
    assert load_param_file(params)["01_tiny"] == {"scale": 3, "seed": 1}
