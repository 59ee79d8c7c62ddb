"""The papermill runner: validation before execution, failure handling, an end-to-end tiny run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from mmolre.cli import main
from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig
from mmolre.notebook_parameters import injected, recorded
from mmolre.parameter_checks import CHECKS
from mmolre.paths import PROJECT_ROOT
from mmolre.progress import PROGRESS_ENV
from mmolre.protocols import model_arms, run_experiment
from mmolre.results.dashboard import write_site_index
from mmolre.runner import RunnerError, outputs
from mmolre.runner.execute import profile_lock, run_reports
from mmolre.runner.kernel import check_kernel
from mmolre.runner.notebooks import discover_notebooks, normalize_notebook, notebook_problems
from mmolre.runner.param_file import load_param_file
from mmolre.runner.plan import plan_run
from mmolre.train import TrainConfig

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
    only = plan_run({"common": {"seeds": [7]}}, only=["01_tiny"], notebooks_dir=notebooks)  # --only a subset
    assert only.parameters == {"01_tiny": {"profile": "default"}}
    with pytest.raises(RunnerError, match=r"'common' name\(s\) \['seeds'\] are declared by none of the notebooks"):
        plan_run({"notebooks": ["01_tiny"], "common": {"seeds": [7]}}, notebooks_dir=notebooks)
    with pytest.raises(RunnerError, match=r"unknown notebook\(s\) \['09_absent'\]"):
        plan_run({"notebooks": ["09_absent"]}, only=["01_tiny"], notebooks_dir=notebooks)


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
    assert 'with parameters {"profile": "tiny", "scale": 3}' in index
    manifest = json.loads((reports / "tiny" / ".manifest" / "01_tiny.json").read_text(encoding="utf-8"))
    assert manifest["files"] == ["html/01_tiny.html", "notebooks/01_tiny.ipynb", "results/tiny.json"]
    assert sorted(path.name for path in (reports / "tiny").iterdir()) == [
        ".lock",
        ".manifest",
        "README.md",
        "html",
        "notebooks",
        "results",
    ]


def test_html_export_without_code_and_indexes(notebooks: Path, reports: Path) -> None:
    make_notebook(
        notebooks,
        "01_tiny.ipynb",
        [(PARAMS, ["parameters"]), (WORK + "print('visible ' + str(6 * 7))\n", [])],
    )
    (reports / "benchmarks" / "tables").mkdir(parents=True)  # a profile written outside the runner
    (reports / "benchmarks" / "tables" / "speed.md").write_text("| x |\n", encoding="utf-8")
    (reports / "empty").mkdir()
    run_reports(None, notebooks_dir=notebooks, echo=False)
    write_site_index(reports)  # the command line writes the dashboard after the runs
    page = (reports / "default" / "html" / "01_tiny.html").read_text(encoding="utf-8")
    assert "visible 42" in page  # the output is there ...
    assert "print(" not in page and "Reporter(profile)" not in page  # ... the code is not
    index = (reports / "default" / "html" / "index.html").read_text(encoding="utf-8")
    for link in ("../html/01_tiny.html", "../notebooks/01_tiny.ipynb", "../results/tiny.json", "../../index.html"):
        assert f'href="{link}"' in index
    site = (reports / "index.html").read_text(encoding="utf-8")
    assert 'href="default/html/index.html"' in site and 'href="benchmarks/"' in site
    assert "empty" not in site  # only profiles that have outputs


def test_failing_notebook_names_cell_and_keeps_previous_output(notebooks: Path, reports: Path) -> None:
    run_reports(None, notebooks_dir=notebooks, echo=False)
    good = reports / "default" / "notebooks" / "01_tiny.ipynb"
    before = good.read_bytes()
    profile = reports / "default"
    kept = {path: path.read_bytes() for path in (profile / "results" / "tiny.json", profile / "html" / "01_tiny.html")}
    make_notebook(
        notebooks,
        "01_tiny.ipynb",
        [
            (PARAMS, ["parameters"]),
            ("from mmolre.report import Reporter\nReporter(profile).json({'value': -1}, 'tiny')", []),
            ("Reporter(profile).json({}, 'extra')", []),
            ("raise ValueError('boom')", []),
        ],
    )
    with pytest.raises(
        RunnerError,
        match=r"01_tiny\.ipynb failed in cell \[5\] \(starting \"raise ValueError\('boom'\)\"\): ValueError: boom",
    ):
        run_reports(None, notebooks_dir=notebooks, echo=False)
    assert good.read_bytes() == before
    assert all(path.read_bytes() == content for path, content in kept.items())  # the new json never landed
    assert not (profile / "results" / "extra.json").exists() and not (profile / ".staging").exists()
    leftovers = sorted(path.name for path in good.parent.iterdir())
    assert leftovers == ["01_tiny.failed.ipynb", "01_tiny.ipynb"]
    index = (profile / "README.md").read_text(encoding="utf-8")
    assert (
        "**The latest run of this notebook failed** ([01_tiny.failed.ipynb](notebooks/01_tiny.failed.ipynb))" in index
    )
    assert "extra" not in index
    make_notebook(notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (WORK, [])])
    run_reports(None, notebooks_dir=notebooks, echo=False)  # the next good run clears the failure
    assert sorted(path.name for path in good.parent.iterdir()) == ["01_tiny.ipynb"]
    assert "failed" not in (profile / "README.md").read_text(encoding="utf-8")


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
    assert err == (
        f"error: {params}: profile '../../escape' must be a plain name (letters, digits, '_' and '-', "
        "at most 64 characters)\n"
    )
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

    monkeypatch.setattr("mmolre.runner.execute.check_kernel", no_kernel)
    monkeypatch.setattr("mmolre.runner.execute.execute_notebook", no_kernel)
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


def test_real_parameter_files_pass_every_check() -> None:
    for params in sorted((Path(__file__).parents[1] / "params").glob("*.yaml")):
        assert plan_run(load_param_file(params), source=str(params), checks=CHECKS).notebooks, params


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


COOCCURRENCE = (
    "import pandas as pd\n"
    "from mmolre.report import Reporter\n"
    "reporter = Reporter(profile)\n"
    "reporter.table(pd.DataFrame({'n': [scale]}), 'data_summary')\n"
    "if scale > 2:\n"
    "    reporter.table(pd.DataFrame({'pair': ['joy+sad']}), 'emotion_cooccurrence')\n"
)


def test_rerun_with_other_parameters_removes_outputs_it_no_longer_writes(
    notebooks: Path, reports: Path, tmp_path: Path
) -> None:
    make_notebook(notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (COOCCURRENCE, [])])
    make_notebook(notebooks, "02_other.ipynb", [(PARAMS, ["parameters"]), (WORK, [])])
    params = tmp_path / "p.yaml"
    params.write_text("common:\n  scale: 3\n", encoding="utf-8")
    run_reports(params, notebooks_dir=notebooks, echo=False)
    tables = reports / "default" / "tables"
    assert (tables / "emotion_cooccurrence.csv").exists() and (tables / "emotion_cooccurrence.md").exists()
    assert "emotion_cooccurrence" in (reports / "default" / "README.md").read_text(encoding="utf-8")
    other = (reports / "default" / "results" / "tiny.json").read_bytes()
    params.write_text("01_tiny:\n  scale: 1\n", encoding="utf-8")
    run_reports(params, only=["01_tiny"], notebooks_dir=notebooks, echo=False)
    assert sorted(path.name for path in tables.iterdir()) == ["data_summary.csv", "data_summary.md"]
    assert (reports / "default" / "results" / "tiny.json").read_bytes() == other  # 02_other was not rerun: kept
    for index in ("README.md", "html/index.html"):
        text = (reports / "default" / index).read_text(encoding="utf-8")
        assert "emotion_cooccurrence" not in text and "data_summary" in text and "tiny.json" in text
    manifest = outputs.manifests(reports / "default")["01_tiny"]
    executed = reports / "default" / "notebooks" / "01_tiny.ipynb"
    assert "tables/emotion_cooccurrence.csv" not in manifest.files and injected(executed)["scale"] == 1
    assert recorded(executed) == {"profile": "default", "scale": 1}  # papermill's record: the notebook's own parameters
    assert "<code>scale</code></td><td><code>1</code>" in (reports / "default" / "html" / "index.html").read_text()


def test_commit_cut_short_is_completed_by_recover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "default"
    for name in ("results/a.json", "results/old.json", "tables/b.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("old", encoding="utf-8")
    outputs._write_json(
        root / ".manifest" / "01_x.json", {"notebook": "01_x", "files": ["results/a.json", "results/old.json"]}
    )
    outputs._write_json(root / ".manifest" / "02_y.json", {"notebook": "02_y", "files": ["tables/b.md"]})
    stage = outputs.new_stage(root, "01_x")
    for name in ("results/a.json", "tables/b.md"):
        (stage / "default" / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / "default" / name).write_text("new", encoding="utf-8")
    manifest = outputs.Manifest("01_x", outputs.staged_files(stage, "default"))
    real_replace, moved = os.replace, []

    def killed_after_first_move(source: Path, target: Path) -> None:
        if stage in Path(source).parents:
            if moved:
                raise KeyboardInterrupt  # stands for a kill between two moves
            moved.append(target)
        real_replace(source, target)

    monkeypatch.setattr(outputs.os, "replace", killed_after_first_move)
    with pytest.raises(KeyboardInterrupt):
        outputs.commit(root, stage, manifest)
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert (root / "results" / "a.json").read_text(encoding="utf-8") == "new"  # half done: mixed
    assert (root / "tables" / "b.md").read_text(encoding="utf-8") == "old"
    notes = outputs.recover(root)
    assert notes[0] == "completed the interrupted commit of 01_x" and "removed leftover .staging" in notes
    assert (root / "tables" / "b.md").read_text(encoding="utf-8") == "new"
    assert not (root / "results" / "old.json").exists() and not (root / ".staging").exists()
    found = outputs.manifests(root)
    assert found["01_x"].files == ("results/a.json", "tables/b.md") and found["02_y"].files == ()
    assert sorted(path.name for path in (root / ".manifest").iterdir()) == ["01_x.json", "02_y.json"]


SLEEPER = (
    "import os, pathlib, time\n"
    "from mmolre.report import Reporter\n"
    "Reporter(profile).json({'value': -1}, 'tiny')\n"
    "Reporter(profile).json({}, 'extra')\n"
    "pathlib.Path({mark!r}).write_text(str(os.getpid()))\n"
    "time.sleep(300)\n"
)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.2)


def _end_kernel(pid_file: Path) -> None:
    """The orphaned kernel exits by itself (ipykernel polls its parent); make sure, by its own pid."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    for _ in range(50):
        cmdline = Path(f"/proc/{pid}/cmdline")
        if not cmdline.exists() or b"ipykernel" not in cmdline.read_bytes():
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_keeps_previous_outputs_and_next_run_cleans_up(
    notebooks: Path, reports: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    make_notebook(
        notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (WORK + "Reporter(profile).json({}, 'old')", [])]
    )
    run_reports(None, notebooks_dir=notebooks, echo=False)
    profile = reports / "default"
    scratch = profile / "notebooks" / ".01_tiny.abc123"  # what the runner before staging left after a kill
    scratch.mkdir()
    before = {
        path: path.read_bytes() for path in profile.rglob("*") if path.is_file() and ".manifest" not in path.parts
    }
    mark = tmp_path / "kernel.pid"
    make_notebook(
        notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (SLEEPER.replace("{mark!r}", repr(str(mark))), [])]
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "mmolre", "reports", "--notebooks-dir", str(notebooks)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(mark, process)
        assert list(profile.glob(".staging/01_tiny.*/default/results/extra.json"))  # the new outputs are staged ...
        process.send_signal(sig)
        printed = process.communicate(timeout=60)[0].decode("utf-8", errors="replace")
        assert process.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL)
        assert ("interrupted: 01_tiny was cut short and left its previous outputs unchanged" in printed) == (
            sig == signal.SIGINT
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        _end_kernel(mark)
    after = {path: path.read_bytes() for path in profile.rglob("*") if path.is_file() and ".manifest" not in path.parts}
    staged = {path for path in after if ".staging" in path.parts}
    assert {path: after[path] for path in after if path not in staged} == before  # ... and never landed
    if sig == signal.SIGINT:
        assert not staged and not (profile / ".staging").exists()  # Ctrl-C cleans up at once
        return
    assert staged  # a kill leaves the stage: the next run removes it
    make_notebook(notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (WORK, [])])
    run_reports(None, notebooks_dir=notebooks, echo=False)
    names = [path.relative_to(profile) for path in profile.rglob("*")]
    hidden = sorted(name.as_posix() for name in names if any(part.startswith(".") for part in name.parts))
    assert hidden == [".lock", ".manifest", ".manifest/01_tiny.json"]
    assert outputs.output_files(profile) == ["html/01_tiny.html", "notebooks/01_tiny.ipynb", "results/tiny.json"]
    assert "old.json" not in (profile / "README.md").read_text(encoding="utf-8")


