"""Family 3 of issue 15: parameter values are checked, down to the fields of the nested configurations, before any
kernel starts, by ``reports`` and ``train`` alike; profile names are safe folder names; every refusal is one line
naming the file, the notebook and the parameter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmolre.cli import main
from mmolre.config import StrictConfig
from mmolre.models import ModelConfig
from mmolre.models.mculora_config import MCULoRAConfig
from mmolre.parameter_checks import CHECKS
from mmolre.runner import RunnerError, execute
from mmolre.runner.plan import check_param_file
from mmolre.train import TrainConfig

BASE = "profile: hostile\nnotebooks: [03_train_mmolre, 04_baselines, 05_ablations, 06_incomplete_modalities]\n"
CASES = {
    "float written as YAML text": (
        "common: {train_config: {lr: 1e-3}}",
        "'train_config'",
        "TrainConfig.lr must be float",
    ),
    "string model width": ("common: {model_config: {dim: '32'}}", "'model_config'", "ModelConfig.dim must be int"),
    "list element type": ("common: {model_config: {shared_ranks: [4, x]}}", "'model_config'", "list of int"),
    "string dataset option": ("common: {dataset_options: {n_train: '20'}}", "'dataset_options'", "'n_train'"),
    "audio: no": (
        "common: {dataset: mosi, dataset_options: {audio: 'no'}}",
        "'dataset_options'",
        "option 'audio' of dataset 'mosi' must be bool",
    ),
    "string token limit": (
        "common: {dataset: mosi, dataset_options: {max_tokens: '32'}}",
        "'dataset_options'",
        "'max_tokens'",
    ),
    "unknown dataset option": ("common: {dataset_options: {colour: 1}}", "'dataset_options'", "unknown option(s)"),
    "epochs inside train_config": (
        "common: {train_config: {epochs: '3'}}",
        "'train_config'",
        "set epochs with the notebook's `epochs` parameter",
    ),
    "text seed": ("common: {seeds: [a]}", "'seeds'", "seeds must be list of int"),
    "fractional seed": ("common: {seeds: [1.5]}", "'seeds'", "seeds must be list of int"),
    "no seed": ("common: {seeds: []}", "'seeds'", "empty list"),
    "repeated seed": ("common: {seeds: [1, 1]}", "'seeds'", "distinct"),
    "unknown ablation": ("05_ablations: {ablations: [nope]}", "'ablations'", "unknown ablation ['nope']"),
    "unknown grid": ("05_ablations: {grids: {nope: [1]}}", "'grids'", "unknown ablation ['nope']"),
    "unknown model": ("04_baselines: {models: [mmolre, nope]}", "'models'", "unknown model ['nope']"),
    "arm config of no arm": ("04_baselines: {arm_configs: {mculora: {}}}", "'arm_configs'", "not among the models"),
    "arm config of the wrong family": (
        "04_baselines: {models: [mmolre, mculora], arm_configs: {mculora: {dim: 8}}}",
        "'arm_configs'",
        "arm_configs['mculora']: MCULoRAConfig: unknown field(s) ['dim']",
    ),
    "unknown method": ("06_incomplete_modalities: {methods: [nope]}", "'methods'", "unknown method ['nope']"),
    "missing rate above 1": ("06_incomplete_modalities: {rates: [0.0, 2.0]}", "'rates'", "[0.0, 1.0]"),
    "mculora field type": (
        "06_incomplete_modalities: {mculora_config: {hidden: 16.5}}",
        "'mculora_config'",
        "MCULoRAConfig.hidden must be int",
    ),
    "modality dropout over the methods' sampling": (
        "06_incomplete_modalities: {train_config: {modality_dropout: 0.2}}",
        "'train_config'",
        "modality_dropout must be 0 here",
    ),
    "no worker": ("06_incomplete_modalities: {workers: 0}", "'workers'", "workers must be >= 1, got 0"),
    "fractional workers": ("06_incomplete_modalities: {workers: 1.5}", "'workers'", "int"),
    "zero epochs": ("common: {epochs: 0}", "'epochs'", "epochs"),
    "out-of-range learning rate": ("common: {train_config: {lr: -1.0}}", "'train_config'", "must be > 0"),
    "default options of another dataset": ("common: {dataset: mosi}", "the notebook's default", "'n_train'"),
}


def _file(tmp_path: Path, text: str, name: str = "hostile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_nested_values_are_refused_before_any_kernel_starts(tmp_path, monkeypatch, case):
    started = []
    monkeypatch.setattr(execute, "check_kernel", lambda: started.append(True))
    text, parameter, fragment = CASES[case]
    path = _file(tmp_path, BASE + text)
    with pytest.raises(RunnerError) as caught:
        check_param_file(path, checks=CHECKS)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 700 and parameter in message and fragment in message, message
    assert started == []


def test_modality_dropout_is_refused_only_where_the_methods_sample(tmp_path):
    others = "profile: hostile\nnotebooks: [03_train_mmolre, 04_baselines, 05_ablations]\n"
    check_param_file(_file(tmp_path, others + "common: {train_config: {modality_dropout: 0.2}}"), checks=CHECKS)
    with pytest.raises(RunnerError, match=r"06_incomplete_modalities\.ipynb: parameter 'train_config'"):
        check_param_file(_file(tmp_path, BASE + "common: {train_config: {modality_dropout: 0.2}}"), checks=CHECKS)


@pytest.mark.parametrize("command", ["reports", "train"])
def test_both_commands_refuse_with_one_line_and_exit_1(tmp_path, monkeypatch, capsys, command):
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    path = _file(tmp_path, BASE + "common: {model_config: {dim: '32'}}")
    assert main([command, "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "ModelConfig.dim must be int" in err, err
    assert "Traceback" not in err and not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    "profile",
    ["index.html", "x" * 300, "../up", "a.b", "", "-dash", "white space", 5],
)
def test_profile_must_be_a_safe_folder_name(tmp_path, monkeypatch, capsys, profile):
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    path = _file(tmp_path, f"profile: {profile!r}" if isinstance(profile, str) else f"profile: {profile}")
    assert main(["reports", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert "must be a plain name" in err and err.count("\n") == 1 and len(err) < 300, err
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("content", [b"\x80\x04\x95\xff\xfe\x00binary", b"profile: \xff\xfe\n"])
def test_binary_parameter_file_is_one_line_naming_it(tmp_path, capsys, content):
    path = tmp_path / "binary.yaml"
    path.write_bytes(content)
    assert main(["reports", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "binary.yaml" in err and "not UTF-8 text" in err, err


@pytest.mark.parametrize("config", [TrainConfig, ModelConfig, MCULoRAConfig])
def test_every_field_of_every_config_is_type_checked(config):
    """Derived from the dataclass: a field added later is checked without touching the checks."""
    for field in dataclasses.fields(config):
        with pytest.raises(ValueError, match=rf"{config.__name__}\.{field.name} must be "):
            config.from_dict({field.name: {"not": "a value of this type"}})


def test_a_new_field_is_checked_from_its_type_hint():
    @dataclasses.dataclass
    class Later(StrictConfig):
        width: int = 2
        ranks: tuple[int, ...] = (1,)
        scale: float | None = None

    assert Later.from_dict({"width": 3, "ranks": [1, 2], "scale": 2}).ranks == [1, 2]
    for values, message in (
        ({"width": True}, "Later.width must be int, got bool"),
        ({"ranks": [1, "2"]}, "Later.ranks must be list of int"),
        ({"scale": "1e-3"}, "YAML reads 1e-3 as text"),
        ({"shape": 1}, "unknown field"),
    ):
        with pytest.raises(ValueError, match=message):
            Later.from_dict(values)


@pytest.mark.parametrize(
    "text",
    [
        "common: {seeds: " + "x" * 100_000 + "}",
        "common: {model_config: {dim: " + "[" * 500 + "]" * 500 + "}}",
        "05_ablations: {ablations: [" + ", ".join(f"a{i}" for i in range(20_000)) + "]}",
        "notebooks: " + "y" * 100_000,
    ],
)
def test_huge_or_deep_values_give_a_bounded_message(tmp_path, text):
    with pytest.raises(RunnerError) as caught:
        check_param_file(_file(tmp_path, BASE.splitlines()[0] + "\n" + text), checks=CHECKS)
    assert len(str(caught.value)) < 700 and "\n" not in str(caught.value)
