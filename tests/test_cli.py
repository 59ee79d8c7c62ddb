"""The command line: version, help with examples, ``-p NAME VALUE`` overrides checked like parameter-file values,
``--data-dir``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmolre.cli import main
from mmolre.parameter_checks import CHECKS
from mmolre.runner import RunnerError
from mmolre.runner.param_file import apply_overrides
from mmolre.runner.plan import check_param_file


def test_version_and_help_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("mmolre ")
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "-p seeds" in text and "``" not in text


def test_help_does_not_import_torch() -> None:
    """``python -m mmolre --help`` answers without loading torch or the report code (a fresh interpreter)."""
    probe = "import runpy, sys\ntry:\n    runpy.run_module('mmolre', run_name='__main__')\n"
    probe += "except SystemExit:\n    pass\n"
    probe += "print(sorted(m for m in ('torch', 'matplotlib', 'pandas') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, check=True)
    assert "examples:" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_overrides_are_yaml_and_reach_every_notebook() -> None:
    settings = {"profile": "p", "common": {"epochs": 3}, "04_baselines": {"seeds": [1]}, "05_ablations": {}}
    result = apply_overrides(settings, [("seeds", "[1111, 1112]"), ("profile", "q"), ("dataset", "mosi")], "f.yaml")
    assert result["profile"] == "q"
    assert result["common"] == {"epochs": 3, "seeds": [1111, 1112], "dataset": "mosi"}
    assert result["04_baselines"] == {"seeds": [1111, 1112]} and result["05_ablations"] == {}
    assert settings["common"] == {"epochs": 3}  # the file's settings are not changed in place
    with pytest.raises(RunnerError, match=r"-p seeds: the value .* is not valid YAML"):
        apply_overrides(settings, [("seeds", "[1111")], "f.yaml")


def test_overrides_are_checked_like_file_values(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("profile: cli_check\nnotebooks: [04_baselines]\n", encoding="utf-8")
    plan = check_param_file(params, overrides=[("epochs", "3"), ("seeds", "[1111, 1112]")], checks=CHECKS)
    assert plan.parameters["04_baselines"]["epochs"] == 3
    assert plan.parameters["04_baselines"]["seeds"] == [1111, 1112]
    with pytest.raises(RunnerError, match="epochs"):
        check_param_file(params, overrides=[("epochs", "three")], checks=CHECKS)
    with pytest.raises(RunnerError, match="nope"):
        check_param_file(params, overrides=[("nope", "1")], checks=CHECKS)
    with pytest.raises(RunnerError, match="seeds must be distinct"):  # checked like the file's values
        check_param_file(params, overrides=[("seeds", "[1, 1]")], checks=CHECKS)
    assert check_param_file(params, overrides=[("seeds", "[1, 1]")]).parameters  # names and types only


def test_data_dir_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reports", "--data-dir", str(tmp_path / "missing")]) == 1
    assert f"--data-dir {tmp_path / 'missing'} is not a folder" in capsys.readouterr().err


def test_an_install_without_the_notebooks_is_told_to_clone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import mmolre.runner.plan as runner

    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", tmp_path)
    with pytest.raises(RunnerError, match="clone it and run `pip install -e .`"):
        runner.plan_run({}, notebooks_dir=tmp_path)
    with pytest.raises(RunnerError) as other:
        runner.plan_run({}, notebooks_dir=tmp_path / "elsewhere")
    assert "clone" not in str(other.value)
