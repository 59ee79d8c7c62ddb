"""``python -m mmolre train``: the notebook section's runs, recorded as the notebook records them, in one process
and under ``torchrun`` (2 gloo processes on loopback; the tolerance is explained in tests/test_distributed.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mmolre.cli import main
from mmolre.models import MCULoRAConfig
from mmolre.paths import PROJECT_ROOT
from mmolre.protocols.driver import model_arms
from mmolre.report.notebook import setup_notebook
from mmolre.report.reporter import rounded
from mmolre.runner.plan import notebook_values
from mmolre.train.distributed import ENV_VARS


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TINY_PARAMS = """\
profile: ddp_tiny
common:
  dataset: synthetic
  dataset_options: {n_train: 45, n_valid: 16, n_test: 16, seq_len: 4, dim_scale: 0.1}
  seeds: [1111]
  epochs: 1
  model_config: {dim: 8, n_shared: 2, shared_ranks: [2, 4], specific_rank: 2, router_noise: 0.0, learned_noise: false,
    dropout: 0.0}
  train_config: {batch_size: 16, aux_weight: 0.0, num_threads: 1, device: cpu}
04_baselines:
  models: [mmolre, hard_sharing]
"""


def _params(tmp_path: Path, text: str = TINY_PARAMS) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_train_command_records_the_notebook_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "-f", str(_params(tmp_path))]) == 0
    printed = capsys.readouterr().out
    assert "test split, mean ± std over seeds" in printed and "mae" in printed and "hard_sharing" in printed
    recorded = pd.read_csv(tmp_path / "reports" / "ddp_tiny" / "tables" / "baselines_runs.csv")
    # the notebook's own code path with the same parameters gives the same table
    values = notebook_values(_params(tmp_path), "04_baselines")
    nb = setup_notebook(
        "ddp_tiny", "synthetic", "", values["dataset_options"], values["model_config"], values["train_config"], 1
    )
    expected = nb.run(model_arms(["mmolre", "hard_sharing"], nb.model_config, nb.train_config), [1111]).runs
    assert list(recorded["model"]) == ["mmolre", "mmolre", "hard_sharing", "hard_sharing"]
    pd.testing.assert_frame_equal(recorded, rounded(expected), check_dtype=False)  # tables keep 4 digits


def test_arms_of_notebook_04_may_mix_model_families(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``arm_configs`` gives an arm its own configuration: overrides of model_config for a model of its family, or of
    its own family's defaults (MCULoRA beside MMoLRE), through the notebook's code path and the train command."""
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    mixed = TINY_PARAMS.replace(
        "  models: [mmolre, hard_sharing]\n",
        "  models: [mmolre, linear_head, mculora]\n"
        "  arm_configs: {linear_head: {dim: 12}, mculora: {hidden: 8, rank: 2, mlp_rank: 2}}\n",
    )
    values = notebook_values(_params(tmp_path, mixed), "04_baselines")
    nb = setup_notebook(
        "ddp_tiny", "synthetic", "", values["dataset_options"], values["model_config"], values["train_config"], 1
    )
    arms = {
        arm.model: arm.model_config
        for arm in model_arms(values["models"], nb.model_config, nb.train_config, values["arm_configs"])
    }
    assert arms["mmolre"] is nb.model_config and arms["linear_head"] == nb.model_config.replace(dim=12)
    assert type(arms["mculora"]) is MCULoRAConfig and (arms["mculora"].hidden, arms["mculora"].rank) == (8, 2)
    assert main(["train", "-f", str(_params(tmp_path, mixed))]) == 0
    recorded = pd.read_csv(tmp_path / "reports" / "ddp_tiny" / "tables" / "baselines_runs.csv")
    assert list(dict.fromkeys(recorded["model"])) == ["mmolre", "linear_head", "mculora"]
    assert recorded.groupby("model")["params"].first().nunique() == 3  # three configurations, three sizes
    capsys.readouterr()
    wrong = mixed.replace("mculora: {hidden: 8", "mculora: {dim: 8")  # a ModelConfig field on MCULoRA's arm
    assert main(["train", "-f", str(_params(tmp_path, wrong))]) == 1
    assert "arm_configs['mculora']" in capsys.readouterr().err