def test_progress_is_echoed_but_not_stored(notebooks: Path, reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = "from mmolre.progress import progress\nprogress('mmolre seed 1112 (2/5)')\nprint('kept')\n"
    make_notebook(notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (source, [])])
    run_reports(None, notebooks_dir=notebooks)
    assert "  [01_tiny] mmolre seed 1112 (2/5)\n" in capsys.readouterr().out
    executed = nbformat.read(str(reports / "default" / "notebooks" / "01_tiny.ipynb"), as_version=4)
    stored = json.dumps([cell.get("outputs", []) for cell in executed.cells])
    assert "kept" in stored and "seed 1112" not in stored


def test_driver_reports_each_arm_and_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "progress.log"
    monkeypatch.setenv(PROGRESS_ENV, str(log))
    data = make_synthetic("mosi", n_train=32, n_valid=16, n_test=16, seq_len=3, dim_scale=0.05, seed=2)
    config = ModelConfig(dim=8, n_shared=2, shared_ranks=(2,), specific_rank=2, blocks=1)
    arms = model_arms(["mmolre", "hard_sharing"], config, TrainConfig(epochs=1, batch_size=32, num_threads=1))
    run_experiment(arms, data, seeds=(7, 8))
    assert log.read_text(encoding="utf-8").splitlines() == [
        "mmolre seed 7 (1/4)",
        "mmolre seed 8 (2/4)",
        "hard_sharing seed 7 (3/4)",
        "hard_sharing seed 8 (4/4)",
    ]


