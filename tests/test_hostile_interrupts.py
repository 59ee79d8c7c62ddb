"""Family 4 of issue 15: interrupts (SIGINT, SIGTERM) at any step and concurrent writers.

The runner's steps are exercised in-process with a stand-in for papermill (it writes what a kernel would write into
the staging folder), so an interrupt can be placed exactly; one end-to-end test sends SIGTERM to a real runner.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mmolre.cli import main
from mmolre.paths import PROJECT_ROOT
from mmolre.report.reporter import Reporter
from mmolre.runner import RunnerError, execute, outputs
from mmolre.runner.execute import profile_lock

PARAMS = 'profile: str = "default"  # reports/<profile>/\nvalue: int = 1  # what the notebook records\n'


def _notebook(folder: Path, name: str, work: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(work),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(folder / name))
    return folder / name


@pytest.fixture
def fake_kernel(tmp_path, monkeypatch):
    """Notebooks 01_a and 02_b, a reports folder, and papermill replaced by a function that records ``value`` the way
    the notebook's Reporter would, then calls ``during[stem]`` (e.g. to send a signal) if set."""
    folder = tmp_path / "notebooks"
    for name in ("01_a.ipynb", "02_b.ipynb"):
        _notebook(folder, name, "pass")
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setattr(execute, "check_kernel", lambda: None)
    monkeypatch.setattr(execute, "export_html", lambda notebook, target: target.parent.mkdir(parents=True) or None)
    during: dict[str, object] = {}

    def fake_execute(source, output, parameters, **_):
        stem = Path(source).stem
        Reporter(parameters["profile"]).json({"value": parameters["value"]}, stem)
        nbformat.write(nbformat.v4.new_notebook(), output)
        if stem in during:
            during[stem]()

    monkeypatch.setattr(execute.papermill, "execute_notebook", fake_execute)
    return folder, tmp_path / "reports" / "p", during


def _params(tmp_path: Path, value: int) -> Path:
    path = tmp_path / f"p{value}.yaml"
    path.write_text(f"profile: p\ncommon: {{value: {value}}}\n", encoding="utf-8")
    return path


def _values(root: Path) -> dict[str, int]:
    return {path.stem: json.loads(path.read_text())["value"] for path in sorted((root / "results").glob("*.json"))}


def _signal_self(number: int):
    return lambda: os.kill(os.getpid(), number)