def test_train_command_refuses_bad_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_name = TINY_PARAMS.replace("models:", "modelz:")
    assert main(["train", "-f", str(_params(tmp_path, bad_name))]) == 1
    assert "unknown parameter(s) ['modelz']" in capsys.readouterr().err
    bad_value = TINY_PARAMS.replace("batch_size: 16", "batch_sise: 16")
    assert main(["train", "-f", str(_params(tmp_path, bad_value))]) == 1
    assert "batch_sise" in capsys.readouterr().err
    not_selected = "notebooks: [03_train_mmolre]\n" + TINY_PARAMS
    assert main(["train", "-f", str(_params(tmp_path, not_selected))]) == 1
    assert "does not select 04_baselines" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "-f", str(_params(tmp_path)), "--notebook", "06_incomplete_modalities"])


def test_train_command_under_torchrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two torchrun processes on loopback record (on rank 0 only) the runs a single process records."""
    params = _params(tmp_path)
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "single"))
    assert main(["train", "-f", str(params)]) == 0
    env = {key: value for key, value in os.environ.items() if key not in ENV_VARS}
    env.update(PYTHONPATH=str(PROJECT_ROOT), OMP_NUM_THREADS="1", MMOLRE_REPORTS_DIR=str(tmp_path / "ddp"))
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    launch += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    done = subprocess.run(
        [*launch, "-m", "mmolre", "train", "-f", str(params)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 runs on 2 process(es), global batch 16" in done.stdout
    provenance = json.loads((tmp_path / "ddp" / "ddp_tiny" / "results" / "baselines_runs.json").read_text())
    assert (provenance["processes"], provenance["global_batch"]) == (2, 16)
    assert provenance["parameters"]["models"] == ["mmolre", "hard_sharing"]
    tables = {
        name: pd.read_csv(tmp_path / name / "ddp_tiny" / "tables" / "baselines_runs.csv") for name in ("single", "ddp")
    }
    metrics = [c for c in tables["single"].columns if c not in ("model", "variant", "split")]
    pd.testing.assert_frame_equal(tables["ddp"][metrics], tables["single"][metrics], atol=1e-4, rtol=0.0)


def test_the_model_card_command_recreates_and_exports_the_best_run_writing_only_run_records_to_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The card names the run with the lowest valid criterion; its command, run as written, re-evaluates that run
    from the profile's checkpoint and exports it, writes nothing under reports/, and refuses a foreign folder before
    training."""
    import shlex

    import mmolre as mm
    from mmolre.exports.folder import load_pretrained

    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "params").mkdir()
    text = TINY_PARAMS.replace("  seeds: [1111]\n", "  seeds: [1111]\n  resume: true\n")
    params = _params(tmp_path / "params", text).rename(tmp_path / "params" / "ddp_tiny.yaml")
    values = notebook_values(params, "04_baselines")
    nb = setup_notebook(
        "ddp_tiny",
        "synthetic",
        "",
        values["dataset_options"],
        values["model_config"],
        values["train_config"],
        1,
        checkpoints="models",
    )
    experiment = nb.run(model_arms(["mmolre", "hard_sharing"], nb.model_config, nb.train_config), [1111])
    label, seed = experiment.best_on_valid()
    criteria = {key: results[0].best_criterion for key, results in experiment.results.items()}
    assert criteria[(label, seed)] == min(criteria.values())
    card = mm.profile_card(experiment, nb.data, "ddp_tiny", resume=True)
    command = card.strip().splitlines()[-1].strip()
    assert command == f"python -m mmolre export -f params/ddp_tiny.yaml --model {label} --seed {seed} " + (
        f"--to exports/ddp_tiny-{label}-{seed}"
    )
    assert "re-evaluates the run from the profile's checkpoint" in card
    (tmp_path / "exports" / "foreign").mkdir(parents=True)
    (tmp_path / "exports" / "foreign" / "notes.txt").write_text("mine", encoding="utf-8")
    argv = shlex.split(command)[3:]
    assert main([*argv[:-1], "exports/foreign"]) == 1
    assert "folder holds other files" in capsys.readouterr().err
    assert main(argv) == 0
    assert f"exported {label} seed {seed}" in capsys.readouterr().out
    exported = load_pretrained(tmp_path / argv[-1])
    assert exported.config["model"] == label
    assert exported.config["metrics"]["test"] == pytest.approx(experiment.results[(label, seed)][0].test_metrics)
    written = sorted(p.relative_to(tmp_path / "reports").as_posix() for p in (tmp_path / "reports").rglob("*.*"))
    assert written == sorted(
        f"ddp_tiny/runs/models/{arm}-sentiment+emotion-seed1111.{suffix}"
        for arm in ("mmolre", "hard_sharing")
        for suffix in ("json", "npz")
    )  # the run records of nb.run and export: nothing else under reports/
    assert (
        mm.profile_card(experiment, nb.data, "default")
        .strip()
        .splitlines()[-1]
        .strip()
        .startswith(f"python -m mmolre export --model {label}")
    )