def test_one_run_per_profile(notebooks: Path, reports: Path) -> None:
    with profile_lock(reports / "default"), pytest.raises(RunnerError, match="another .* for profile 'default'"):
        run_reports(None, notebooks_dir=notebooks, echo=False)
    assert not (reports / "default" / "notebooks").exists()


def test_outputs_for_another_profile_are_refused(notebooks: Path, reports: Path) -> None:
    source = "from mmolre.report import Reporter\nReporter('other').json({'value': 1}, 'tiny')\n"
    make_notebook(notebooks, "01_tiny.ipynb", [(PARAMS, ["parameters"]), (source, [])])
    with pytest.raises(RunnerError, match=r"01_tiny\.ipynb wrote outputs for profile\(s\) \['other'\].*'default'"):
        run_reports(None, notebooks_dir=notebooks, echo=False)
    assert not (reports / "other").exists() and not (reports / "default" / "results").exists()
    assert (reports / "default" / "notebooks" / "01_tiny.failed.ipynb").exists()


def test_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "default" / ".manifest").mkdir(parents=True)
    (tmp_path / "default" / ".manifest" / "01_x.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"01_x\.json is not a runner manifest"):
        outputs.manifests(tmp_path / "default")


def test_several_parameter_files_are_all_checked_before_any_runs(
    notebooks: Path, reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, other, bad = tmp_path / "good.yaml", tmp_path / "other.yaml", tmp_path / "bad.yaml"
    good.write_text("profile: first\ncommon:\n  scale: 1\n", encoding="utf-8")
    other.write_text("profile: second\ncommon:\n  scale: 2\n", encoding="utf-8")
    bad.write_text("profile: third\ncommon:\n  scael: 2\n", encoding="utf-8")
    args = ["reports", "--notebooks-dir", str(notebooks), "-f"]
    assert main([*args, str(good), str(bad)]) == 1
    assert "scael" in capsys.readouterr().err and not (reports / "first").exists()
    assert main([*args, str(good), str(other)]) == 0
    out = capsys.readouterr().out
    assert (reports / "first" / "results" / "tiny.json").is_file() and (reports / "second" / "results").is_dir()
    assert str(other) in out and "all profiles" in out and "results block" not in out  # not the project's reports