@pytest.mark.parametrize("number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_while_a_notebook_runs(fake_kernel, tmp_path, capsys, number, code):
    notebooks, root, during = fake_kernel
    assert main(["reports", "-f", str(_params(tmp_path, 1)), "--notebooks-dir", str(notebooks)]) == 0
    during["02_b"] = _signal_self(number)
    assert main(["reports", "-f", str(_params(tmp_path, 2)), "--notebooks-dir", str(notebooks)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "interrupted: 01_a finished and replaced their outputs; 02_b was cut short and left its previous "
        "outputs unchanged"
    ]
    assert _values(root) == {"01_a": 2, "02_b": 1}
    assert not (root / ".staging").exists() and (root / "README.md").is_file()
    assert (root.parent / "index.html").is_file()


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_the_commit_completes_it_and_says_so(fake_kernel, tmp_path, monkeypatch, capsys, number):
    notebooks, root, _ = fake_kernel
    assert main(["reports", "-f", str(_params(tmp_path, 1)), "--notebooks-dir", str(notebooks)]) == 0
    commit = outputs.commit

    def interrupted_commit(*args):
        os.kill(os.getpid(), number)  # arrives in the middle of the commit
        time.sleep(0.05)
        commit(*args)

    monkeypatch.setattr(outputs, "commit", interrupted_commit)
    code = main(["reports", "-f", str(_params(tmp_path, 2)), "--only", "01_a", "--notebooks-dir", str(notebooks)])
    assert code == (130 if number == signal.SIGINT else 143)
    err = capsys.readouterr().err
    assert "01_a finished and replaced their outputs" in err and "unchanged" not in err, err
    assert _values(root) == {"01_a": 2, "02_b": 1}
    assert not (root / ".staging").exists()
    assert not list((root / ".manifest").glob("*.pending.json"))


def test_interrupt_before_anything_ran_keeps_everything(fake_kernel, tmp_path, monkeypatch, capsys):
    notebooks, root, _ = fake_kernel
    assert main(["reports", "-f", str(_params(tmp_path, 1)), "--notebooks-dir", str(notebooks)]) == 0
    new_stage = outputs.new_stage

    def interrupted_stage(*args):
        stage = new_stage(*args)
        os.kill(os.getpid(), signal.SIGINT)  # right after the staging folder was made
        return stage

    monkeypatch.setattr(outputs, "new_stage", interrupted_stage)
    assert main(["reports", "-f", str(_params(tmp_path, 2)), "--notebooks-dir", str(notebooks)]) == 130
    assert "01_a was cut short and left its previous outputs unchanged; 02_b did not run" in capsys.readouterr().err
    assert _values(root) == {"01_a": 1, "02_b": 1} and not (root / ".staging").exists()


TRAIN_PARAMS = """\
profile: p
common:
  dataset: synthetic
  dataset_options: {n_train: 24, n_valid: 8, n_test: 8, seq_len: 3, dim_scale: 0.1}
  seeds: [1111]
  epochs: 1
  model_config: {dim: 8, n_shared: 2, shared_ranks: [2, 4], specific_rank: 2}
  train_config: {batch_size: 16, num_threads: 1, device: cpu}
04_baselines:
  models: [single_task]
  bootstrap_samples: 0
"""


def test_train_command_waits_for_no_one_and_writes_through_the_manifests(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    params = tmp_path / "train.yaml"
    params.write_text(TRAIN_PARAMS, encoding="utf-8")
    root = tmp_path / "reports" / "p"
    with profile_lock(root):
        assert main(["train", "-f", str(params)]) == 1
    assert "another `python -m mmolre reports` is running for profile 'p'" in capsys.readouterr().err
    # the notebook's own run had written the same table: the train command's run takes it over in the index
    table = root / "tables" / "baselines_runs.csv"
    table.parent.mkdir(parents=True)
    table.write_text("old\n")
    (root / ".manifest").mkdir()
    (root / ".manifest" / "04_baselines.json").write_text(
        json.dumps({"notebook": "04_baselines", "files": ["tables/baselines_runs.csv"]})
    )
    assert main(["train", "-f", str(params)]) == 0
    assert table.read_text() != "old\n" and not (root / ".staging").exists()
    found = outputs.manifests(root)
    assert "tables/baselines_runs.csv" in found["04_baselines-train"].files
    assert "tables/baselines_runs.csv" not in found["04_baselines"].files
    assert "04_baselines-train" in (root / "README.md").read_text()


def test_profile_lock_is_refused_by_name(tmp_path):
    with (
        profile_lock(tmp_path / "p"),
        pytest.raises(RunnerError, match="for profile 'p'"),
        profile_lock(tmp_path / "p"),
    ):
        pass


def test_sigterm_to_a_real_runner_cleans_up_and_exits_143(tmp_path):
    """End to end: a real kernel sleeps in its notebook; SIGTERM to the runner ends the run like Ctrl-C."""
    notebooks = tmp_path / "notebooks"
    marker = tmp_path / "started"
    _notebook(notebooks, "01_sleep.ipynb", f"open({str(marker)!r}, 'w').close()\nimport time\ntime.sleep(120)\n")
    params = tmp_path / "p.yaml"
    params.write_text("profile: p\n", encoding="utf-8")
    env = {**os.environ, "MMOLRE_REPORTS_DIR": "relative_reports", "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "mmolre", "reports", "-f", str(params), "--notebooks-dir", str(notebooks)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), process.communicate(timeout=30)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "interrupted: 01_sleep was cut short and left its previous outputs unchanged" in err
    root = tmp_path / "relative_reports" / "p"  # relative to where the command ran
    assert (root / "README.md").is_file() and not (root / ".staging").exists()