def test_train_resumes_from_the_notebooks_own_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With resume, train checkpoints where notebooks 03 and 04 do, so a run one of them finished is re-evaluated."""
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    params = _params(tmp_path, TINY_PARAMS.replace("  seeds: [1111]\n", "  seeds: [1111]\n  resume: true\n"))
    assert main(["train", "-f", str(params), "-p", "models", "[hard_sharing]"]) == 0
    folders = sorted(p.name for p in (tmp_path / "cache" / "runs" / "ddp_tiny" / "models").iterdir())
    assert folders == ["hard_sharing-sentiment+emotion-seed1111"]


def test_record_command_trains_one_run_into_its_records_and_then_only_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mmolre.protocols import driver

    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    plain = _params(tmp_path, TINY_PARAMS.replace("[mmolre, hard_sharing]", "[mmolre, single_task]"))
    assert main(["record", "-f", str(plain), "--model", "single_task", "--seed", "1111"]) == 1
    assert "error: record: this profile does not resume (set resume: true" in capsys.readouterr().err
    params = _params(tmp_path, plain.read_text().replace("  seeds: [1111]\n", "  seeds: [1111]\n  resume: true\n"))
    argv = ["record", "-f", str(params), "--model", "single_task", "--seed", "1111"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    runs = tmp_path / "reports" / "ddp_tiny" / "runs" / "models"
    assert "\nrecorded single_task seed 1111 (test: acc2_non0 " in first and "emo_wa" in first
    assert sorted(p.name for p in runs.iterdir()) == [
        f"single_task-{task}-seed1111.{suffix}" for task in ("emotion", "sentiment") for suffix in ("json", "npz")
    ]
    assert (
        sorted(p.relative_to(tmp_path / "reports").parts[1] for p in (tmp_path / "reports").rglob("*.*"))
        == ["runs"] * 4
    )  # nothing else under reports/
    monkeypatch.setattr(driver, "train_model", lambda *a, **k: pytest.fail("a recorded model was trained again"))
    assert main(argv) == 0
    assert capsys.readouterr().out == first
    assert main([*argv[:4], "hard_sharing", *argv[5:]]) == 1
    assert "is not an arm of notebook 04 here" in capsys.readouterr().err
    monkeypatch.undo()  # train the other arm for real, then the whole section must come from the records alone
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path / "cache"))
    assert main([*argv[:4], "mmolre", *argv[5:]]) == 0
    monkeypatch.setattr(driver, "train_model", lambda *a, **k: pytest.fail("notebook 04's section trained again"))
    assert main(["train", "-f", str(params)]) == 0
    assert "2 runs on 1 process(es)" in capsys.readouterr().out
